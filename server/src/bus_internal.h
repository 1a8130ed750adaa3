/*
 * The instance bus inside (bus.h outside): what its two halves tell each other.
 *
 *   bus_directory.c  who is where: the users this instance holds (announced to the others), the
 *                    other instances and their users (from their announcements), the instances
 *                    that asked for an announcement, the handlers; the relay and presence
 *                    answers the event loops call.
 *   bus_redis.c      Redis: the --bus URL, this instance's id and channels, the bounded publish
 *                    queue, connecting with backoff, the publisher and subscriber threads, start
 *                    and stop.
 *
 * Each keeps its state to itself; the other half reaches it only through these functions.
 *
 * Locks, and the only order in which two are ever held together:
 *   local_lock (directory: local users)  before  q_lock (redis: the publish queue):
 *       announcing a local user queues its message with local_lock held.
 *   remote_lock (directory: instances and remote users) and askers_lock (directory): nothing
 *       else is taken while one of them is held.
 * No handler (struct bus_handlers) is called with any of them held.
 */
#ifndef PARLEY_SERVER_BUS_INTERNAL_H
#define PARLEY_SERVER_BUS_INTERNAL_H

#include "bus.h"

/* ---- The directory (bus_directory.c), for the Redis half ------------------------------------ */

/* Allocates the remote table and keeps the handlers (bus_start). 0 or -1. */
int bus_dir_init(const struct bus_handlers *h);

/* Frees every table, telling no handler (bus_stop, after the threads ended). */
void bus_dir_free(void);

/* A message from another instance, parsed (subscriber thread): the instance is recorded as heard
 * from, then the message acted on (the handlers for RELAY, DELIVER and NOTICE). */
void bus_dir_heard(const struct bus_msg *m);

/* The subscription was lost: every other instance and its users are forgotten (told to the
 * user handler). */
void bus_dir_forget_all(void);

/* Instances silent for BUS_DEAD_AFTER seconds are forgotten (subscriber thread). */
void bus_dir_forget_silent(void);

/* The subscription is (back) up: wake-ups of mail may have been lost meanwhile, so every mailbox
 * looks again (the notice handler, with BUS_NOTICE_MAIL and no user). */
void bus_dir_recheck_mail(void);

/* Queues the USER message of every local user for every instance (publisher thread). */
void bus_dir_announce(void);

/* 1 when instances asked (SYNC) for this instance's users and were not answered yet. */
int bus_dir_have_askers(void);

/* Answers them, each on its own channel (publisher thread). */
void bus_dir_answer_askers(void);

/* Monotonic seconds. */
double bus_now(void);

/* ---- Redis (bus_redis.c), for the directory ------------------------------------------------ */

/* Stamps m as this instance's (m->from), encodes it and queues it for every instance (to NULL)
 * or one. 0, or -1 when dropped (counted) or not encodable. */
int bus_send(const unsigned char *to, struct bus_msg *m);

/* The same for each of to[0..n) (m encoded once). Returns how many it was queued for; n 0: m is
 * left as it is. */
int bus_send_each(const unsigned char (*to)[BUS_ID_BYTES], int n, struct bus_msg *m);

/* Wakes the publisher (an instance asked for an announcement). */
void bus_wake_publisher(void);

#endif
