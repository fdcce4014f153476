// The low-level SHA256_* calls let UsherCrypto keep HMAC pads as plain values; OpenSSL 3 marks them deprecated.
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
