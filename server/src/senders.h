/*
 * What one sender may send (internal to signaling.c and messages.c, on client.h's struct client):
 * the message rate of an account across all its connections (a new connection starts with what
 * the account has left, not a full bucket), of a connection before it authenticates, with pings
 * and other control frames counted like messages; and what someone who is not an accepted
 * contact of the recipient may send it: chat requests only (chat-request, chat-offer,
 * chat-accept, chat-decline and mailed envelopes), a bounded number per sender and recipient and
 * in total per recipient. Who is accepted comes from presence (presence_accepted): the server
 * keeps no contact list.
 */
#ifndef PARLEY_SERVER_SENDERS_H
#define PARLEY_SERVER_SENDERS_H

struct client;

/* Chat requests a stranger may send one recipient: a burst, then one every LIMITS_PAIR_EVERY s. */
#define LIMITS_PAIR_BURST 10.0
#define LIMITS_PAIR_EVERY 360.0
/* Chat requests from all strangers together one recipient takes: a burst, then one a minute. */
#define LIMITS_RECIPIENT_BURST 60.0
#define LIMITS_RECIPIENT_EVERY 60.0

/* Control frames (pings, pongs) a connection may send in a second; one more closes it. */
#define LIMITS_CONTROL_PER_SECOND 20
/* Messages refused for their rate in a second after which the connection is closed. */
#define LIMITS_REFUSED_PER_SECOND 200

/* The tables (sized for max_connections). 0 or -1. */
int limits_init(int max_connections);
void limits_shutdown(void);

/* A frame from c (a message, or a control frame when control): 1 admitted, 0 refused now (too
 * fast), -1 to close the connection (it has gone on far too fast for seconds). */
int limits_admit(struct client *c, int control);

/* 1 for the first refusal of the current second (the one the client is told of). */
int limits_refusal_first(const struct client *c);

/* 1 when c's user is an accepted contact of to, or is to (a message to one's own devices). */
int limits_accepted(struct client *c, const char *to);

/*
 * Whether c may send to a message of type (NULL for a mailed envelope): NULL when it may, else an
 * error code with *message and *retry_after (seconds, 0 when waiting does not help).
 * "not_accepted": only chat requests go to someone who has not accepted the sender;
 * "too_many_requests": the chat requests allowed are spent for now. Per account on both sides:
 * any device of either may have made them contacts.
 */
const char *limits_check_send(struct client *c, const char *to, const char *type,
                              const char **message, int *retry_after);

#endif
