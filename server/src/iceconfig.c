/* GET /api/config: STUN for everyone, TURN with a short-lived credential for a logged-in page. */
#include "iceconfig.h"

#include "accounts.h"
#include "api.h"
#include "http.h"
#include "log.h"
#include "ratelimit.h"
#include "turn.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define ISSUE_SLOTS 4096 /* accounts tracked by the issuing throttle */

static char stun_servers[CONFIG_STUN_MAX][CONFIG_STUN_LEN];
static int n_stun_servers;
static char turn_servers[CONFIG_TURN_MAX][CONFIG_TURN_LEN];
static int n_turn_servers;
static struct rl_table *issued; /* per account: credentials issued */

int iceconfig_init(const struct config *cfg)
{
    if (cfg->n_stun < 0 || cfg->n_stun > CONFIG_STUN_MAX || cfg->n_turn < 0 ||
        cfg->n_turn > CONFIG_TURN_MAX) {
        return -1;
    }
    for (int i = 0; i < cfg->n_stun; i++) {
        snprintf(stun_servers[i], sizeof stun_servers[i], "%s", cfg->stun[i]);
    }
    n_stun_servers = cfg->n_stun;
    for (int i = 0; i < cfg->n_turn; i++) {
        snprintf(turn_servers[i], sizeof turn_servers[i], "%s", cfg->turn[i]);
    }
    n_turn_servers = cfg->n_turn;
    if (n_turn_servers > 0) {
        issued = rl_create(ISSUE_SLOTS, TURN_ISSUE_BURST, TURN_ISSUE_PER_SECOND);
        if (issued == NULL) {
            return -1;
        }
    }
    return 0;
}

void iceconfig_shutdown(void)
{
    rl_free(issued);
    issued = NULL;
}

/* The account of a valid "Authorization: Bearer" token, if any (nothing is sent: without one
 * the answer simply has no relay). */
static int bearer_account(struct mg_connection *conn, struct account *acc)
{
    const char *token = accounts_bearer_token(conn);

    return token != NULL && accounts_verify_token(token, acc) == AUTH_OK;
}

/* {"urls":[...]} of list[0..n), with username and credential when given. */
static cJSON *server_entry(cJSON *servers, const char *list, size_t stride, int n,
                           const char *username, const char *credential)
{
    cJSON *entry = cJSON_CreateObject();
    cJSON *urls;

    if (entry == NULL || !cJSON_AddItemToArray(servers, entry)) {
        cJSON_Delete(entry);
        return NULL;
    }
    urls = cJSON_AddArrayToObject(entry, "urls");
    for (int i = 0; urls != NULL && i < n; i++) {
        cJSON *url = cJSON_CreateString(list + (size_t)i * stride);
        if (url == NULL || !cJSON_AddItemToArray(urls, url)) {
            cJSON_Delete(url);
            return NULL;
        }
    }
    if (urls == NULL || (username != NULL &&
                         (cJSON_AddStringToObject(entry, "username", username) == NULL ||
                          cJSON_AddStringToObject(entry, "credential", credential) == NULL))) {
        return NULL;
    }
    return entry;
}

int iceconfig_get(struct mg_connection *conn)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *servers = cJSON_AddArrayToObject(root, "iceServers");
    struct account acc;
    int ok = servers != NULL;

    if (ok && n_stun_servers > 0) {
        ok = server_entry(servers, stun_servers[0], sizeof stun_servers[0], n_stun_servers, NULL,
                          NULL) != NULL;
    }
    if (ok && n_turn_servers > 0 && turn_enabled() && bearer_account(conn, &acc)) {
        char username[TURN_USERNAME_LEN];
        char credential[TURN_CREDENTIAL_LEN];
        long long expires_at;
        int wait = rl_take(issued, acc.username, rl_now());

        if (wait != 0) {
            cJSON_Delete(root);
            return api_send_throttled(conn, wait);
        }
        if (turn_issue(acc.username, (long long)time(NULL), username, credential, &expires_at) !=
            0) {
            cJSON_Delete(root);
            return http_send_error(conn, 500, "internal", "relay credentials unavailable");
        }
        ok = server_entry(servers, turn_servers[0], sizeof turn_servers[0], n_turn_servers,
                          username, credential) != NULL &&
             cJSON_AddNumberToObject(root, "turnExpiresAt", (double)expires_at) != NULL;
        sodium_memzero(credential, sizeof credential);
    }
    if (!ok) {
        cJSON_Delete(root);
        return http_send_error(conn, 500, "internal", "out of memory");
    }
    return api_send_object(conn, 200, root);
}
