/* Randomness: everything comes from OpenSSL's DRBG (RAND_bytes). */
#include <limits.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "core/b64.h"
#include "crypto/crypto_int.h"

yz_status crypto_random(void *out, size_t n)
{
	unsigned char *p = out;
	if (n && !out)
		return YZ_EINVAL;
	while (n) {
		int chunk = n > INT_MAX ? INT_MAX : (int)n;
		if (RAND_bytes(p, chunk) != 1) {
			crypto_int_clear_errors();
			return YZ_ECRYPTO;
		}
		p += chunk;
		n -= (size_t)chunk;
	}
	return YZ_OK;
}

yz_status crypto_random_hex(size_t n, char *out, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char tmp[64];
	if (!out || n > (SIZE_MAX - 1) / 2 || cap < 2 * n + 1)
		return YZ_EINVAL;
	size_t o = 0;
	while (n) {
		size_t chunk = n < sizeof tmp ? n : sizeof tmp;
		yz_status s = crypto_random(tmp, chunk);
		if (s != YZ_OK) {
			out[0] = '\0';
			return s;
		}
		for (size_t i = 0; i < chunk; i++) {
			out[o++] = hex[tmp[i] >> 4];
			out[o++] = hex[tmp[i] & 15];
		}
		n -= chunk;
	}
	out[o] = '\0';
	OPENSSL_cleanse(tmp, sizeof tmp);
	return YZ_OK;
}

yz_status crypto_random_token(size_t n, char *out, size_t cap)
{
	unsigned char tmp[256];
	if (!out || n == 0 || n > sizeof tmp || cap < b64_encoded_len(n, true) + 1)
		return YZ_EINVAL;
	yz_status s = crypto_random(tmp, n);
	if (s != YZ_OK)
		return s;
	buf b;
	buf_init(&b, cap - 1);
	s = b64_encode(tmp, n, true, &b);
	OPENSSL_cleanse(tmp, n);
	if (s == YZ_OK)
		memcpy(out, buf_str(&b), b.len + 1);
	if (b.p)
		OPENSSL_cleanse(b.p, b.len);
	buf_free(&b);
	return s;
}
