#include "core/b64.h"

static const char std_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t b64_encoded_len(size_t n, bool url)
{
	return url ? (n * 4 + 2) / 3 : (n + 2) / 3 * 4;
}

yz_status b64_encode(const void *data, size_t n, bool url, buf *out)
{
	const unsigned char *d = data;
	const char *a = url ? url_alpha : std_alpha;
	char q[4];
	size_t i = 0;
	for (; i + 3 <= n; i += 3) {
		unsigned v = (unsigned)d[i] << 16 | (unsigned)d[i + 1] << 8 | d[i + 2];
		q[0] = a[v >> 18];
		q[1] = a[(v >> 12) & 63];
		q[2] = a[(v >> 6) & 63];
		q[3] = a[v & 63];
		yz_status s = buf_append(out, q, 4);
		if (s != YZ_OK)
			return s;
	}
	size_t rem = n - i;
	if (rem) {
		unsigned v = (unsigned)d[i] << 16 | (rem == 2 ? (unsigned)d[i + 1] << 8 : 0);
		q[0] = a[v >> 18];
		q[1] = a[(v >> 12) & 63];
		q[2] = rem == 2 ? a[(v >> 6) & 63] : '=';
		q[3] = '=';
		size_t len = url ? rem + 1 : 4;
		return buf_append(out, q, len);
	}
	return buf_append(out, "", 0);
}

static int val(char c, bool url)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (url ? '-' : '+'))
		return 62;
	if (c == (url ? '_' : '/'))
		return 63;
	return -1;
}

yz_status b64_decode(const char *s, size_t n, bool url, unsigned char *out, size_t cap,
                     size_t *outlen)
{
	while (n && s[n - 1] == '=')
		n--;
	if (n % 4 == 1)
		return YZ_EINVAL;
	size_t need = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
	if (need > cap)
		return YZ_ETOOBIG;
	size_t o = 0;
	unsigned acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		int v = val(s[i], url);
		if (v < 0)
			return YZ_EINVAL;
		acc = acc << 6 | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	*outlen = o;
	return YZ_OK;
}
