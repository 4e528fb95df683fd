/* crypto.h: random identifiers, token hashing and webhook signatures
 * (OpenSSL libcrypto).
 */
#ifndef RD_CRYPTO_H
#define RD_CRYPTO_H

#include <stddef.h>

/* 18 random bytes = 144 bits, as 24 URL-safe base64 characters. */
#define RD_JOB_ID_BYTES 18
#define RD_JOB_ID_LEN 24
/* "rt_" + 32 random bytes (43 base64url characters). */
#define RD_TOKEN_LEN 46
#define RD_SHA256_HEX_LEN 64

/* Fills out with nbytes from the OS's CSPRNG, as unpadded base64url
 * (needs 4 * nbytes / 3 + 2 bytes of room).  RT_ERR_INTERNAL when the
 * random source fails. */
int rd_random_base64url(size_t nbytes, char *out, size_t cap);

/* A new job id (RD_JOB_ID_LEN characters + NUL). */
int rd_new_job_id(char out[RD_JOB_ID_LEN + 1]);
/* A new API token "rt_..." (RD_TOKEN_LEN characters + NUL). */
int rd_new_token(char out[RD_TOKEN_LEN + 1]);
/* A new webhook secret "whsec_..." (needs 40 bytes). */
int rd_new_webhook_secret(char *out, size_t cap);

/* Lower-case hex SHA-256 of data: how tokens are stored. */
void rd_sha256_hex(const void *data, size_t len, char out[RD_SHA256_HEX_LEN + 1]);

/* Lower-case hex HMAC-SHA256 of data keyed with key. */
void rd_hmac_sha256_hex(const char *key, const void *data, size_t len,
                        char out[RD_SHA256_HEX_LEN + 1]);

/* Webhook secrets at rest.  HMAC needs the secret itself, so it cannot be
 * hashed like a token; it is sealed (AES-256-GCM) with a key kept in its own
 * file (DIR/retouchd.key, 0600), so a copy of the database alone does not
 * reveal it.  Sealed text is RD_SEALED_PREFIX + hex(nonce, ciphertext, tag);
 * rd_secret_unseal passes through a value without the prefix (a store made
 * before sealing). */
#define RD_SEAL_KEY_BYTES 32
#define RD_SEALED_PREFIX "sealed1$"
int rd_secret_seal(const unsigned char key[RD_SEAL_KEY_BYTES], const char *plain, char *out,
                   size_t cap);
int rd_secret_unseal(const unsigned char key[RD_SEAL_KEY_BYTES], const char *sealed, char *out,
                     size_t cap);

#endif
