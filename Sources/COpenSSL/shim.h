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

/* BIO_get_mem_data is a macro over BIO_ctrl. */
static inline long outpost_bio_get_mem_data(BIO *bio, char **out) { return BIO_get_mem_data(bio, out); }
#endif
