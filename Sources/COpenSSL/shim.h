#ifndef OUTPOST_COPENSSL_SHIM_H
#define OUTPOST_COPENSSL_SHIM_H
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* BIO_get_mem_data is a macro over BIO_ctrl. */
static inline long outpost_bio_get_mem_data(BIO *bio, char **out) { return BIO_get_mem_data(bio, out); }

/* Protocol-version setters are macros over SSL_CTX_ctrl. */
static inline int outpost_ssl_ctx_tls13_only(SSL_CTX *ctx) {
    return SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) && SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
}

/* A server's range: TLS 1.3 only, or 1.2 and 1.3 (for older tills). */
static inline int outpost_ssl_ctx_min_version(SSL_CTX *ctx, int tls12) {
    return SSL_CTX_set_min_proto_version(ctx, tls12 ? TLS1_2_VERSION : TLS1_3_VERSION) && SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
}

/* The host a client dialed, which the server's certificate must name: an IP address as an IP
   SAN (and no SNI, which carries names only), a name as a DNS name, sent as SNI too (a macro). */
static inline int outpost_ssl_set_server_name(SSL *ssl, const char *name) {
    if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) == 1) return 1;
    return SSL_set_tlsext_host_name(ssl, name) == 1 && SSL_set1_host(ssl, name) == 1;
}

/* The modes are set through a macro too. */
static inline void outpost_ssl_ctx_set_partial_write(SSL_CTX *ctx) {
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}

/* OPENSSL_free is a macro over CRYPTO_free. */
static inline void outpost_openssl_free(void *p) { OPENSSL_free(p); }
#endif
