/*
 * pki_login.c — who a certificate signs in. Two ways in: a TLS client
 * certificate (browsers: ECDSA, as no browser speaks SM2 in TLS), or an SM2
 * (or ECDSA) signature over a one-time challenge made by a USB key, with the
 * certificate sent beside it. Either way the certificate must be one this
 * platform issued (its CA's signature checks out with our verifier, so SM2
 * uses the standard ID), be valid now, not be revoked or suspended (the
 * reason is named), carry the clientAuth usage, and belong to an account.
 *
 * Challenges are stateless: "c1.<ms>.<16 random bytes hex>.<HMAC-SM3>" under
 * a key derived from the pki's key-encryption key, so every node of a
 * PostgreSQL deployment accepts the others' challenges; each is good for
 * PKI_CHALLENGE_MS and once — "once" is kept in this process's memory, so a
 * challenge could be replayed on another node within that window. (A shared
 * table is the remedy if a city runs several nodes behind one name.)
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/slice.h"
#include "pki/pki_int.h"

#define PKI_CHALLENGE_MS 120000
#define USED_MAX         4096

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned char challenge_key[32];
static bool have_key;
static struct {
	unsigned char h[16];
	int64_t at;
} used[USED_MAX];
static int used_next;

yz_status pki_login_init(const char *data_dir, yz_err *e)
{
	unsigned char kek[CRYPTO_SEAL_KEY_LEN];
	yz_status st = pki_kek(data_dir, false, kek, e);
	if (st == YZ_ENOTFOUND)
		return YZ_OK; /* no CA yet: nobody signs in by certificate */
	if (st != YZ_OK)
		return st;
	static const char label[] = "yizhan-pki-login-challenge";
	pthread_mutex_lock(&mu);
	crypto_hmac_sm3(kek, sizeof kek, label, sizeof label - 1, challenge_key);
	have_key = true;
	pthread_mutex_unlock(&mu);
	memset(kek, 0, sizeof kek);
	return YZ_OK;
}

static void mac_hex(const char *text, size_t n, char out[65])
{
	unsigned char m[CRYPTO_SM3_LEN];
	pthread_mutex_lock(&mu);
	crypto_hmac_sm3(challenge_key, sizeof challenge_key, text, n, m);
	pthread_mutex_unlock(&mu);
	static const char digits[] = "0123456789abcdef";
	for (int i = 0; i < CRYPTO_SM3_LEN; i++) {
		out[2 * i] = digits[m[i] >> 4];
		out[2 * i + 1] = digits[m[i] & 15];
	}
	out[64] = '\0';
}

yz_status pki_login_challenge(char *out, size_t cap, yz_err *e)
{
	if (!have_key)
		return yz_fail(e, YZ_EBUSY, "no certification authority is set up here");
	char nonce[33];
	if (crypto_random_hex(16, nonce, sizeof nonce) != YZ_OK)
		return yz_fail(e, YZ_ECRYPTO, "no randomness for a challenge");
	char body[96];
	int n = snprintf(body, sizeof body, "c1.%lld.%s", (long long)clock_now_ms(), nonce);
	char mac[65];
	mac_hex(body, (size_t)n, mac);
	if ((size_t)snprintf(out, cap, "%s.%s", body, mac) >= cap)
		return yz_fail(e, YZ_EINTERNAL, "challenge buffer too small");
	return YZ_OK;
}

/* A challenge of ours, young enough, not used before (and now used). */
static yz_status challenge_take(const char *c, yz_err *e)
{
	const char *last = c ? strrchr(c, '.') : NULL;
	if (!have_key || !last || strncmp(c, "c1.", 3) != 0 || strlen(last + 1) != 64)
		return yz_field(e, "challenge", "challenge", "a challenge from this platform",
		                NULL);
	char mac[65];
	mac_hex(c, (size_t)(last - c), mac);
	if (!crypto_equal(mac, last + 1, 64))
		return yz_field(e, "challenge", "challenge", "a challenge from this platform",
		                NULL);
	int64_t at = 0;
	const char *dot = strchr(c + 3, '.');
	if (!dot || slice_to_i64((slice){c + 3, (size_t)(dot - c - 3)}, &at) != YZ_OK)
		return yz_field(e, "challenge", "challenge", "a challenge from this platform",
		                NULL);
	int64_t now = clock_now_ms();
	if (now - at > PKI_CHALLENGE_MS || at - now > 5000)
		return yz_field(e, "challenge", "expired", "a challenge younger than two minutes",
		                NULL);
	unsigned char h[CRYPTO_SM3_LEN];
	crypto_sm3(c, strlen(c), h);
	yz_status st = YZ_OK;
	pthread_mutex_lock(&mu);
	for (int i = 0; i < USED_MAX && st == YZ_OK; i++)
		if (used[i].at && now - used[i].at <= PKI_CHALLENGE_MS &&
		    !memcmp(used[i].h, h, sizeof used[i].h))
			st = YZ_ECONFLICT;
	if (st == YZ_OK) {
		memcpy(used[used_next].h, h, sizeof used[used_next].h);
		used[used_next].at = now;
		used_next = (used_next + 1) % USED_MAX;
	}
	pthread_mutex_unlock(&mu);
	return st == YZ_OK ? YZ_OK
	                   : yz_field(e, "challenge", "used", "a challenge used once only", NULL);
}

static bool has_client_auth(X509 *x)
{
	uint32_t xku = X509_get_extended_key_usage(x);
	return (X509_get_extension_flags(x) & EXFLAG_XKUSAGE) && (xku & XKU_SSL_CLIENT);
}

yz_status pki_login_check(store *s, const void *der, size_t n, int64_t *user_id, char *ref,
                          size_t refcap, yz_err *e)
{
	X509 *x = pki_x509_parse(der, n);
	if (!x)
		return yz_fail(e, YZ_EUNAUTH, "no certificate, or one that does not parse");
	pki_ca_rt *ca = NULL;
	for (int i = 0; i < pki_ca_count() && !ca; i++)
		if (X509_NAME_cmp(X509_get_issuer_name(x),
		                  X509_get_subject_name(pki_ca_at(i)->cert)) == 0)
			ca = pki_ca_at(i);
	char serial[80];
	pki_serial_hex(X509_get0_serialNumber(x), serial, sizeof serial);
	bool client = has_client_auth(x);
	X509_free(x);
	if (!ca)
		return yz_fail(e, YZ_EUNAUTH,
		               "the certificate was not issued by a CA of this platform");
	yz_err ve = {0};
	yz_status st = pki_verify_cert(der, n, ca->der, (size_t)ca->der_len, &ve);
	if (st == YZ_EREFUSED)
		return yz_fail(e, YZ_EUNAUTH, "%s", ve.msg); /* expired or not valid yet */
	if (st != YZ_OK)
		return yz_fail(e, YZ_EUNAUTH, "the certificate's signature does not verify: %s",
		               ve.msg);
	if (!client)
		return yz_fail(e, YZ_EUNAUTH,
		               "the certificate is not for signing in (no clientAuth)");
	store_conn *c;
	if ((st = store_reader(s, &c, e)) != YZ_OK)
		return st;
	store_val v[] = {sv_int(ca->id), sv_text(serial)};
	store_rows *r;
	st = store_query(
	    c,
	    "SELECT status, COALESCE(reason, 0), COALESCE(holder_user, 0) FROM pki_cert "
	    "WHERE ca_id = ? AND serial = ?",
	    v, 2, &r, e);
	if (st != YZ_OK)
		return st;
	bool found = store_next(r);
	char status[16] = "";
	int reason = 0;
	int64_t holder = 0;
	if (found) {
		yz_strlcpy(status, store_col_text(r, 0), sizeof status);
		reason = (int)store_col_int(r, 1);
		holder = store_col_int(r, 2);
	}
	if ((st = store_rows_close(r, e)) != YZ_OK)
		return st;
	if (!found)
		return yz_fail(e, YZ_EUNAUTH, "the certificate is not on this platform's register");
	if (!strcmp(status, "revoked"))
		return yz_fail(e, YZ_EFORBIDDEN, "the certificate is revoked (%s)",
		               pki_reason_name(reason));
	if (!strcmp(status, "suspended"))
		return yz_fail(e, YZ_EFORBIDDEN, "the certificate is suspended (certificateHold)");
	if (!holder)
		return yz_fail(e, YZ_EUNAUTH, "the certificate belongs to no account");
	*user_id = holder;
	snprintf(ref, refcap, "%s/%s", ca->name, serial);
	return YZ_OK;
}

yz_status pki_login_signed(store *s, const char *cert_pem, const char *challenge, const void *sig,
                           size_t siglen, int64_t *user_id, char *ref, size_t refcap, yz_err *e)
{
	yz_status st = challenge_take(challenge, e);
	if (st != YZ_OK)
		return st;
	X509 *x = pki_x509_parse(cert_pem, cert_pem ? strlen(cert_pem) : 0);
	if (!x)
		return yz_field(e, "certificate", "x509", "a certificate in PEM", NULL);
	crypto_key *key = NULL;
	unsigned char *der = NULL;
	int dn = i2d_X509(x, &der);
	st = crypto_key_from_evp(X509_get0_pubkey(x), &key, e);
	X509_free(x);
	if (st == YZ_OK && dn > 0)
		st = pki_login_check(s, der, (size_t)dn, user_id, ref, refcap, e);
	yz_err ve = {0};
	if (st == YZ_OK &&
	    crypto_verify(key, challenge, strlen(challenge), sig, siglen, &ve) != YZ_OK)
		st = yz_fail(
		    e, YZ_EUNAUTH,
		    "the signature over the challenge does not verify with the certificate's "
		    "key%s",
		    crypto_key_alg(key) == CRYPTO_SM2 ? " (SM2, ID 1234567812345678)" : "");
	crypto_key_free(key);
	OPENSSL_free(der);
	return st;
}
