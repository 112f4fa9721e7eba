/*
 * b64.h — Base64 (RFC 4648 §4, padded) and base64url (§5, unpadded, as JOSE
 * and PKCE use it). Decoders reject characters outside the alphabet.
 */
#ifndef YZ_CORE_B64_H
#define YZ_CORE_B64_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/status.h"

/* Encoded length for n input bytes (without NUL). */
size_t b64_encoded_len(size_t n, bool url);
YZ_MUST_USE yz_status b64_encode(const void *data, size_t n, bool url, buf *out);
/* Decode into out (cap bytes); *outlen receives the length. Accepts missing
 * padding in both forms; refuses whitespace and foreign characters. */
YZ_MUST_USE yz_status b64_decode(const char *s, size_t n, bool url, unsigned char *out, size_t cap,
                                 size_t *outlen);

#endif
