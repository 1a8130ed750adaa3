/*
 * TLS: either a certificate and key given by the operator (--tls-cert, --tls-key, PEM), or
 * with --self-signed a certificate generated on first run into the data folder
 * (DATA/tls-cert.pem, DATA/tls-key.pem with mode 0600; EC P-256, SHA-256, valid 825 days,
 * subjectAltName covering localhost, 127.0.0.1, ::1 and the listen address) and reused later.
 */
#ifndef PARLEY_SERVER_TLS_H
#define PARLEY_SERVER_TLS_H

/* The TLS 1.2 suites offered: ECDHE with AES-GCM or ChaCha20-Poly1305. */
#define TLS_CIPHERS_12 "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL"

#include <stddef.h>

/*
 * Makes sure DIR/tls-cert.pem and DIR/tls-key.pem exist, generating them when both are missing.
 * host is the listen address (an IP literal) to name in subjectAltName. 0, or -1 with err set.
 */
int tls_self_signed(const char *dir, const char *host, char *cert_path, char *key_path,
                    size_t path_len, char *err, size_t errlen);

/* Remembers the files for tls_init_ssl. */
void tls_set_files(const char *cert_path, const char *key_path);

/* Civetweb's init_ssl callback: loads the certificate chain and the key into ssl_ctx. */
int tls_init_ssl(void *ssl_ctx, void *user_data);

#endif
