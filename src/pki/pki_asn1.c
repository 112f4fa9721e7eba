/*
 * pki_asn1.c — the DER writer and reader of pki_asn1.h.
 */
#include "pki/pki_asn1.h"

#include <stdio.h>
#include <string.h>

#include "core/clock.h"

/* ---- writer ---- */

void pki_der_init(pki_der *w, size_t max)
{
	buf_init(&w->b, max);
	w->depth = 0;
	w->st = YZ_OK;
}

void pki_der_free(pki_der *w)
{
	buf_free(&w->b);
}

static void put_bytes(pki_der *w, const void *p, size_t n)
{
	if (w->st == YZ_OK)
		w->st = buf_append(&w->b, p, n);
}

static void put_header(pki_der *w, unsigned char tag, size_t n)
{
	unsigned char h[6];
	size_t k = 0;
	h[k++] = tag;
	if (n < 0x80) {
		h[k++] = (unsigned char)n;
	} else {
		int bytes = n > 0xffffff ? 4 : n > 0xffff ? 3 : n > 0xff ? 2 : 1;
		h[k++] = (unsigned char)(0x80 | bytes);
		for (int i = bytes - 1; i >= 0; i--)
			h[k++] = (unsigned char)(n >> (8 * i));
	}
	put_bytes(w, h, k);
}

void pki_der_begin(pki_der *w, unsigned char tag)
{
	if (w->st != YZ_OK)
		return;
	if (w->depth >= PKI_DER_DEPTH) {
		w->st = YZ_EINTERNAL;
		return;
	}
	w->open[w->depth++] = w->b.len;
	unsigned char h[2] = {tag, 0};
	put_bytes(w, h, 2);
}

void pki_der_end(pki_der *w)
{
	if (w->st != YZ_OK)
		return;
	if (w->depth == 0) {
		w->st = YZ_EINTERNAL;
		return;
	}
	size_t at = w->open[--w->depth];
	size_t start = at + 2, n = w->b.len - start;
	if (n < 0x80) {
		w->b.p[at + 1] = (char)n;
		return;
	}
	int bytes = n > 0xffffff ? 4 : n > 0xffff ? 3 : n > 0xff ? 2 : 1;
	static const unsigned char pad[4];
	put_bytes(w, pad, (size_t)bytes);
	if (w->st != YZ_OK)
		return;
	unsigned char *p = (unsigned char *)w->b.p;
	memmove(p + start + bytes, p + start, n);
	p[at + 1] = (unsigned char)(0x80 | bytes);
	for (int i = 0; i < bytes; i++)
		p[at + 2 + i] = (unsigned char)(n >> (8 * (bytes - 1 - i)));
}

void pki_der_put(pki_der *w, unsigned char tag, const void *p, size_t n)
{
	put_header(w, tag, n);
	put_bytes(w, p, n);
}

void pki_der_raw(pki_der *w, const void *p, size_t n)
{
	put_bytes(w, p, n);
}

void pki_der_uint(pki_der *w, const unsigned char *be, size_t n)
{
	while (n > 1 && be[0] == 0) {
		be++;
		n--;
	}
	if (n == 0) {
		pki_der_small(w, 0);
		return;
	}
	static const unsigned char zero = 0;
	bool high = be[0] & 0x80;
	put_header(w, PKI_DER_INT, n + (high ? 1 : 0));
	if (high)
		put_bytes(w, &zero, 1);
	put_bytes(w, be, n);
}

void pki_der_small(pki_der *w, int64_t v)
{
	unsigned char be[8];
	uint64_t u = v < 0 ? 0 : (uint64_t)v;
	for (int i = 7; i >= 0; i--) {
		be[i] = (unsigned char)u;
		u >>= 8;
	}
	pki_der_uint(w, be, sizeof be);
}

void pki_der_bool(pki_der *w, bool v)
{
	unsigned char b = v ? 0xff : 0x00;
	pki_der_put(w, PKI_DER_BOOL, &b, 1);
}

void pki_der_null(pki_der *w)
{
	pki_der_put(w, PKI_DER_NULL, NULL, 0);
}

size_t pki_oid_encode(const char *dotted, unsigned char *out, size_t cap)
{
	uint64_t arcs[32];
	int n = 0;
	const char *p = dotted;
	while (p && *p) {
		if (n == 32 || *p < '0' || *p > '9' || (*p == '0' && p[1] >= '0' && p[1] <= '9'))
			return 0;
		uint64_t v = 0;
		while (*p >= '0' && *p <= '9') {
			if (v > (UINT64_MAX >> 8) / 10)
				return 0;
			v = v * 10 + (uint64_t)(*p++ - '0');
		}
		arcs[n++] = v;
		if (*p == '.' && p[1])
			p++;
		else if (*p)
			return 0;
	}
	if (n < 2 || arcs[0] > 2 || (arcs[0] < 2 && arcs[1] > 39))
		return 0;
	size_t len = 0;
	for (int i = 1; i < n; i++) {
		uint64_t v = i == 1 ? arcs[0] * 40 + arcs[1] : arcs[i];
		unsigned char tmp[10];
		int k = 0;
		do {
			tmp[k++] = (unsigned char)(v & 0x7f);
			v >>= 7;
		} while (v);
		if (len + (size_t)k > cap)
			return 0;
		while (k > 0) {
			k--;
			out[len++] = (unsigned char)(tmp[k] | (k ? 0x80 : 0));
		}
	}
	return len;
}

void pki_der_oid(pki_der *w, const char *dotted)
{
	unsigned char enc[64];
	size_t n = pki_oid_encode(dotted, enc, sizeof enc);
	if (n == 0) {
		if (w->st == YZ_OK)
			w->st = YZ_EINVAL;
		return;
	}
	pki_der_put(w, PKI_DER_OID, enc, n);
}

void pki_der_algid(pki_der *w, const char *oid, bool null_params)
{
	pki_der_begin(w, PKI_DER_SEQ);
	pki_der_oid(w, oid);
	if (null_params)
		pki_der_null(w);
	pki_der_end(w);
}

void pki_der_gentime(pki_der *w, int64_t ms)
{
	if (ms < 0)
		ms = 0;
	int64_t days = ms / 86400000, rem = ms % 86400000;
	int y, m, d;
	clock_civil_from_days(days, &y, &m, &d);
	int frac = (int)(rem % 1000);
	int64_t secs = rem / 1000;
	char t[40];
	int n = snprintf(t, sizeof t, "%04d%02d%02d%02d%02d%02d", y, m, d, (int)(secs / 3600),
	                 (int)(secs / 60 % 60), (int)(secs % 60));
	if (frac) {
		char f[8];
		snprintf(f, sizeof f, ".%03d", frac);
		size_t fl = strlen(f);
		while (fl > 1 && f[fl - 1] == '0')
			f[--fl] = '\0';
		n += snprintf(t + n, sizeof t - (size_t)n, "%s", f);
	}
	n += snprintf(t + n, sizeof t - (size_t)n, "Z");
	pki_der_put(w, PKI_DER_GENTIME, t, (size_t)n);
}

void pki_der_bit(pki_der *w, unsigned bit)
{
	unsigned char v[1 + 8] = {0};
	if (bit >= 64) {
		if (w->st == YZ_OK)
			w->st = YZ_EINVAL;
		return;
	}
	size_t bytes = bit / 8 + 1;
	v[0] = (unsigned char)(7 - bit % 8); /* unused bits in the last byte */
	v[bytes] = (unsigned char)(0x80 >> (bit % 8));
	pki_der_put(w, PKI_DER_BITS, v, bytes + 1);
}

void pki_der_utf8(pki_der *w, const char *s)
{
	pki_der_put(w, PKI_DER_UTF8, s, strlen(s));
}

void pki_der_ia5(pki_der *w, const char *s)
{
	pki_der_put(w, PKI_DER_IA5, s, strlen(s));
}

void pki_der_bits(pki_der *w, const void *p, size_t n)
{
	static const unsigned char none = 0;
	put_header(w, PKI_DER_BITS, n + 1);
	put_bytes(w, &none, 1);
	put_bytes(w, p, n);
}

void pki_der_utctime(pki_der *w, int64_t ms)
{
	if (ms < 0)
		ms = 0;
	int64_t days = ms / 86400000, secs = ms % 86400000 / 1000;
	int y, m, d;
	clock_civil_from_days(days, &y, &m, &d);
	char t[24];
	int n = snprintf(t, sizeof t, "%02d%02d%02d%02d%02d%02dZ", y % 100, m, d,
	                 (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
	pki_der_put(w, PKI_DER_UTCTIME, t, (size_t)n);
}

yz_status pki_der_done(pki_der *w)
{
	if (w->st == YZ_OK && w->depth != 0)
		w->st = YZ_EINTERNAL;
	return w->st;
}

/* ---- reader ---- */

pki_rd pki_rd_of(const void *p, size_t n)
{
	pki_rd r = {p, (const unsigned char *)p + (p ? n : 0)};
	return r;
}

pki_rd pki_rd_in(const pki_tlv *t)
{
	return pki_rd_of(t->v, t->n);
}

bool pki_rd_more(const pki_rd *r)
{
	return r->p < r->end;
}

bool pki_rd_next(pki_rd *r, pki_tlv *t)
{
	const unsigned char *p = r->p;
	if (!p || p >= r->end)
		return false;
	unsigned char tag = *p++;
	if ((tag & 0x1f) == 0x1f || p >= r->end)
		return false;
	size_t len = *p++;
	if (len & 0x80) {
		size_t k = len & 0x7f;
		if (k == 0 || k > 4 || (size_t)(r->end - p) < k || p[0] == 0)
			return false; /* indefinite, too long, or not minimal */
		len = 0;
		for (size_t i = 0; i < k; i++)
			len = len << 8 | p[i];
		if (len < 0x80)
			return false;
		p += k;
	}
	if (len > (size_t)(r->end - p))
		return false;
	t->tag = tag;
	t->v = p;
	t->n = len;
	t->raw = r->p;
	t->rawn = (size_t)(p + len - r->p);
	r->p = p + len;
	return true;
}

bool pki_rd_get(pki_rd *r, unsigned char tag, pki_tlv *t)
{
	pki_rd save = *r;
	if (!pki_rd_next(r, t) || t->tag != tag) {
		*r = save;
		return false;
	}
	return true;
}

bool pki_rd_opt(pki_rd *r, unsigned char tag, pki_tlv *t)
{
	if (!r->p || r->p >= r->end || *r->p != tag)
		return false;
	return pki_rd_get(r, tag, t);
}

bool pki_tlv_int_ok(const pki_tlv *t)
{
	if (t->tag != PKI_DER_INT || t->n == 0)
		return false;
	if (t->n >= 2 &&
	    ((t->v[0] == 0x00 && !(t->v[1] & 0x80)) || (t->v[0] == 0xff && (t->v[1] & 0x80))))
		return false;
	return true;
}

bool pki_tlv_small(const pki_tlv *t, int64_t *out)
{
	if (!pki_tlv_int_ok(t) || (t->v[0] & 0x80))
		return false;
	size_t i = t->v[0] == 0 ? 1 : 0;
	if (t->n - i > 8 || (t->n - i == 8 && (t->v[i] & 0x80)))
		return false;
	uint64_t v = 0;
	for (; i < t->n; i++)
		v = v << 8 | t->v[i];
	*out = (int64_t)v;
	return true;
}

bool pki_tlv_uint_hex(const pki_tlv *t, char *out, size_t cap)
{
	if (!pki_tlv_int_ok(t) || (t->v[0] & 0x80))
		return false;
	size_t i = 0;
	while (i + 1 < t->n && t->v[i] == 0)
		i++;
	if ((t->n - i) * 2 + 1 > cap)
		return false;
	static const char hex[] = "0123456789ABCDEF";
	size_t k = 0;
	if (t->n - i == 1 && t->v[i] == 0) {
		out[k++] = '0';
	} else {
		for (; i < t->n; i++) {
			out[k++] = hex[t->v[i] >> 4];
			out[k++] = hex[t->v[i] & 15];
		}
	}
	out[k] = '\0';
	return true;
}

bool pki_tlv_bool(const pki_tlv *t, bool *out)
{
	if (t->tag != PKI_DER_BOOL || t->n != 1 || (t->v[0] != 0 && t->v[0] != 0xff))
		return false;
	*out = t->v[0] != 0;
	return true;
}

bool pki_tlv_oid_is(const pki_tlv *t, const char *dotted)
{
	unsigned char enc[64];
	size_t n = pki_oid_encode(dotted, enc, sizeof enc);
	return t->tag == PKI_DER_OID && n && n == t->n && !memcmp(enc, t->v, n);
}

bool pki_tlv_oid_text(const pki_tlv *t, char *out, size_t cap)
{
	if (t->tag != PKI_DER_OID || t->n == 0 || (t->v[t->n - 1] & 0x80) || cap < 2)
		return false;
	size_t k = 0;
	uint64_t v = 0;
	bool first = true, start = true;
	for (size_t i = 0; i < t->n; i++) {
		if (start && t->v[i] == 0x80)
			return false; /* not minimal */
		if (v > (UINT64_MAX >> 7))
			return false;
		v = v << 7 | (t->v[i] & 0x7f);
		start = !(t->v[i] & 0x80);
		if (!start)
			continue;
		int w;
		if (first) {
			uint64_t a = v < 40 ? 0 : v < 80 ? 1 : 2;
			w = snprintf(out + k, cap - k, "%llu.%llu", (unsigned long long)a,
			             (unsigned long long)(v - a * 40));
			first = false;
		} else {
			w = snprintf(out + k, cap - k, ".%llu", (unsigned long long)v);
		}
		if (w < 0 || (size_t)w >= cap - k)
			return false;
		k += (size_t)w;
		v = 0;
	}
	return true;
}

static bool num(const unsigned char *p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		v = v * 10 + (p[i] - '0');
	}
	*out = v;
	return true;
}

bool pki_tlv_gentime(const pki_tlv *t, int64_t *ms)
{
	const unsigned char *p = t->v;
	size_t n = t->n;
	int y, mo, d, h, mi, s;
	if (t->tag != PKI_DER_GENTIME || n < 15 || p[n - 1] != 'Z' || !num(p, 4, &y) ||
	    !num(p + 4, 2, &mo) || !num(p + 6, 2, &d) || !num(p + 8, 2, &h) ||
	    !num(p + 10, 2, &mi) || !num(p + 12, 2, &s))
		return false;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59)
		return false;
	int frac = 0;
	if (n > 15) {
		/* ".f…Z": at least one digit, none trailing zero (DER) */
		if (p[14] != '.' || n < 17 || p[n - 2] == '0')
			return false;
		for (size_t i = 15; i < n - 1; i++) {
			if (p[i] < '0' || p[i] > '9')
				return false;
			if (i < 18)
				frac += (p[i] - '0') * (i == 15 ? 100 : i == 16 ? 10 : 1);
		}
	}
	*ms = ((clock_days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60000LL + s * 1000LL + frac;
	return true;
}

bool pki_tlv_utctime(const pki_tlv *t, int64_t *ms)
{
	const unsigned char *p = t->v;
	int y, mo, d, h, mi, s;
	if (t->tag != PKI_DER_UTCTIME || t->n != 13 || p[12] != 'Z' || !num(p, 2, &y) ||
	    !num(p + 2, 2, &mo) || !num(p + 4, 2, &d) || !num(p + 6, 2, &h) ||
	    !num(p + 8, 2, &mi) || !num(p + 10, 2, &s))
		return false;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59)
		return false;
	y += y < 50 ? 2000 : 1900;
	*ms = ((clock_days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60000LL + s * 1000LL;
	return true;
}

bool pki_tlv_bits(const pki_tlv *t, const unsigned char **p, size_t *n)
{
	if (t->tag != PKI_DER_BITS || t->n < 1 || t->v[0] != 0)
		return false;
	*p = t->v + 1;
	*n = t->n - 1;
	return true;
}

bool pki_tlv_ia5(const pki_tlv *t, char *out, size_t cap)
{
	if (t->tag != PKI_DER_IA5 || t->n >= cap)
		return false;
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i] == 0 || t->v[i] >= 0x80)
			return false;
	memcpy(out, t->v, t->n);
	out[t->n] = '\0';
	return true;
}

bool pki_rd_algid(pki_rd *r, pki_tlv *oid)
{
	pki_tlv seq, null;
	if (!pki_rd_get(r, PKI_DER_SEQ, &seq))
		return false;
	pki_rd in = pki_rd_in(&seq);
	if (!pki_rd_get(&in, PKI_DER_OID, oid))
		return false;
	if (pki_rd_opt(&in, PKI_DER_NULL, &null) && null.n != 0)
		return false;
	return !pki_rd_more(&in);
}
