#include "senders.h"

#include "client.h"
#include "presence.h"
#include "signaling.h"

#include <stdio.h>
#include <string.h>

static struct rl_table *accounts;   /* message buckets by account */
static struct rl_table *pairs;      /* chat requests by sender and recipient */
static struct rl_table *recipients; /* chat requests by recipient, all strangers together */

int limits_init(int max_connections)
{
    size_t slots = (size_t)max_connections * 2 + 64;

    limits_shutdown();
    accounts = rl_create(slots, WS_BURST, WS_RATE);
    pairs = rl_create(slots * 4, LIMITS_PAIR_BURST, 1.0 / LIMITS_PAIR_EVERY);
    recipients = rl_create(slots, LIMITS_RECIPIENT_BURST, 1.0 / LIMITS_RECIPIENT_EVERY);
    return accounts != NULL && pairs != NULL && recipients != NULL ? 0 : -1;
}

void limits_shutdown(void)
{
    rl_free(accounts);
    rl_free(pairs);
    rl_free(recipients);
    accounts = NULL;
    pairs = NULL;
    recipients = NULL;
}

int limits_admit(struct client *c, int control)
{
    double now = rl_now();
    int ok;

    if (now - c->window_start >= 1.0) {
        if (c->window_msgs > (int)(WS_ABUSE_FACTOR * WS_RATE)) {
            c->abusive_windows++;
        } else {
            c->abusive_windows = 0;
        }
        c->window_start = now;
        c->window_msgs = 0;
        c->window_refused = 0;
        c->window_controls = 0;
    }
    c->window_msgs++;
    /* A page pings every 25 s, and answers the server's pings: a stream of control frames is
     * nothing but load, so it ends the connection at once. */
    if (control && ++c->window_controls > LIMITS_CONTROL_PER_SECOND) {
        return -1;
    }
    if (c->abusive_windows >= WS_ABUSE_SECONDS) {
        return -1;
    }
    if (c->authed) {
        /* The account's bucket: reconnecting does not refill it. */
        ok = rl_take(accounts, c->user, now) == 0;
    } else {
        ok = rl_bucket_take(&c->bucket, WS_BURST, WS_RATE, now) == 0;
    }
    if (ok) {
        return 1;
    }
    /* Refused: told once a second at most (limits_refusal_told); far more refusals than a page
     * that backs off ever gets end the connection. */
    if (++c->window_refused > LIMITS_REFUSED_PER_SECOND) {
        return -1;
    }
    return 0;
}

int limits_refusal_first(const struct client *c)
{
    return c->window_refused == 1;
}

int limits_accepted(struct client *c, const char *to)
{
    unsigned gen = presence_generation();

    if (strcmp(to, c->user) == 0) {
        return 1;
    }
    if (c->accepted_valid && c->accepted_gen == gen && strcmp(c->accepted_to, to) == 0) {
        return 1;
    }
    if (!presence_accepted(c->user, to)) {
        return 0;
    }
    snprintf(c->accepted_to, sizeof c->accepted_to, "%s", to);
    c->accepted_gen = gen;
    c->accepted_valid = 1;
    return 1;
}

static int is_request_type(const char *type)
{
    static const char *const request_types[] = {"chat-request", "chat-offer", "chat-accept",
                                                 "chat-decline"};

    for (size_t i = 0; i < sizeof request_types / sizeof request_types[0]; i++) {
        if (strcmp(type, request_types[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

const char *limits_check_send(struct client *c, const char *to, const char *type,
                              const char **message, int *retry_after)
{
    char key[RL_KEY_MAX + 1];
    double now = rl_now();
    int wait;

    *retry_after = 0;
    if (limits_accepted(c, to)) {
        return NULL;
    }
    if (type != NULL && !is_request_type(type)) {
        *message = "they have not accepted a chat with you: only chat requests can be sent to "
                   "them until they do";
        return "not_accepted";
    }
    snprintf(key, sizeof key, "%s>%s", c->user, to);
    wait = rl_take(pairs, key, now);
    if (wait == 0) {
        wait = rl_take(recipients, to, now);
    }
    if (wait != 0) {
        *message = "too many chat requests to them for now; try again later";
        *retry_after = wait;
        return "too_many_requests";
    }
    return NULL;
}
