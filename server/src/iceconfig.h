/*
 * GET /api/config: what the page needs of this server's setup, in the form RTCPeerConnection
 * takes: the STUN servers (--stun) for everyone, and, for a page that sends a valid token while
 * TURN relays are configured (--turn, --turn-secret-file), the relays with a credential of their
 * own (turn.h) and when it expires. Issuing is throttled per account.
 */
#ifndef PARLEY_SERVER_ICECONFIG_H
#define PARLEY_SERVER_ICECONFIG_H

#include "config.h"

#include <civetweb.h>

/* Keeps the STUN and TURN servers of cfg (turn_init has run when TURN is configured). 0, or -1
 * for counts out of range or no memory. */
int iceconfig_init(const struct config *cfg);

void iceconfig_shutdown(void);

/* The GET /api/config handler. */
int iceconfig_get(struct mg_connection *conn);

#endif
