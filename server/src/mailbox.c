#include "mailbox.h"

#include "accounts.h"
#include "b64.h"
#include "bus.h"
#include "config.h"
#include "db.h"
#include "devlist.h"
#include "log.h"
#include "store.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

_Static_assert(CONFIG_MAIL_TTL_DEFAULT == MAIL_TTL_DEFAULT && CONFIG_MAIL_TTL_LIMIT == MAIL_TTL_MAX &&
                   CONFIG_MAIL_BATCH_DEFAULT == MAIL_BATCH_DEFAULT &&
                   CONFIG_MAIL_BATCH_LIMIT == MAIL_BATCH_MAX &&
                   CONFIG_MAIL_QUOTA_DEFAULT == MAIL_QUOTA_COUNT &&
                   CONFIG_MAIL_QUOTA_MIB_DEFAULT == MAIL_QUOTA_MIB,
               "the configuration's mailbox limits are the mailbox's");

/* ---- Jobs: what the event loops hand the mailbox thread ------------------------------------ */

enum job_kind { JOB_PUT, JOB_ACK, JOB_ONLINE, JOB_OFFLINE, JOB_WAKE };

/* The longest "id" signaling echoes as "ref" (a string of up to 64 bytes, or a number) as JSON
 * text: every byte may print as \u00XX, between quotes. */
#define REF_TEXT_MAX (64 * 6 + 2)

struct job {
    enum job_kind kind;
    char user[USERNAME_MAX + 1]; /* the sender of a put; the recipient otherwise */
    uint32_t device;             /* user's device */
    unsigned long long cid;
    char to[USERNAME_MAX + 1];   /* put */
    uint32_t to_device;          /* put */
    char ref[REF_TEXT_MAX + 1];  /* put: the message's id as JSON text, or "" */
    unsigned char *envelope;     /* put */
    size_t len;
    long long ids[MAIL_ACK_IDS_MAX]; /* ack */
    size_t n_ids;
    struct job *next;
};

static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_cond = PTHREAD_COND_INITIALIZER;
static struct job *q_head;
static struct job **q_tail = &q_head;
static size_t q_bytes; /* envelope bytes queued */
static int q_stopping;
static pthread_t thread;
static int running;

static long long ttl_seconds = MAIL_TTL_DEFAULT;
static int batch_max = MAIL_BATCH_DEFAULT;
static struct store_quota quota = {MAIL_QUOTA_COUNT, (long long)MAIL_QUOTA_MIB * 1024 * 1024};
static mailbox_send_fn send_fn;

static const size_t size_classes[] = {512, 2048, 8192, 32768, 65536};

int mailbox_size_class(size_t len)
{
    for (size_t i = 0; i < sizeof size_classes / sizeof size_classes[0]; i++) {
        if (len == size_classes[i]) {
            return 1;
        }
    }
    return 0;
}

static void enqueue(struct job *j)
{
    pthread_mutex_lock(&q_lock);
    j->next = NULL;
    *q_tail = j;
    q_tail = &j->next;
    q_bytes += j->len;
    pthread_cond_signal(&q_cond);
    pthread_mutex_unlock(&q_lock);
}

static struct job *new_job(enum job_kind kind, const char *user, uint32_t device,
                           unsigned long long cid)
{
    struct job *j = calloc(1, sizeof *j);

    if (j != NULL) {
        j->kind = kind;
        j->device = device;
        j->cid = cid;
        snprintf(j->user, sizeof j->user, "%s", user);
    }
    return j;
}

static void free_job(struct job *j)
{
    if (j != NULL) {
        free(j->envelope);
        free(j);
    }
}

void mailbox_online(const char *user, uint32_t device, unsigned long long cid)
{
    struct job *j = new_job(JOB_ONLINE, user, device, cid);

    if (j != NULL) {
        enqueue(j);
    } else {
        log_msg(LOG_ERROR, "mailbox: out of memory: a connection gets no mail until it reconnects");
    }
}

void mailbox_wake(const char *user, uint32_t device)
{
    struct job *j = new_job(JOB_WAKE, user != NULL ? user : "", device, 0);

    if (j != NULL) {
        enqueue(j);
    }
}

void mailbox_offline(const char *user, uint32_t device, unsigned long long cid)
{
    struct job *j = new_job(JOB_OFFLINE, user, device, cid);

    if (j != NULL) {
        enqueue(j);
    }
}

const char *mailbox_put(const char *user, uint32_t device, unsigned long long cid,
                        const cJSON *msg, const cJSON *ref, const char **message)
{
    const cJSON *to = cJSON_GetObjectItemCaseSensitive(msg, "to");
    const cJSON *env = cJSON_GetObjectItemCaseSensitive(msg, "env");
    char folded[USERNAME_MAX + 1];
    uint32_t to_device = 0;
    size_t b64_len;
    struct job *j;
    int busy;

    if (!cJSON_IsString(to) || account_username_fold(to->valuestring, folded) == NULL) {
        *message = "to must be a valid username";
        return "invalid_recipient";
    }
    if (devlist_field(msg, "device", 0, &to_device) != 0) {
        *message = "device must be an integer from 1 to 2147483647";
        return "invalid_recipient";
    }
    /* To oneself only to another device named explicitly (one's own devices keeping in step). */
    if (strcmp(folded, user) == 0 && (to_device == 0 || to_device == device)) {
        *message = "an envelope cannot be addressed to yourself, only to another of your devices";
        return "invalid_recipient";
    }
    if (!cJSON_IsString(env)) {
        *message = "env must be a sealed envelope in base64url without padding";
        return "invalid_envelope";
    }
    b64_len = strlen(env->valuestring);
    if (b64_len > B64_LEN(MAIL_ENVELOPE_MAX)) {
        *message = "an envelope is at most 65536 bytes";
        return "too_large";
    }
    pthread_mutex_lock(&q_lock);
    busy = q_bytes + MAIL_ENVELOPE_MAX > MAIL_QUEUE_BYTES_MAX || q_stopping;
    pthread_mutex_unlock(&q_lock);
    if (busy) {
        *message = "the mailbox is busy; try again in a moment";
        return "server_busy";
    }
    j = new_job(JOB_PUT, user, device, cid);
    if (j != NULL) {
        j->envelope = malloc(b64_len * 3 / 4 + 1);
    }
    if (j == NULL || j->envelope == NULL) {
        free_job(j);
        *message = "out of memory";
        return "internal";
    }
    if (b64_decode(env->valuestring, b64_len, j->envelope, b64_len * 3 / 4 + 1, &j->len) != 0 ||
        !mailbox_size_class(j->len) || j->envelope[0] != MAIL_ENVELOPE_VERSION) {
        free_job(j);
        *message = "env must be a version 1 sealed envelope of 512, 2048, 8192, 32768 or 65536 "
                   "bytes in base64url without padding";
        return "invalid_envelope";
    }
    memcpy(j->to, folded, sizeof j->to);
    j->to_device = to_device != 0 ? to_device : 1; /* absent: device 1, as before devices */
    if (ref != NULL) {
        char *text = cJSON_PrintUnformatted(ref);
        if (text != NULL && strlen(text) < sizeof j->ref) {
            memcpy(j->ref, text, strlen(text) + 1);
        }
        cJSON_free(text);
    }
    enqueue(j);
    return NULL;
}

const char *mailbox_ack(const char *user, uint32_t device, unsigned long long cid,
                        const cJSON *msg, const char **message)
{
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(msg, "ids");
    const cJSON *item;
    struct job *j;

    if (!cJSON_IsArray(ids) || cJSON_GetArraySize(ids) < 1 ||
        cJSON_GetArraySize(ids) > MAIL_ACK_IDS_MAX) {
        *message = "mail-ack needs ids: an array of 1 to 256 envelope ids";
        return "invalid_message";
    }
    j = new_job(JOB_ACK, user, device, cid);
    if (j == NULL) {
        *message = "out of memory";
        return "internal";
    }
    cJSON_ArrayForEach(item, ids)
    {
        double v = cJSON_IsNumber(item) ? item->valuedouble : -1.0;
        if (!(v >= 1.0 && v <= 9007199254740991.0) || floor(v) != v) {
            free_job(j);
            *message = "envelope ids are positive integers";
            return "invalid_message";
        }
        j->ids[j->n_ids++] = (long long)v;
    }
    enqueue(j);
    return NULL;
}

/* ---- Delivery state of connected recipients (mailbox thread only) ------------------------- */

struct box {
    char user[USERNAME_MAX + 1];
    uint32_t device;
    long long uid;
    unsigned long long cid;
    long long cursor; /* the highest id delivered to this connection */
    size_t n_inflight;
    long long inflight_id[MAIL_WINDOW_COUNT];
    size_t inflight_len[MAIL_WINDOW_COUNT];
    size_t inflight_bytes;
    int dirty; /* may have something to deliver */
    struct box *next;
};

#define BOX_BUCKETS 4096
static struct box *boxes[BOX_BUCKETS];

static size_t box_bucket(const char *user)
{
    unsigned h = 2166136261u; /* FNV-1a */

    for (const unsigned char *p = (const unsigned char *)user; *p != '\0'; p++) {
        h = (h ^ *p) * 16777619u;
    }
    return h % BOX_BUCKETS;
}

static struct box *find_box(const char *user, uint32_t device)
{
    for (struct box *b = boxes[box_bucket(user)]; b != NULL; b = b->next) {
        if (b->device == device && strcmp(b->user, user) == 0) {
            return b;
        }
    }
    return NULL;
}

static void drop_box(const char *user, uint32_t device)
{
    for (struct box **p = &boxes[box_bucket(user)]; *p != NULL; p = &(*p)->next) {
        if ((*p)->device == device && strcmp((*p)->user, user) == 0) {
            struct box *b = *p;
            *p = b->next;
            free(b);
            return;
        }
    }
}

static void go_online(const struct job *j)
{
    struct box *b = find_box(j->user, j->device);
    long long uid = 0;

    if (store_device_listed(j->user, j->device, &uid) != 1) {
        return; /* not listed (any more): no mailbox */
    }
    if (b == NULL) {
        b = calloc(1, sizeof *b);
        if (b == NULL) {
            log_msg(LOG_ERROR, "mailbox: out of memory: a connection gets no mail");
            return;
        }
        snprintf(b->user, sizeof b->user, "%s", j->user);
        b->device = j->device;
        b->next = boxes[box_bucket(j->user)];
        boxes[box_bucket(j->user)] = b;
    }
    /* A new connection starts from the beginning: what the old one was sent but did not
     * acknowledge is sent again (at least once; the page drops what it has already). */
    b->uid = uid;
    b->cid = j->cid;
    b->cursor = 0;
    b->n_inflight = 0;
    b->inflight_bytes = 0;
    b->dirty = 1;
}

static void go_offline(const struct job *j)
{
    struct box *b = find_box(j->user, j->device);

    if (b != NULL && b->cid == j->cid) {
        drop_box(j->user, j->device);
    }
}

static void acked(struct box *b, long long id)
{
    for (size_t i = 0; i < b->n_inflight; i++) {
        if (b->inflight_id[i] == id) {
            b->inflight_bytes -= b->inflight_len[i];
            b->n_inflight--;
            b->inflight_id[i] = b->inflight_id[b->n_inflight];
            b->inflight_len[i] = b->inflight_len[b->n_inflight];
            b->dirty = 1;
            return;
        }
    }
}

/* One delivery message built while the store is read, sent once it is no longer. */
struct outgoing {
    long long id;
    size_t env_len;
    size_t len;
    struct outgoing *next;
    char text[]; /* {"type":"mail","id":N,"env":"B64"} */
};

struct deliver_ctx {
    struct outgoing *head;
    struct outgoing **tail;
    size_t first_max; /* the largest first envelope that fits the window */
    int failed;
};

static int collect_one(void *arg, long long id, const unsigned char *envelope, size_t len)
{
    struct deliver_ctx *d = arg;
    size_t cap = B64_LEN(len) + 64;
    struct outgoing *o;
    int n;

    if (d->head == NULL && len > d->first_max) {
        return 1; /* store_mail_fetch lets the first one pass its byte limit */
    }
    o = malloc(sizeof *o + cap);
    if (o == NULL) {
        d->failed = 1;
        return 1;
    }
    n = snprintf(o->text, cap, "{\"type\":\"mail\",\"id\":%lld,\"env\":\"", id);
    o->len = (size_t)n;
    if (b64_encode(o->text + o->len, cap - o->len, envelope, len) != 0) {
        free(o);
        d->failed = 1;
        return 1;
    }
    o->len += strlen(o->text + o->len);
    memcpy(o->text + o->len, "\"}", 3);
    o->len += 2;
    o->id = id;
    o->env_len = len;
    o->next = NULL;
    *d->tail = o;
    d->tail = &o->next;
    return 0;
}

/* Sends b what fits its window. */
static void fill(struct box *b)
{
    struct deliver_ctx d = {NULL, &d.head, (size_t)-1, 0};
    size_t room_count;
    size_t room_bytes;
    int gone = 0;

    b->dirty = 0;
    if (b->n_inflight >= MAIL_WINDOW_COUNT ||
        (b->n_inflight > 0 && b->inflight_bytes + MAIL_ENVELOPE_MIN > MAIL_WINDOW_BYTES)) {
        return;
    }
    room_count = MAIL_WINDOW_COUNT - b->n_inflight;
    room_bytes = MAIL_WINDOW_BYTES - b->inflight_bytes;
    /* At least one envelope when none is unacknowledged; otherwise it must fit what is left. */
    if (b->n_inflight > 0) {
        d.first_max = room_bytes;
    }
    if (store_mail_fetch(b->uid, b->device, b->cursor, db_now(), room_count, room_bytes,
                         collect_one, &d) < 0 ||
        d.failed) {
        b->dirty = 1; /* tried again with the next job */
    }
    while (d.head != NULL) {
        struct outgoing *o = d.head;
        d.head = o->next;
        if (!gone && send_fn(b->user, b->cid, o->text, o->len) == 0) {
            b->cursor = o->id;
            b->inflight_id[b->n_inflight] = o->id;
            b->inflight_len[b->n_inflight] = o->env_len;
            b->n_inflight++;
            b->inflight_bytes += o->env_len;
        } else {
            gone = 1;
        }
        free(o);
    }
    if (gone) {
        drop_box(b->user, b->device); /* its offline job follows */
    }
}

/* ---- The mailbox thread -------------------------------------------------------------------- */

/* Answers a put: mail-stored or an error, with the message's ref. */
static void answer(const struct job *j, const char *code, const char *message)
{
    char text[256 + REF_TEXT_MAX];
    const char *ref_key = j->ref[0] != '\0' ? ",\"ref\":" : "";
    int n;

    if (code == NULL) {
        n = snprintf(text, sizeof text, "{\"type\":\"mail-stored\"%s%s}", ref_key, j->ref);
    } else {
        n = snprintf(text, sizeof text,
                     "{\"type\":\"error\",\"code\":\"%s\",\"message\":\"%s\"%s%s}", code,
                     message, ref_key, j->ref);
    }
    if (n > 0 && (size_t)n < sizeof text) {
        (void)send_fn(j->user, j->cid, text, (size_t)n);
    }
}

/* Stores puts[0..n) (jobs[i] each) in transactions of at most batch_max, answers their senders
 * and marks the recipients' boxes. */
static void store_puts(struct job **jobs, struct store_put *puts, size_t n)
{
    for (size_t at = 0; at < n; at += (size_t)batch_max) {
        size_t k = n - at < (size_t)batch_max ? n - at : (size_t)batch_max;
        (void)store_mail_put_batch(puts + at, k, &quota);
    }
    for (size_t i = 0; i < n; i++) {
        struct box *b;
        switch (puts[i].result) {
        case STORE_OK:
            answer(jobs[i], NULL, NULL);
            b = find_box(jobs[i]->to, jobs[i]->to_device);
            if (b != NULL) {
                b->dirty = 1;
            } else {
                bus_mail(jobs[i]->to, jobs[i]->to_device); /* connected elsewhere, perhaps */
            }
            break;
        case STORE_FULL:
            answer(jobs[i], "mailbox_full",
                   "the recipient's mailbox is full; try again after they have read their mail");
            break;
        default:
            answer(jobs[i], "internal", "the envelope could not be stored; try again");
            break;
        }
    }
}

static long long expiry(long long now)
{
    /* Rounded up to the hour for the default lifetime, so the row's time says little about
     * when it was sent. */
    long long at = now + ttl_seconds;
    long long grain = ttl_seconds >= 86400 ? 3600 : 1;

    return (at + grain - 1) / grain * grain;
}

/* Handles one batch of jobs taken from the queue. */
static void run_jobs(struct job *list)
{
    size_t n_put = 0;
    size_t n_ack = 0;
    size_t cap_put = 0;
    size_t cap_ack = 0;
    struct job **put_jobs = NULL;
    struct store_put *puts = NULL;
    struct store_ack *acks = NULL;
    long long now = db_now();

    for (struct job *j = list; j != NULL; j = j->next) {
        if (j->kind == JOB_PUT) {
            cap_put++;
        } else if (j->kind == JOB_ACK) {
            cap_ack += j->n_ids;
        }
    }
    put_jobs = calloc(cap_put + 1, sizeof(struct job *));
    puts = calloc(cap_put + 1, sizeof *puts);
    acks = calloc(cap_ack + 1, sizeof *acks);
    for (struct job *j = list; j != NULL; j = j->next) {
        long long uid = 0;
        struct box *b;
        switch (j->kind) {
        case JOB_ONLINE:
            go_online(j);
            break;
        case JOB_OFFLINE:
            go_offline(j);
            break;
        case JOB_WAKE:
            if (j->user[0] == '\0') {
                for (size_t i = 0; i < BOX_BUCKETS; i++) {
                    for (b = boxes[i]; b != NULL; b = b->next) {
                        b->dirty = 1;
                    }
                }
            } else if ((b = find_box(j->user, j->device)) != NULL) {
                b->dirty = 1;
            }
            break;
        case JOB_PUT:
            if (puts == NULL || put_jobs == NULL) {
                answer(j, "internal", "out of memory");
                break;
            }
            switch (store_device_listed(j->to, j->to_device, &uid)) {
            case 1:
                put_jobs[n_put] = j;
                puts[n_put].recipient_id = uid;
                puts[n_put].recipient_device = j->to_device;
                puts[n_put].envelope = j->envelope;
                puts[n_put].len = j->len;
                puts[n_put].expires_at = expiry(now);
                n_put++;
                break;
            case 0:
                /* Answered like a stored envelope, and dropped: the mailbox tells nobody who
                 * exists, nor which devices (a page only mails devices whose keys it fetched). */
                answer(j, NULL, NULL);
                break;
            default:
                answer(j, "internal", "the envelope could not be stored; try again");
                break;
            }
            break;
        case JOB_ACK:
            b = find_box(j->user, j->device);
            if (b != NULL) {
                uid = b->uid;
            } else if (accounts_exists(j->user, &uid) != 1) {
                break;
            }
            for (size_t i = 0; i < j->n_ids && acks != NULL; i++) {
                acks[n_ack].recipient_id = uid;
                acks[n_ack].recipient_device = j->device;
                acks[n_ack].id = j->ids[i];
                n_ack++;
                if (b != NULL) {
                    acked(b, j->ids[i]);
                }
            }
            break;
        }
    }
    if (n_ack > 0) {
        size_t deleted = 0;
        (void)store_mail_ack_batch(acks, n_ack, &deleted);
    }
    if (n_put > 0) {
        store_puts(put_jobs, puts, n_put);
    }
    for (size_t i = 0; i < BOX_BUCKETS; i++) {
        struct box *next;
        for (struct box *b = boxes[i]; b != NULL; b = next) {
            next = b->next; /* fill may drop b */
            if (b->dirty) {
                fill(b);
            }
        }
    }
    free(put_jobs);
    free(puts);
    free(acks);
}

static void sweep(void)
{
    long long swept = store_mail_sweep(db_now());
    long long forgotten = store_devices_sweep(db_now());

    if (swept > 0) {
        log_msg(LOG_INFO, "mailbox: %lld expired envelopes deleted", swept);
    }
    if (forgotten > 0) {
        log_msg(LOG_INFO, "devices: %lld pending for a day forgotten", forgotten);
    }
}

static void *mailbox_main(void *arg)
{
    long long sweep_every = ttl_seconds / 4 < 3600 ? (ttl_seconds / 4 > 0 ? ttl_seconds / 4 : 1)
                                                   : 3600;
    time_t next_sweep = 0;

    (void)arg;
    pthread_mutex_lock(&q_lock);
    for (;;) {
        struct job *list;
        struct job *last;
        size_t taken = 0;
        int n_puts = 0;

        while (q_head == NULL && !q_stopping && time(NULL) < next_sweep) {
            struct timespec until = {next_sweep, 0};
            pthread_cond_timedwait(&q_cond, &q_lock, &until);
        }
        if (q_head == NULL && q_stopping) {
            break;
        }
        /* Take what is queued, at most a few batches of puts at a time. */
        list = q_head;
        last = NULL;
        for (struct job *p = q_head; p != NULL; p = p->next) {
            if (p->kind == JOB_PUT && ++n_puts > 4 * batch_max) {
                break;
            }
            taken += p->len;
            last = p;
        }
        if (last != NULL) {
            q_head = last->next;
            last->next = NULL;
        } else {
            list = NULL;
        }
        if (q_head == NULL) {
            q_tail = &q_head;
        }
        q_bytes -= taken;
        pthread_mutex_unlock(&q_lock);

        if (list != NULL) {
            run_jobs(list);
        }
        while (list != NULL) {
            struct job *next = list->next;
            free_job(list);
            list = next;
        }
        if (time(NULL) >= next_sweep) {
            sweep();
            next_sweep = time(NULL) + sweep_every;
        }
        pthread_mutex_lock(&q_lock);
    }
    pthread_mutex_unlock(&q_lock);
    for (size_t i = 0; i < BOX_BUCKETS; i++) {
        while (boxes[i] != NULL) {
            struct box *b = boxes[i];
            boxes[i] = b->next;
            free(b);
        }
    }
    return NULL;
}

int mailbox_init(const struct mailbox_config *cfg, mailbox_send_fn send)
{
    if (cfg->ttl < 1 || cfg->ttl > MAIL_TTL_MAX || cfg->batch < 1 || cfg->batch > MAIL_BATCH_MAX ||
        cfg->quota < 1 || cfg->quota_mib < 1 || send == NULL) {
        return -1;
    }
    ttl_seconds = cfg->ttl;
    batch_max = cfg->batch;
    quota.max_count = cfg->quota;
    quota.max_bytes = cfg->quota_mib * 1024 * 1024;
    send_fn = send;
    q_stopping = 0;
    if (pthread_create(&thread, NULL, mailbox_main, NULL) != 0) {
        return -1;
    }
    running = 1;
    return 0;
}

void mailbox_shutdown(void)
{
    if (!running) {
        return;
    }
    pthread_mutex_lock(&q_lock);
    q_stopping = 1;
    pthread_cond_signal(&q_cond);
    pthread_mutex_unlock(&q_lock);
    pthread_join(thread, NULL);
    running = 0;
}
