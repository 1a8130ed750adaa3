#include "tls.h"

#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CERT_DAYS 825

static char cert_file[4200];
static char key_file[4200];

void tls_set_files(const char *cert_path, const char *key_path)
{
    snprintf(cert_file, sizeof cert_file, "%s", cert_path);
    snprintf(key_file, sizeof key_file, "%s", key_path);
}

static void openssl_error(char *err, size_t errlen, const char *what)
{
    char buf[256];
    unsigned long e = ERR_get_error();

    ERR_error_string_n(e, buf, sizeof buf);
    snprintf(err, errlen, "%s: %s", what, e != 0 ? buf : "unknown OpenSSL error");
    ERR_clear_error();
}

int tls_init_ssl(void *ssl_ctx, void *user_data)
{
    SSL_CTX *ctx = ssl_ctx;
    char err[320];

    (void)user_data;
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
        openssl_error(err, sizeof err, "cannot load the TLS certificate");
        log_msg(LOG_ERROR, "%s (%s)", err, cert_file);
        return -1;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        openssl_error(err, sizeof err, "cannot load the TLS key or it does not match");
        log_msg(LOG_ERROR, "%s (%s)", err, key_file);
        return -1;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* TLS 1.2: forward-secret AEAD suites only (no CBC, no SHA-1 MACs, no static RSA key
     * exchange). TLS 1.3's suites are all of that kind already. */
    if (SSL_CTX_set_cipher_list(ctx, TLS_CIPHERS_12) != 1) {
        openssl_error(err, sizeof err, "cannot set the TLS 1.2 cipher suites");
        log_msg(LOG_ERROR, "%s", err);
        return -1;
    }
    /* A WebSocket idles most of its life: give its record buffers (about 33 KiB, measured with
     * bench/server/memory.mjs --tls) back while they are empty instead of holding them. */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    return 1; /* set up: Civetweb loads nothing itself */
}

static int add_san(X509 *cert, const char *host)
{
    char san[256];
    X509_EXTENSION *ext;
    X509V3_CTX v3;
    int ok;

    if (strcmp(host, "127.0.0.1") == 0 || strcmp(host, "::1") == 0 || strcmp(host, "0.0.0.0") == 0 ||
        strcmp(host, "::") == 0) {
        snprintf(san, sizeof san, "DNS:localhost,IP:127.0.0.1,IP:::1");
    } else {
        snprintf(san, sizeof san, "DNS:localhost,IP:127.0.0.1,IP:::1,IP:%s", host);
    }
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, cert, cert, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
    if (ext == NULL) {
        return -1;
    }
    ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok == 1 ? 0 : -1;
}

static X509 *make_cert(EVP_PKEY *key, const char *host)
{
    X509 *cert = X509_new();
    X509_NAME *name;
    unsigned char serial[16];
    BIGNUM *bn = NULL;
    FILE *urandom;
    int ok = 0;

    if (cert == NULL) {
        return NULL;
    }
    urandom = fopen("/dev/urandom", "rb");
    if (urandom != NULL && fread(serial, 1, sizeof serial, urandom) == sizeof serial) {
        serial[0] &= 0x7f;
        bn = BN_bin2bn(serial, sizeof serial, NULL);
    }
    if (urandom != NULL) {
        fclose(urandom);
    }
    name = X509_get_subject_name(cert);
    if (bn != NULL && X509_set_version(cert, 2) == 1 &&
        BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != NULL &&
        X509_gmtime_adj(X509_getm_notBefore(cert), -3600) != NULL &&
        X509_gmtime_adj(X509_getm_notAfter(cert), (long)CERT_DAYS * 24 * 3600) != NULL &&
        X509_set_pubkey(cert, key) == 1 &&
        X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"Parley", -1,
                                   -1, 0) == 1 &&
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   (const unsigned char *)"Parley self-signed", -1, -1, 0) == 1 &&
        X509_set_issuer_name(cert, name) == 1 && add_san(cert, host) == 0 &&
        X509_sign(cert, key, EVP_sha256()) > 0) {
        ok = 1;
    }
    BN_free(bn);
    if (!ok) {
        X509_free(cert);
        return NULL;
    }
    return cert;
}

/* Writes with PEM into a new file of the given mode (never over an existing one). */
static FILE *create_file(const char *path, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);

    if (fd < 0) {
        return NULL;
    }
    return fdopen(fd, "w");
}

static int finish_file(FILE *f)
{
    int ok = fflush(f) == 0 && fsync(fileno(f)) == 0;

    return (fclose(f) == 0 && ok) ? 0 : -1;
}

/* Writes key or cert as PEM into a new file of the given mode. 0, or -1 with err set. */
static int write_pem(const char *path, mode_t mode, EVP_PKEY *key, X509 *cert, char *err,
                     size_t errlen)
{
    FILE *f = create_file(path, mode);
    int written;

    if (f == NULL) {
        snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    written = key != NULL ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) == 1
                          : PEM_write_X509(f, cert) == 1;
    if (finish_file(f) != 0 || !written) {
        snprintf(err, errlen, "cannot write %s", path);
        unlink(path);
        return -1;
    }
    return 0;
}

int tls_self_signed(const char *dir, const char *host, char *cert_path, char *key_path,
                    size_t path_len, char *err, size_t errlen)
{
    struct stat st;
    int have_cert;
    int have_key;
    EVP_PKEY *key;
    X509 *cert;
    int rc = -1;

    if ((size_t)snprintf(cert_path, path_len, "%s/tls-cert.pem", dir) >= path_len ||
        (size_t)snprintf(key_path, path_len, "%s/tls-key.pem", dir) >= path_len) {
        snprintf(err, errlen, "data folder path too long");
        return -1;
    }
    have_cert = stat(cert_path, &st) == 0;
    have_key = stat(key_path, &st) == 0;
    if (have_cert && have_key) {
        return 0;
    }
    if (have_cert || have_key) {
        snprintf(err, errlen, "only one of %s and %s exists; remove it to generate a new pair",
                 cert_path, key_path);
        return -1;
    }
    key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (key == NULL) {
        openssl_error(err, errlen, "cannot generate a key");
        return -1;
    }
    cert = make_cert(key, host);
    if (cert == NULL) {
        openssl_error(err, errlen, "cannot make the certificate");
        EVP_PKEY_free(key);
        return -1;
    }
    if (write_pem(key_path, 0600, key, NULL, err, errlen) == 0) {
        if (write_pem(cert_path, 0644, NULL, cert, err, errlen) == 0) {
            log_msg(LOG_INFO, "generated a self-signed TLS certificate in %s", cert_path);
            rc = 0;
        } else {
            unlink(key_path);
        }
    }
    X509_free(cert);
    EVP_PKEY_free(key);
    return rc;
}
