/* Random ids, hashes and HMACs over OpenSSL (see crypto.h). */
#include "server/crypto.h"

#include "core/error.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <string.h>

static void base64url(const unsigned char *in, size_t n, char *out)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < n) v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < n) v |= in[i + 2];
        out[o++] = alphabet[(v >> 18) & 63];
        out[o++] = alphabet[(v >> 12) & 63];
        if (i + 1 < n) out[o++] = alphabet[(v >> 6) & 63];
        if (i + 2 < n) out[o++] = alphabet[v & 63];
    }
    out[o] = '\0';
}

int rd_random_base64url(size_t nbytes, char *out, size_t cap)
{
    unsigned char buf[64];
    if (nbytes > sizeof buf || cap < (nbytes * 4 + 2) / 3 + 1)
        return rt_error(RT_ERR_INTERNAL, "random id buffer too small");
    if (RAND_bytes(buf, (int)nbytes) != 1)
        return rt_error(RT_ERR_INTERNAL, "the random number generator failed");
    base64url(buf, nbytes, out);
    OPENSSL_cleanse(buf, sizeof buf);
    return 0;
}

int rd_new_job_id(char out[RD_JOB_ID_LEN + 1])
{
    return rd_random_base64url(RD_JOB_ID_BYTES, out, RD_JOB_ID_LEN + 1);
}

int rd_new_token(char out[RD_TOKEN_LEN + 1])
{
    memcpy(out, "rt_", 3);
    return rd_random_base64url(32, out + 3, RD_TOKEN_LEN + 1 - 3);
}

int rd_new_webhook_secret(char *out, size_t cap)
{
    if (cap < 6 + 32 + 1) return rt_error(RT_ERR_INTERNAL, "secret buffer too small");
    memcpy(out, "whsec_", 6);
    return rd_random_base64url(24, out + 6, cap - 6);
}

static void to_hex(const unsigned char *d, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[2 * n] = '\0';
}

void rd_sha256_hex(const void *data, size_t len, char out[RD_SHA256_HEX_LEN + 1])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(data, len, md);
    to_hex(md, sizeof md, out);
}

void rd_hmac_sha256_hex(const char *key, const void *data, size_t len,
                        char out[RD_SHA256_HEX_LEN + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    HMAC(EVP_sha256(), key, (int)strlen(key), data, len, md, &md_len);
    to_hex(md, md_len, out);
}

/* ---- sealed secrets ------------------------------------------------------ */

#define SEAL_NONCE 12
#define SEAL_TAG 16

static int from_hex(const char *s, unsigned char *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int v = 0;
        for (int k = 0; k < 2; k++) {
            char c = s[2 * i + k];
            int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
            if (d < 0) return -1;
            v = v * 16 + d;
        }
        out[i] = (unsigned char)v;
    }
    return 0;
}

int rd_secret_seal(const unsigned char key[RD_SEAL_KEY_BYTES], const char *plain, char *out,
                   size_t cap)
{
    size_t n = strlen(plain), prefix = strlen(RD_SEALED_PREFIX);
    unsigned char buf[SEAL_NONCE + 256 + SEAL_TAG];
    if (n > 256 || cap < prefix + 2 * (SEAL_NONCE + n + SEAL_TAG) + 1)
        return rt_error(RT_ERR_INTERNAL, "secret too long to seal");
    if (RAND_bytes(buf, SEAL_NONCE) != 1)
        return rt_error(RT_ERR_INTERNAL, "the random number generator failed");
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int len = 0,
        ok = c && EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, buf) == 1 &&
             EVP_EncryptUpdate(c, buf + SEAL_NONCE, &len, (const unsigned char *)plain, (int)n) ==
                 1 &&
             EVP_EncryptFinal_ex(c, buf + SEAL_NONCE + len, &len) == 1 &&
             EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, SEAL_TAG, buf + SEAL_NONCE + n) == 1;
    EVP_CIPHER_CTX_free(c);
    if (!ok) return rt_error(RT_ERR_INTERNAL, "cannot seal a secret (OpenSSL)");
    memcpy(out, RD_SEALED_PREFIX, prefix);
    to_hex(buf, SEAL_NONCE + n + SEAL_TAG, out + prefix);
    return 0;
}

int rd_secret_unseal(const unsigned char key[RD_SEAL_KEY_BYTES], const char *sealed, char *out,
                     size_t cap)
{
    size_t prefix = strlen(RD_SEALED_PREFIX), hex = strlen(sealed);
    if (strncmp(sealed, RD_SEALED_PREFIX, prefix) != 0) { /* stored before sealing existed */
        if (strlen(sealed) >= cap) return rt_error(RT_ERR_INTERNAL, "secret too long");
        memcpy(out, sealed, strlen(sealed) + 1);
        return 0;
    }
    hex -= prefix;
    unsigned char buf[SEAL_NONCE + 256 + SEAL_TAG];
    if (hex % 2 || hex / 2 < SEAL_NONCE + SEAL_TAG || hex / 2 > sizeof buf ||
        from_hex(sealed + prefix, buf, hex / 2))
        return rt_error(RT_ERR_IO, "a sealed webhook secret in the store is malformed");
    size_t n = hex / 2 - SEAL_NONCE - SEAL_TAG;
    if (n >= cap) return rt_error(RT_ERR_INTERNAL, "secret too long");
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int len = 0,
        ok = c && EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, buf) == 1 &&
             EVP_DecryptUpdate(c, (unsigned char *)out, &len, buf + SEAL_NONCE, (int)n) == 1 &&
             EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, SEAL_TAG, buf + SEAL_NONCE + n) == 1 &&
             EVP_DecryptFinal_ex(c, (unsigned char *)out + len, &len) == 1;
    EVP_CIPHER_CTX_free(c);
    if (!ok) {
        out[0] = '\0';
        return rt_error(RT_ERR_IO, "a webhook secret in the store does not open with this data "
                                   "directory's retouchd.key (was the key replaced?)");
    }
    out[n] = '\0';
    return 0;
}
