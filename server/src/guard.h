/*
 * Per-address limits on what one client address may hold at once (an IPv4 address, or an IPv6
 * /64: rl_address_key): WebSocket connections in all, unauthenticated WebSocket connections
 * (also counted across all addresses, so that they can never take the slots of authenticated
 * users), and HTTP connections held by Civetweb's workers (requests in progress, or a
 * keep-alive connection between two). The counts live in memory only; an address is forgotten
 * as soon as it holds nothing.
 */
#ifndef PARLEY_SERVER_GUARD_H
#define PARLEY_SERVER_GUARD_H

/* Unauthenticated WebSocket connections one address may hold. */
#define GUARD_WS_UNAUTH_PER_ADDRESS 16
/* WebSocket upgrades one address may make: a burst, then this many a second (reconnecting to
 * start afresh costs an authentication each time); more when --max-per-address is larger than
 * the burst (then that many, and a quarter of it a second). */
#define GUARD_WS_UPGRADE_BURST 40.0
#define GUARD_WS_UPGRADE_RATE 20.0

struct guard_limits {
    int ws_per_address;        /* WebSocket connections per address (--max-per-address) */
    int ws_unauth_total;       /* unauthenticated WebSocket connections, all addresses */
    int http_per_address;      /* HTTP connections per address (--max-http-per-address) */
};

enum guard_verdict {
    GUARD_OK = 0,
    GUARD_ADDRESS_FULL,  /* the address holds its share of connections already */
    GUARD_UNAUTH_FULL,   /* too many connections are waiting to authenticate */
    GUARD_TOO_FAST       /* the address has opened too many connections lately */
};

/* Sets the limits (and clears the counts). 0, or -1 when out of memory. */
int guard_init(const struct guard_limits *limits);
void guard_shutdown(void);

/* Whether a WebSocket from addr would be taken now (nothing is counted but the upgrade itself,
 * against GUARD_WS_UPGRADE_RATE): Civetweb's connect handler refuses the upgrade with it. */
enum guard_verdict guard_ws_check(const char *addr);

/* Counts a new, unauthenticated WebSocket from addr when the limits allow it. */
enum guard_verdict guard_ws_open(const char *addr);

/* One of addr's WebSockets authenticated: it no longer counts as unauthenticated. */
void guard_ws_authed(const char *addr);

/* One of addr's WebSockets closed (authed: whether guard_ws_authed was called for it). */
void guard_ws_closed(const char *addr, int authed);

/* Counts an HTTP connection from addr taken by a worker: 0, or -1 (not counted) when addr holds
 * its share already. */
int guard_http_enter(const char *addr);
void guard_http_leave(const char *addr);

/* Unauthenticated WebSocket connections now, all addresses together. */
int guard_ws_unauth_count(void);

#endif
