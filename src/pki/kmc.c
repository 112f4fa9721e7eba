/*
 * kmc.c — the key management centre (kmc.h): its key-encryption key, data
 * keys, the GB/T 35276 key envelope, encryption key pairs of dual
 * certificates, and the recovery of archived keys on the flow engine.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "audit/audit.h"
#include "core/arena.h"
#include "core/b64.h"
#include "core/clock.h"
#include "core/jx.h"
#include "flow/flow.h"
#include "iam/iam.h"
#include "pki/kmc.h"
#include "pki/pki_int.h"

#define KMC_PEM_MAX  16384
#define KMC_AAD_MAX  192
#define KMC_ENV_MAX  4096
#define KMC_SEAL_MAX (KMC_PEM_MAX + CRYPTO_SEAL_OVERHEAD)

/* ---- the key-encryption key ---- */

static pthread_mutex_t kek_mu = PTHREAD_MUTEX_INITIALIZER;

static yz_status kek_read(const char *path, unsigned char kek[CRYPTO_SEAL_KEY_LEN], yz_err *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return yz_fail(e, errno == ENOENT ? YZ_ENOTFOUND : YZ_EIO,
		               "cannot read the KMC key-encryption key %s: %s", path,
		               strerror(errno));
	ssize_t r = read(fd, kek, CRYPTO_SEAL_KEY_LEN);
	close(fd);
	if (r != CRYPTO_SEAL_KEY_LEN)
		return yz_fail(e, YZ_EIO, "%s: not a key-encryption key", path);
	return YZ_OK;
}

/* Made as a private file beside its final name and linked into place, so
 * that two processes making it at once end up with one key, and no reader
 * ever sees half of it. */
static yz_status kek_make(const char *data_dir, const char *path,
                          unsigned char kek[CRYPTO_SEAL_KEY_LEN], yz_err *e)
{
	char dir[1024], tmp[1100];
	snprintf(dir, sizeof dir, "%s/keys", data_dir);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return yz_fail(e, YZ_EIO, "cannot create %s: %s", dir, strerror(errno));
	if (crypto_random(kek, CRYPTO_SEAL_KEY_LEN) != YZ_OK)
		return yz_fail(e, YZ_ECRYPTO, "no randomness for the KMC key-encryption key");
	snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return yz_fail(e, YZ_EIO, "cannot create %s: %s", tmp, strerror(errno));
	ssize_t w = write(fd, kek, CRYPTO_SEAL_KEY_LEN);
	int synced = fsync(fd);
	close(fd);
	if (w != CRYPTO_SEAL_KEY_LEN || synced != 0) {
		unlink(tmp);
		return yz_fail(e, YZ_EIO, "cannot write %s", tmp);
	}
	int linked = link(tmp, path);
	int err = errno;
	unlink(tmp);
	if (linked != 0 && err == EEXIST) /* another process was first: its key */
		return kek_read(path, kek, e);
	if (linked != 0)
		return yz_fail(e, YZ_EIO, "cannot create %s: %s", path, strerror(err));
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	return YZ_OK;
}

yz_status kmc_kek(const char *data_dir, bool create, unsigned char kek[CRYPTO_SEAL_KEY_LEN],
                  yz_err *e)
{
	if (!data_dir || !data_dir[0])
		return yz_fail(e, YZ_EINVAL, "the KMC needs the data directory");
	char path[1024];
	snprintf(path, sizeof path, "%s/" KMC_KEK_FILE, data_dir);
	yz_err re = {0};
	yz_status st = kek_read(path, kek, &re);
	if (st == YZ_ENOTFOUND && create) {
		pthread_mutex_lock(&kek_mu);
		st = kek_read(path, kek, NULL);
		if (st == YZ_ENOTFOUND)
			st = kek_make(data_dir, path, kek, e);
		pthread_mutex_unlock(&kek_mu);
		return st;
	}
	if (st != YZ_OK && e)
		*e = re;
	return st;
}

/* ---- small helpers ---- */

static void hex_of(const unsigned char *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static void set_time(json_t *o, const char *k, int64_t ms)
{
	if (!ms)
		return;
	char t[40];
	clock_format_city(ms, t, sizeof t);
	jx_set_str(o, k, t);
}

static void wipe_buf(buf *b)
{
	if (b->p)
		OPENSSL_cleanse(b->p, b->len);
	buf_free(b);
}

static yz_status audit_json(store_conn *tx, const yz_actor *who, const char *action,
                            const char *object, json_t *change, yz_err *e)
{
	yz_status st = audit_append(tx, who, action, object, NULL, change, e);
	json_decref(change);
	return st;
}

/* Whether a user holds a permission (anywhere): for the rules of the
 * recovery flow, whose tasks the flow engine gives by role. */
static yz_status holds_perm(store_conn *tx, int64_t user, const char *perm, bool *yes, yz_err *e)
{
	*yes = false;
	arena *a = arena_new(64 * 1024);
	if (!a)
		return yz_fail(e, YZ_ENOMEM, "out of memory");
	iam_authz *z = NULL;
	yz_scope scope;
	yz_status st = iam_authz_load(tx, user, a, &z, e);
	if (st == YZ_OK)
		*yes = iam_authz_allows(z, perm, a, &scope);
	arena_free(a);
	return st;
}

/* ---- data keys ---- */

static bool purpose_ok(const char *p)
{
	size_t n = p ? strlen(p) : 0;
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9') || p[i] == '.' ||
		      p[i] == '_' || p[i] == '-' || p[i] == ':'))
			return false;
	return true;
}

static bool key_id_ok(const char *id)
{
	size_t n = id ? strlen(id) : 0;
	if (n != 19 || strncmp(id, "dk-", 3) != 0)
		return false;
	for (size_t i = 3; i < n; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return false;
	return true;
}

static void dk_aad(char *out, size_t cap, const char *key_id, int64_t version, const char *purpose)
{
	snprintf(out, cap, "yizhan-kmc-dk:%s:%lld:%s", key_id, (long long)version, purpose);
}

typedef struct dk_job {
	const yz_actor *who;
	const unsigned char *kek;
	const char *key_id;
	const char *purpose;      /* create: given; rotate: read */
	const unsigned char *key; /* create, rotate: the new key */
	unsigned char *out;       /* get: the key */
	int64_t version;          /* get: asked (0: current); all: the version */
	int64_t now;
	enum { DK_CREATE, DK_ROTATE, DK_GET } op;
} dk_job;

static yz_status dk_insert(store_conn *tx, dk_job *j, const char *purpose, yz_err *e)
{
	char aad[KMC_AAD_MAX];
	dk_aad(aad, sizeof aad, j->key_id, j->version, purpose);
	buf wrapped;
	buf_init(&wrapped, 256);
	yz_status st = crypto_seal(j->kek, aad, strlen(aad), j->key, KMC_DATA_KEY_LEN, &wrapped);
	if (st != YZ_OK) {
		buf_free(&wrapped);
		return yz_fail(e, YZ_ECRYPTO, "cannot wrap the data key");
	}
	store_val v[] = {sv_text(j->key_id), sv_int(j->version),
	                 sv_text(purpose),   sv_blob(wrapped.p, wrapped.len),
	                 sv_int(j->now),     j->who->user_id ? sv_int(j->who->user_id) : sv_null()};
	st = store_exec(tx,
	                "INSERT INTO kmc_data_key (key_id, version, purpose, wrapped, created_at, "
	                "created_by) VALUES (?, ?, ?, ?, ?, ?)",
	                v, SV_N(v), e);
	buf_free(&wrapped);
	if (st == YZ_ECONFLICT)
		return yz_fail(e, YZ_ECONFLICT, "data key %s version %lld exists", j->key_id,
		               (long long)j->version);
	if (st != YZ_OK)
		return st;
	char object[64];
	snprintf(object, sizeof object, "kmc_data_key:%s", j->key_id);
	return audit_json(
	    tx, j->who, j->op == DK_CREATE ? "pki.kmc.datakey.create" : "pki.kmc.datakey.rotate",
	    object, json_pack("{s:s, s:I}", "purpose", purpose, "version", (json_int_t)j->version),
	    e);
}

static yz_status dk_job_fn(store_conn *tx, void *arg, yz_err *e)
{
	dk_job *j = arg;
	if (j->op == DK_CREATE) {
		j->version = 1;
		return dk_insert(tx, j, j->purpose, e);
	}
	store_val v[] = {sv_text(j->key_id), sv_int(j->version)};
	store_rows *r;
	yz_status st = store_query(
	    tx,
	    j->op == DK_GET && j->version
	        ? "SELECT version, purpose, wrapped FROM kmc_data_key WHERE key_id = ? AND "
	          "version = ?"
	        : "SELECT version, purpose, wrapped FROM kmc_data_key WHERE key_id = ? ORDER BY "
	          "version DESC LIMIT 1",
	    v, j->op == DK_GET && j->version ? 2 : 1, &r, e);
	if (st != YZ_OK)
		return st;
	if (!store_next(r)) {
		store_rows_discard(r);
		return j->op == DK_GET && j->version
		           ? yz_fail(e, YZ_ENOTFOUND, "data key %s has no version %lld", j->key_id,
		                     (long long)j->version)
		           : yz_fail(e, YZ_ENOTFOUND, "no data key %s", j->key_id);
	}
	int64_t version = store_col_int(r, 0);
	char purpose[80];
	yz_strlcpy(purpose, store_col_text(r, 1), sizeof purpose);
	if (j->op == DK_ROTATE) {
		if ((st = store_rows_close(r, e)) != YZ_OK)
			return st;
		j->version = version + 1;
		return dk_insert(tx, j, purpose, e);
	}
	size_t n;
	const void *wrapped = store_col_blob(r, 2, &n);
	char aad[KMC_AAD_MAX];
	dk_aad(aad, sizeof aad, j->key_id, version, purpose);
	buf key;
	buf_init(&key, 256);
	bool opened = crypto_open(j->kek, aad, strlen(aad), wrapped, n, &key) == YZ_OK &&
	              key.len == KMC_DATA_KEY_LEN;
	if (opened)
		memcpy(j->out, key.p, KMC_DATA_KEY_LEN);
	wipe_buf(&key);
	if ((st = store_rows_close(r, e)) != YZ_OK)
		return st;
	if (!opened)
		return yz_fail(
		    e, YZ_ECRYPTO,
		    "data key %s version %lld does not open with this KMC key-encryption "
		    "key, or it was moved from another key",
		    j->key_id, (long long)version);
	j->version = version;
	char object[64];
	snprintf(object, sizeof object, "kmc_data_key:%s", j->key_id);
	return audit_json(
	    tx, j->who, "pki.kmc.datakey.unwrap", object,
	    json_pack("{s:s, s:I}", "purpose", purpose, "version", (json_int_t)version), e);
}

yz_status kmc_data_key_create(store *s, const char *data_dir, const yz_actor *who,
                              const char *purpose, char key_id[KMC_KEY_ID_MAX], yz_err *e)
{
	if (!purpose_ok(purpose))
		return yz_field(e, "purpose", "pattern",
		                "1 to 64 characters: a-z, 0-9, '.', '_', '-', ':'", purpose);
	unsigned char kek[CRYPTO_SEAL_KEY_LEN], key[KMC_DATA_KEY_LEN], rnd[8];
	yz_status st = kmc_kek(data_dir, true, kek, e);
	if (st == YZ_OK &&
	    (crypto_random(key, sizeof key) != YZ_OK || crypto_random(rnd, sizeof rnd) != YZ_OK))
		st = yz_fail(e, YZ_ECRYPTO, "no randomness for a data key");
	char id[KMC_KEY_ID_MAX] = "dk-";
	hex_of(rnd, sizeof rnd, id + 3);
	dk_job j = {.who = who,
	            .kek = kek,
	            .key_id = id,
	            .purpose = purpose,
	            .key = key,
	            .now = clock_now_ms(),
	            .op = DK_CREATE};
	if (st == YZ_OK)
		st = store_write(s, dk_job_fn, &j, e);
	if (st == YZ_OK)
		yz_strlcpy(key_id, id, KMC_KEY_ID_MAX);
	OPENSSL_cleanse(kek, sizeof kek);
	OPENSSL_cleanse(key, sizeof key);
	return st;
}

yz_status kmc_data_key_rotate(store *s, const char *data_dir, const yz_actor *who,
                              const char *key_id, int *version, yz_err *e)
{
	if (!key_id_ok(key_id))
		return yz_fail(e, YZ_ENOTFOUND, "no data key %s", key_id ? key_id : "");
	unsigned char kek[CRYPTO_SEAL_KEY_LEN], key[KMC_DATA_KEY_LEN];
	yz_status st = kmc_kek(data_dir, false, kek, e);
	if (st == YZ_ENOTFOUND)
		st = yz_fail(e, YZ_ENOTFOUND, "no data key %s (the KMC has none yet)", key_id);
	if (st == YZ_OK && crypto_random(key, sizeof key) != YZ_OK)
		st = yz_fail(e, YZ_ECRYPTO, "no randomness for a data key");
	dk_job j = {.who = who,
	            .kek = kek,
	            .key_id = key_id,
	            .key = key,
	            .now = clock_now_ms(),
	            .op = DK_ROTATE};
	if (st == YZ_OK)
		st = store_write(s, dk_job_fn, &j, e);
	if (st == YZ_OK && version)
		*version = (int)j.version;
	OPENSSL_cleanse(kek, sizeof kek);
	OPENSSL_cleanse(key, sizeof key);
	return st;
}

yz_status kmc_data_key_get(store *s, const char *data_dir, const yz_actor *who, const char *key_id,
                           int version, unsigned char key[KMC_DATA_KEY_LEN], int *got, yz_err *e)
{
	if (!key_id_ok(key_id))
		return yz_fail(e, YZ_ENOTFOUND, "no data key %s", key_id ? key_id : "");
	if (version < 0)
		return yz_fail(e, YZ_ENOTFOUND, "data key %s has no version %d", key_id, version);
	unsigned char kek[CRYPTO_SEAL_KEY_LEN];
	yz_status st = kmc_kek(data_dir, false, kek, e);
	if (st == YZ_ENOTFOUND)
		st = yz_fail(e, YZ_ENOTFOUND, "no data key %s (the KMC has none yet)", key_id);
	dk_job j = {.who = who,
	            .kek = kek,
	            .key_id = key_id,
	            .out = key,
	            .version = version,
	            .now = clock_now_ms(),
	            .op = DK_GET};
	if (st == YZ_OK)
		st = store_write(s, dk_job_fn, &j, e);
	if (st == YZ_OK && got)
		*got = (int)j.version;
	if (st != YZ_OK)
		OPENSSL_cleanse(key, KMC_DATA_KEY_LEN);
	OPENSSL_cleanse(kek, sizeof kek);
	return st;
}

yz_status kmc_data_key_list(store_conn *c, json_t **out, yz_err *e)
{
	store_rows *r;
	yz_status st = store_query(c,
	                           "SELECT key_id, version, purpose, created_at FROM kmc_data_key "
	                           "ORDER BY key_id, version",
	                           NULL, 0, &r, e);
	if (st != YZ_OK)
		return st;
	json_t *items = json_array(), *cur = NULL;
	while (store_next(r)) {
		const char *id = store_col_text(r, 0);
		if (!cur || strcmp(jx_str(cur, "key_id", ""), id) != 0) {
			cur = json_object();
			jx_set_str(cur, "key_id", id);
			jx_set_str(cur, "purpose", store_col_text(r, 2));
			set_time(cur, "created_at", store_col_int(r, 3));
			json_object_set_new(cur, "versions", json_array());
			json_array_append_new(items, cur);
		}
		json_t *v = json_object();
		jx_set_int(v, "version", store_col_int(r, 1));
		set_time(v, "created_at", store_col_int(r, 3));
		json_array_append_new(json_object_get(cur, "versions"), v);
		jx_set_int(cur, "version", store_col_int(r, 1));
	}
	if ((st = store_rows_close(r, e)) != YZ_OK) {
		json_decref(items);
		return st;
	}
	*out = json_pack("{s:o}", "items", items);
	return YZ_OK;
}

void kmc_blind_key(const unsigned char key[KMC_DATA_KEY_LEN], const char *label,
                   unsigned char out[CRYPTO_SM3_LEN])
{
	char msg[160];
	int n = snprintf(msg, sizeof msg, "yizhan-blind-index:%s", label ? label : "");
	crypto_hmac_sm3(key, KMC_DATA_KEY_LEN, msg,
	                n < 0                    ? 0
	                : (size_t)n < sizeof msg ? (size_t)n
	                                         : sizeof msg - 1,
	                out);
}

/* ---- the envelope (GB/T 35276 SM2EnvelopedKey) ---- */

/* sm4-ecb, 1.2.156.10197.1.104.1 */
static const unsigned char oid_sm4_ecb[] = {0x06, 0x08, 0x2a, 0x81, 0x1c,
                                            0xcf, 0x55, 0x01, 0x68, 0x01};

static yz_status der_head(buf *b, unsigned char tag, size_t n)
{
	unsigned char h[6];
	size_t k = 0;
	h[k++] = tag;
	if (n < 0x80) {
		h[k++] = (unsigned char)n;
	} else if (n < 0x100) {
		h[k++] = 0x81;
		h[k++] = (unsigned char)n;
	} else if (n < 0x10000) {
		h[k++] = 0x82;
		h[k++] = (unsigned char)(n >> 8);
		h[k++] = (unsigned char)n;
	} else {
		return YZ_ETOOBIG;
	}
	return buf_append(b, h, k);
}

static yz_status der_bits(buf *b, const unsigned char *p, size_t n)
{
	yz_status st = der_head(b, 0x03, n + 1);
	BUF_TRY(st, buf_append(b, "", 1)); /* no unused bits */
	BUF_TRY(st, buf_append(b, p, n));
	return st;
}

typedef struct der_rd {
	const unsigned char *p;
	size_t n;
} der_rd;

/* The next TLV: its tag, its value, and the whole TLV. */
static bool der_next(der_rd *rd, unsigned char *tag, const unsigned char **val, size_t *vlen,
                     const unsigned char **tlv, size_t *tlvlen)
{
	if (rd->n < 2)
		return false;
	const unsigned char *p = rd->p;
	size_t at = 2, len = p[1];
	if (len & 0x80) {
		size_t k = len & 0x7f;
		if (k == 0 || k > 2 || rd->n < 2 + k)
			return false;
		len = 0;
		for (size_t i = 0; i < k; i++)
			len = len << 8 | p[2 + i];
		if (len < 0x80 || (k == 2 && len < 0x100)) /* not the shortest form: not DER */
			return false;
		at += k;
	}
	if (len > rd->n - at)
		return false;
	*tag = p[0];
	*val = p + at;
	*vlen = len;
	if (tlv) {
		*tlv = p;
		*tlvlen = at + len;
	}
	rd->p += at + len;
	rd->n -= at + len;
	return true;
}

yz_status kmc_envelope_seal(const crypto_key *priv, const crypto_key *recipient, buf *out,
                            yz_err *e)
{
	if (!priv || crypto_key_alg(priv) != CRYPTO_SM2 || !crypto_key_is_private(priv))
		return yz_fail(e, YZ_EINVAL, "an envelope carries an SM2 private key");
	if (!recipient || crypto_key_alg(recipient) != CRYPTO_SM2)
		return yz_fail(e, YZ_EINVAL, "an envelope is made for an SM2 public key");
	unsigned char sym[CRYPTO_SM4_KEY_LEN], d[32], encd[32], point[CRYPTO_EC_POINT_LEN];
	buf cipher, inner;
	buf_init(&cipher, 1024);
	buf_init(&inner, KMC_ENV_MAX);
	yz_status st = crypto_random(sym, sizeof sym) == YZ_OK
	                   ? YZ_OK
	                   : yz_fail(e, YZ_ECRYPTO, "no randomness for the envelope key");
	if (st == YZ_OK)
		st = crypto_sm2_private_raw(priv, d, e);
	if (st == YZ_OK && (crypto_sm4_ecb_block(sym, d, encd, true) != YZ_OK ||
	                    crypto_sm4_ecb_block(sym, d + 16, encd + 16, true) != YZ_OK))
		st = yz_fail(e, YZ_ECRYPTO, "SM4 failed");
	if (st == YZ_OK)
		st = crypto_sm2_encrypt(recipient, sym, sizeof sym, &cipher, e);
	if (st == YZ_OK && crypto_key_ec_point(priv, point) != YZ_OK)
		st = yz_fail(e, YZ_ECRYPTO, "cannot read the public key");
	if (st == YZ_OK) {
		yz_status bs = der_head(&inner, 0x30, sizeof oid_sm4_ecb);
		BUF_TRY(bs, buf_append(&inner, oid_sm4_ecb, sizeof oid_sm4_ecb));
		BUF_TRY(bs, buf_append(&inner, cipher.p, cipher.len));
		BUF_TRY(bs, der_bits(&inner, point, sizeof point));
		BUF_TRY(bs, der_bits(&inner, encd, sizeof encd));
		BUF_TRY(bs, der_head(out, 0x30, inner.len));
		BUF_TRY(bs, buf_append(out, inner.p, inner.len));
		if (bs != YZ_OK)
			st = yz_fail(e, bs, "the envelope does not fit");
	}
	OPENSSL_cleanse(sym, sizeof sym);
	OPENSSL_cleanse(d, sizeof d);
	buf_free(&cipher);
	buf_free(&inner);
	return st;
}

yz_status kmc_envelope_open(const void *der, size_t n, const crypto_key *recipient,
                            crypto_key **out, yz_err *e)
{
	*out = NULL;
	der_rd top = {der, n}, in;
	unsigned char tag;
	const unsigned char *v, *alg, *cipher, *pub, *encd, *tlv;
	size_t vn, algn, ciphern, pubn, encdn, tlvn;
	if (!der || !der_next(&top, &tag, &v, &vn, NULL, NULL) || tag != 0x30 || top.n != 0)
		return yz_fail(e, YZ_EINVAL, "not an SM2EnvelopedKey (DER SEQUENCE)");
	in = (der_rd){v, vn};
	if (!der_next(&in, &tag, &alg, &algn, NULL, NULL) || tag != 0x30)
		return yz_fail(e, YZ_EINVAL, "SM2EnvelopedKey: no symAlgID");
	der_rd a = {alg, algn};
	const unsigned char *oid;
	size_t oidn;
	if (!der_next(&a, &tag, &oid, &oidn, &tlv, &tlvn) || tlvn != sizeof oid_sm4_ecb ||
	    memcmp(tlv, oid_sm4_ecb, tlvn) != 0)
		return yz_fail(e, YZ_EINVAL, "SM2EnvelopedKey: symAlgID is not sm4-ecb");
	if (!der_next(&in, &tag, &v, &vn, &cipher, &ciphern) || tag != 0x30)
		return yz_fail(e, YZ_EINVAL, "SM2EnvelopedKey: no symEncryptedKey (SM2Cipher)");
	if (!der_next(&in, &tag, &pub, &pubn, NULL, NULL) || tag != 0x03 ||
	    pubn != 1 + CRYPTO_EC_POINT_LEN || pub[0] != 0 || pub[1] != 0x04)
		return yz_fail(e, YZ_EINVAL, "SM2EnvelopedKey: Sm2PublicKey is not 04 || x || y");
	if (!der_next(&in, &tag, &encd, &encdn, NULL, NULL) || tag != 0x03 || encdn != 33 ||
	    encd[0] != 0 || in.n != 0)
		return yz_fail(e, YZ_EINVAL,
		               "SM2EnvelopedKey: Sm2EncryptedPrivateKey is not 32 bytes");
	buf sym;
	buf_init(&sym, 256);
	yz_status st = crypto_sm2_decrypt(recipient, cipher, ciphern, &sym, e);
	if (st == YZ_OK && sym.len != CRYPTO_SM4_KEY_LEN)
		st = yz_fail(e, YZ_ECRYPTO, "SM2EnvelopedKey: the symmetric key is not 16 bytes");
	unsigned char d[32];
	if (st == YZ_OK &&
	    (crypto_sm4_ecb_block((unsigned char *)sym.p, encd + 1, d, false) != YZ_OK ||
	     crypto_sm4_ecb_block((unsigned char *)sym.p, encd + 17, d + 16, false) != YZ_OK))
		st = yz_fail(e, YZ_ECRYPTO, "SM4 failed");
	/* the standard gives d no integrity of its own: d·G must be the
	 * enclosed public key (a wrong or damaged d fails here) */
	yz_err ke = {0};
	if (st == YZ_OK && crypto_sm2_key_from_raw(d, pub + 2, pub + 34, out, &ke) != YZ_OK)
		st = yz_fail(e, YZ_ECRYPTO,
		             "SM2EnvelopedKey: the private key does not match the enclosed public "
		             "key (%s)",
		             ke.msg);
	OPENSSL_cleanse(d, sizeof d);
	wipe_buf(&sym);
	return st;
}

/* ---- certificates the KMC works with ---- */

/* A certificate of the CA (record with "pem") that is valid now, with its
 * public key, which must be SM2. field names the input for errors. */
static yz_status usable_cert(store_conn *c, const char *ca, const char *serial, const char *field,
                             json_t **rec, X509 **x, crypto_key **key, yz_err *e)
{
	*rec = NULL;
	*x = NULL;
	*key = NULL;
	yz_err ge = {0};
	if (!pki_ca_find(ca))
		return yz_field(e, field[0] == 'r' ? "recipient_ca" : "ca", "exists",
		                "the name of a CA", ca);
	yz_status st = pki_cert_get(c, ca, serial, true, rec, &ge);
	if (st == YZ_ENOTFOUND)
		return yz_field(e, field, "exists", "the serial of a certificate of that CA",
		                serial);
	if (st != YZ_OK) {
		if (e)
			*e = ge;
		return st;
	}
	const char *pem = jx_str(*rec, "pem", "");
	if (strcmp(jx_str(*rec, "status", ""), "valid") != 0 || jx_bool(*rec, "expired", false))
		st = yz_field(e, field, "valid",
		              "a certificate that is valid now (not revoked, "
		              "suspended or expired)",
		              jx_str(*rec, "status", ""));
	if (st == YZ_OK && !(*x = pki_x509_parse(pem, strlen(pem))))
		st = yz_fail(e, YZ_EDB, "the stored certificate does not parse");
	yz_err ke = {0};
	if (st == YZ_OK && (crypto_key_from_evp(X509_get0_pubkey(*x), key, &ke) != YZ_OK ||
	                    crypto_key_alg(*key) != CRYPTO_SM2))
		st = yz_field(e, field, "sm2", "a certificate of an SM2 key (an envelope is SM2)",
		              NULL);
	if (st != YZ_OK) {
		json_decref(*rec);
		X509_free(*x);
		crypto_key_free(*key);
		*rec = NULL;
		*x = NULL;
		*key = NULL;
	}
	return st;
}

/* Whether a profile certifies encryption keys only: some of keyEncipherment,
 * dataEncipherment, keyAgreement, and neither digitalSignature nor
 * nonRepudiation (a signing key is never escrowed). */
static bool profile_is_encryption(json_t *prof)
{
	size_t i;
	json_t *u;
	bool enc = false;
	json_array_foreach (json_object_get(prof, "key_usage"), i, u) {
		const char *s = json_string_value(u);
		if (!s)
			continue;
		if (!strcmp(s, "digitalSignature") || !strcmp(s, "nonRepudiation"))
			return false;
		if (!strcmp(s, "keyEncipherment") || !strcmp(s, "dataEncipherment") ||
		    !strcmp(s, "keyAgreement"))
			enc = true;
	}
	return enc;
}

static void name_entry(X509_NAME *n, int nid, char *out, size_t cap)
{
	out[0] = '\0';
	int at = X509_NAME_get_index_by_NID(n, nid, -1);
	if (at < 0)
		return;
	unsigned char *u = NULL;
	int len = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, at)));
	if (len > 0 && (size_t)len < cap) {
		memcpy(out, u, (size_t)len);
		out[len] = '\0';
	}
	OPENSSL_free(u);
}

static void san_email(X509 *x, char *out, size_t cap)
{
	out[0] = '\0';
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens) && !out[0]; i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		if (g->type == GEN_EMAIL && ASN1_STRING_length(g->d.rfc822Name) < (int)cap) {
			memcpy(out, ASN1_STRING_get0_data(g->d.rfc822Name),
			       (size_t)ASN1_STRING_length(g->d.rfc822Name));
			out[ASN1_STRING_length(g->d.rfc822Name)] = '\0';
		}
	}
	GENERAL_NAMES_free(gens);
}

/* ---- encryption key pairs ---- */

static bool check_plain(json_t *v, const char **rule, const char **expected)
{
	const char *s = json_string_value(v);
	*rule = "pattern";
	*expected = "lower-case letters, digits and '-'";
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
			return false;
	return true;
}

static const jx_field enc_fields[] = {
    {"ca", JX_STRING, true, 1, 31, check_plain},
    {"serial", JX_STRING, true, 1, 64, NULL},
    {"profile", JX_STRING, false, 1, 31, check_plain},
    {NULL, 0, false, 0, 0, NULL},
};

typedef struct enc_job {
	const yz_actor *who;
	json_t *issue_in;
	const char *key_id, *holder_ca, *holder_serial, *cn;
	int64_t holder_user, now;
	const buf *sealed;
	json_t *cert; /* out */
} enc_job;

static yz_status enc_job_fn(store_conn *tx, void *arg, yz_err *e)
{
	enc_job *j = arg;
	json_decref(j->cert); /* a second run of the job starts afresh */
	j->cert = NULL;
	yz_status st = pki_issue_tx(tx, j->who, j->issue_in, &j->cert, e);
	if (st != YZ_OK)
		return st;
	const char *ca = jx_str(j->cert, "ca", ""), *serial = jx_str(j->cert, "serial", "");
	store_val v[] = {sv_text(j->key_id),
	                 sv_text(ca),
	                 sv_text(serial),
	                 sv_text(j->holder_ca),
	                 sv_text(j->holder_serial),
	                 j->holder_user ? sv_int(j->holder_user) : sv_null(),
	                 sv_text(j->cn),
	                 sv_blob(j->sealed->p, j->sealed->len),
	                 sv_int(j->now),
	                 j->who->user_id ? sv_int(j->who->user_id) : sv_null()};
	st = store_exec(tx,
	                "INSERT INTO kmc_enc_key (key_id, ca, serial, holder_ca, holder_serial, "
	                "holder_user, cn, private_sealed, created_at, created_by) VALUES (?, ?, ?, "
	                "?, ?, ?, ?, ?, ?, ?)",
	                v, SV_N(v), e);
	if (st != YZ_OK)
		return st;
	char object[96];
	snprintf(object, sizeof object, "kmc_enc_key:%s/%s", ca, serial);
	return audit_json(tx, j->who, "pki.kmc.enckey.archive", object,
	                  json_pack("{s:s, s:s, s:s, s:s}", "key_id", j->key_id, "holder_ca",
	                            j->holder_ca, "holder_serial", j->holder_serial, "profile",
	                            jx_str(j->issue_in, "profile", "")),
	                  e);
}

static yz_status find_profile(store_conn *c, const char *name, json_t **out, yz_err *e)
{
	json_t *all = NULL;
	yz_status st = pki_profiles_get(c, &all, e);
	if (st != YZ_OK)
		return st;
	size_t i;
	json_t *p;
	*out = NULL;
	json_array_foreach (all, i, p)
		if (!strcmp(jx_str(p, "name", ""), name))
			*out = json_incref(p);
	json_decref(all);
	return *out ? YZ_OK
	            : yz_field(e, "profile", "exists", "the name of a certificate profile", name);
}

yz_status kmc_enc_key_issue(store *s, const char *data_dir, const yz_actor *who, json_t *in,
                            json_t **out, yz_err *e)
{
	yz_status st = jx_validate(in, enc_fields, e);
	if (st != YZ_OK)
		return st;
	const char *ca = jx_str(in, "ca", ""), *pname = jx_str(in, "profile", "user-enc");
	char serial[PKI_SERIAL_HEX + 8];
	if (!pki_serial_norm(jx_str(in, "serial", ""), serial, sizeof serial))
		return yz_field(e, "serial", "hex", "a serial number in hexadecimal",
		                jx_str(in, "serial", ""));
	store_conn *c;
	json_t *prof = NULL, *rec = NULL, *issue_in = NULL;
	X509 *x = NULL;
	crypto_key *holder = NULL, *enc = NULL;
	if ((st = store_reader(s, &c, e)) != YZ_OK ||
	    (st = find_profile(c, pname, &prof, e)) != YZ_OK)
		return st;
	/* a signing key is never escrowed: only an encryption profile */
	if (!profile_is_encryption(prof)) {
		yz_fail(
		    e, YZ_EREFUSED,
		    "signing keys are never escrowed: profile %s certifies signing keys; the KMC "
		    "archives encryption keys only",
		    pname);
		yz_field(e, "profile", "no-signing-key-escrow",
		         "a profile for encryption keys (keyEncipherment, dataEncipherment or "
		         "keyAgreement; no digitalSignature or nonRepudiation)",
		         pname);
		json_decref(prof);
		return YZ_EREFUSED;
	}
	st = usable_cert(c, ca, serial, "serial", &rec, &x, &holder, e);
	if (st == YZ_OK && !(X509_get_key_usage(x) & KU_DIGITAL_SIGNATURE))
		st = yz_field(e, "serial", "signing-certificate",
		              "the holder's signing certificate (key usage digitalSignature)",
		              jx_str(rec, "profile", ""));
	/* the encryption certificate: same CA, the subject fields of the signing
	 * certificate that the profile allows, the same holder, not beyond it */
	if (st == YZ_OK) {
		issue_in = json_pack("{s:s, s:s}", "ca", ca, "profile", pname);
		json_t *spec = json_object_get(prof, "subject");
		char o[128], ou[128], email[200];
		name_entry(X509_get_subject_name(x), NID_organizationName, o, sizeof o);
		name_entry(X509_get_subject_name(x), NID_organizationalUnitName, ou, sizeof ou);
		san_email(x, email, sizeof email);
		const char *vals[][2] = {{"cn", jx_str(rec, "cn", "")},
		                         {"o", o},
		                         {"ou", ou},
		                         {"id_number", jx_str(rec, "id_number", "")},
		                         {"uscc", jx_str(rec, "uscc", "")},
		                         {"email", email}};
		for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
			if (vals[i][1][0] && json_object_get(spec, vals[i][0]))
				jx_set_str(issue_in, vals[i][0], vals[i][1]);
		if (jx_int(rec, "holder_user", 0))
			jx_set_int(issue_in, "holder_user", jx_int(rec, "holder_user", 0));
		int64_t left = (pki_asn1_ms(X509_get0_notAfter(x)) - clock_now_ms()) / 86400000LL;
		if (left < jx_int(prof, "validity_days", 365))
			jx_set_int(issue_in, "validity_days", left < 1 ? 1 : left);
	}
	/* the key pair, archived sealed under the KMC's KEK */
	unsigned char kek[CRYPTO_SEAL_KEY_LEN], kid[CRYPTO_SM3_LEN];
	char key_id[2 * CRYPTO_SM3_LEN + 1], aad[KMC_AAD_MAX];
	buf pem, pub, sealed, env;
	buf_init(&pem, KMC_PEM_MAX);
	buf_init(&pub, KMC_PEM_MAX);
	buf_init(&sealed, KMC_SEAL_MAX);
	buf_init(&env, KMC_ENV_MAX);
	if (st == YZ_OK)
		st = kmc_kek(data_dir, true, kek, e);
	if (st == YZ_OK)
		st = crypto_key_generate(CRYPTO_SM2, &enc, e);
	if (st == YZ_OK && crypto_key_id(enc, kid) != YZ_OK)
		st = yz_fail(e, YZ_ECRYPTO, "cannot identify the key");
	if (st == YZ_OK) {
		hex_of(kid, sizeof kid, key_id);
		snprintf(aad, sizeof aad, "yizhan-kmc-enc:%s", key_id);
		st = crypto_key_to_pem(enc, true, NULL, &pem, e);
	}
	if (st == YZ_OK && crypto_seal(kek, aad, strlen(aad), pem.p, pem.len, &sealed) != YZ_OK)
		st = yz_fail(e, YZ_ECRYPTO, "cannot seal the private key");
	if (st == YZ_OK)
		st = crypto_key_to_pem(enc, false, NULL, &pub, e);
	/* the envelope to the holder's signing key, made before anything is
	 * recorded: what is archived is also delivered */
	if (st == YZ_OK)
		st = kmc_envelope_seal(enc, holder, &env, e);
	enc_job j = {.who = who,
	             .key_id = key_id,
	             .holder_ca = ca,
	             .holder_serial = serial,
	             .cn = jx_str(rec, "cn", ""),
	             .holder_user = jx_int(rec, "holder_user", 0),
	             .now = clock_now_ms(),
	             .sealed = &sealed};
	if (st == YZ_OK) {
		jx_set_str(issue_in, "public_key", pub.p);
		j.issue_in = issue_in;
		st = store_write(s, enc_job_fn, &j, e);
	}
	buf b64;
	buf_init(&b64, 2 * KMC_ENV_MAX);
	if (st == YZ_OK && b64_encode(env.p, env.len, false, &b64) != YZ_OK)
		st = yz_fail(e, YZ_ETOOBIG, "the envelope does not fit");
	if (st == YZ_OK && out)
		*out = json_pack("{s:O, s:s, s:s, s:s, s:{s:s, s:s}}", "certificate", j.cert,
		                 "key_id", key_id, "envelope", b64.p, "envelope_format",
		                 KMC_ENVELOPE_FORMAT, "recipient", "ca", ca, "serial", serial);
	json_decref(j.cert);
	OPENSSL_cleanse(kek, sizeof kek);
	wipe_buf(&pem);
	buf_free(&pub);
	buf_free(&sealed);
	buf_free(&env);
	buf_free(&b64);
	crypto_key_free(enc);
	crypto_key_free(holder);
	X509_free(x);
	json_decref(rec);
	json_decref(prof);
	json_decref(issue_in);
	return st;
}

static json_t *enc_record(store_rows *r)
{
	json_t *o = json_object();
	jx_set_str(o, "key_id", store_col_text(r, 1));
	jx_set_str(o, "ca", store_col_text(r, 2));
	jx_set_str(o, "serial", store_col_text(r, 3));
	json_object_set_new(
	    o, "holder_certificate",
	    json_pack("{s:s, s:s}", "ca", store_col_text(r, 4), "serial", store_col_text(r, 5)));
	if (store_col_int(r, 6))
		jx_set_int(o, "holder_user", store_col_int(r, 6));
	jx_set_str(o, "cn", store_col_text(r, 7));
	set_time(o, "archived_at", store_col_int(r, 8));
	jx_set_int(o, "id", store_col_int(r, 0));
	return o;
}

yz_status kmc_enc_key_list(store_conn *c, json_t *f, json_t **out, yz_err *e)
{
	char sql[512] = "SELECT id, key_id, ca, serial, holder_ca, holder_serial, "
	                "COALESCE(holder_user, 0), cn, created_at FROM kmc_enc_key WHERE 1 = 1";
	store_val v[8];
	int n = 0;
	size_t len = strlen(sql);
	char serial[PKI_SERIAL_HEX + 8];
#define ADD(cond) (len += (size_t)snprintf(sql + len, sizeof sql - len, "%s", cond))
	if (jx_int(f, "holder_user", 0)) {
		ADD(" AND holder_user = ?");
		v[n++] = sv_int(jx_int(f, "holder_user", 0));
	}
	if (jx_str(f, "ca", "")[0]) {
		ADD(" AND (ca = ? OR holder_ca = ?)");
		v[n++] = sv_text(jx_str(f, "ca", ""));
		v[n++] = sv_text(jx_str(f, "ca", ""));
	}
	if (jx_str(f, "serial", "")[0]) {
		if (!pki_serial_norm(jx_str(f, "serial", ""), serial, sizeof serial))
			return yz_field(e, "serial", "hex", "a serial number in hexadecimal",
			                jx_str(f, "serial", ""));
		ADD(" AND (serial = ? OR holder_serial = ?)");
		v[n++] = sv_text(serial);
		v[n++] = sv_text(serial);
	}
	if (jx_int(f, "before", 0)) {
		ADD(" AND id < ?");
		v[n++] = sv_int(jx_int(f, "before", 0));
	}
	int64_t limit = jx_int(f, "limit", 50);
	limit = limit < 1 ? 1 : limit > 200 ? 200 : limit;
	ADD(" ORDER BY id DESC LIMIT ?");
#undef ADD
	v[n++] = sv_int(limit);
	store_rows *r;
	yz_status st = store_query(c, sql, v, n, &r, e);
	if (st != YZ_OK)
		return st;
	json_t *items = json_array();
	int64_t last = 0;
	while (store_next(r)) {
		last = store_col_int(r, 0);
		json_array_append_new(items, enc_record(r));
	}
	if ((st = store_rows_close(r, e)) != YZ_OK) {
		json_decref(items);
		return st;
	}
	*out = json_pack("{s:o}", "items", items);
	if ((int64_t)json_array_size(items) == limit)
		jx_set_int(*out, "next_before", last);
	return YZ_OK;
}

/* ---- recovery ---- */

static const jx_field recovery_fields[] = {
    {"ca", JX_STRING, true, 1, 31, check_plain},
    {"serial", JX_STRING, true, 1, 64, NULL},
    {"reason", JX_STRING, true, 4, 500, NULL},
    {"recipient_ca", JX_STRING, true, 1, 31, check_plain},
    {"recipient_serial", JX_STRING, true, 1, 64, NULL},
    {NULL, 0, false, 0, 0, NULL},
};

#define REC_COLS                                                                                   \
	"r.id, r.status, r.reason, r.requester, r.requester_login, r.recipient_ca, "               \
	"r.recipient_serial, COALESCE(r.instance_id, 0), r.approvals, r.created_at, "              \
	"COALESCE(r.closed_at, 0), COALESCE(r.released_at, 0), COALESCE(r.released_by_login, "     \
	"''), "                                                                                    \
	"k.key_id, k.ca, k.serial, k.cn, k.id"

static json_t *recovery_record(store_rows *r)
{
	json_t *o = json_object();
	jx_set_int(o, "id", store_col_int(r, 0));
	jx_set_str(o, "status", store_col_text(r, 1));
	json_object_set_new(o, "key",
	                    json_pack("{s:s, s:s, s:s, s:s}", "key_id", store_col_text(r, 13), "ca",
	                              store_col_text(r, 14), "serial", store_col_text(r, 15), "cn",
	                              store_col_text(r, 16)));
	jx_set_str(o, "reason", store_col_text(r, 2));
	json_object_set_new(o, "requester",
	                    json_pack("{s:I, s:s}", "id", (json_int_t)store_col_int(r, 3), "login",
	                              store_col_text(r, 4)));
	json_object_set_new(
	    o, "recipient",
	    json_pack("{s:s, s:s}", "ca", store_col_text(r, 5), "serial", store_col_text(r, 6)));
	if (store_col_int(r, 7))
		jx_set_int(o, "instance_id", store_col_int(r, 7));
	jx_set_int(o, "approved_by", store_col_int(r, 8));
	jx_set_int(o, "needed", KMC_RECOVERY_QUORUM);
	set_time(o, "created_at", store_col_int(r, 9));
	set_time(o, "closed_at", store_col_int(r, 10));
	set_time(o, "released_at", store_col_int(r, 11));
	if (store_col_text(r, 12)[0])
		jx_set_str(o, "released_by", store_col_text(r, 12));
	return o;
}

yz_status kmc_recovery_get(store_conn *c, int64_t id, json_t **out, yz_err *e)
{
	store_val v[] = {sv_int(id)};
	store_rows *r;
	yz_status st = store_query(c,
	                           "SELECT " REC_COLS " FROM kmc_recovery r JOIN kmc_enc_key k ON "
	                           "k.id = r.enc_key_id WHERE r.id = ?",
	                           v, 1, &r, e);
	if (st != YZ_OK)
		return st;
	json_t *o = store_next(r) ? recovery_record(r) : NULL;
	if ((st = store_rows_close(r, e)) == YZ_OK && !o)
		st = yz_fail(e, YZ_ENOTFOUND, "no key recovery request %lld", (long long)id);
	if (st == YZ_OK)
		st = store_query(c,
		                 "SELECT user_id, login, step, at FROM kmc_recovery_approval WHERE "
		                 "recovery_id = ? ORDER BY at, user_id",
		                 v, 1, &r, e);
	if (st == YZ_OK) {
		json_t *list = json_array();
		while (store_next(r)) {
			json_t *a =
			    json_pack("{s:I, s:s, s:s}", "user", (json_int_t)store_col_int(r, 0),
			              "login", store_col_text(r, 1), "step", store_col_text(r, 2));
			set_time(a, "at", store_col_int(r, 3));
			json_array_append_new(list, a);
		}
		json_object_set_new(o, "approvals", list);
		st = store_rows_close(r, e);
	}
	if (st != YZ_OK) {
		json_decref(o);
		return st;
	}
	*out = o;
	return YZ_OK;
}

yz_status kmc_recovery_list(store_conn *c, json_t *f, json_t **out, yz_err *e)
{
	char sql[1024] = "SELECT " REC_COLS " FROM kmc_recovery r JOIN kmc_enc_key k ON k.id = "
	                 "r.enc_key_id WHERE 1 = 1";
	store_val v[4];
	int n = 0;
	size_t len = strlen(sql);
	const char *status = jx_str(f, "status", "");
	if (status[0] && strcmp(status, "open") && strcmp(status, "approved") &&
	    strcmp(status, "refused") && strcmp(status, "released"))
		return yz_field(e, "status", "enum", "open, approved, refused or released", status);
	if (status[0]) {
		len += (size_t)snprintf(sql + len, sizeof sql - len, " AND r.status = ?");
		v[n++] = sv_text(status);
	}
	if (jx_int(f, "before", 0)) {
		len += (size_t)snprintf(sql + len, sizeof sql - len, " AND r.id < ?");
		v[n++] = sv_int(jx_int(f, "before", 0));
	}
	int64_t limit = jx_int(f, "limit", 50);
	limit = limit < 1 ? 1 : limit > 200 ? 200 : limit;
	snprintf(sql + len, sizeof sql - len, " ORDER BY r.id DESC LIMIT ?");
	v[n++] = sv_int(limit);
	store_rows *r;
	yz_status st = store_query(c, sql, v, n, &r, e);
	if (st != YZ_OK)
		return st;
	json_t *items = json_array();
	while (store_next(r))
		json_array_append_new(items, recovery_record(r));
	if ((st = store_rows_close(r, e)) != YZ_OK) {
		json_decref(items);
		return st;
	}
	*out = json_pack("{s:o}", "items", items);
	return YZ_OK;
}

/* The archived key of an encryption certificate: its row id and key id. */
static yz_status archived_key(store_conn *c, const char *ca, const char *serial, int64_t *id,
                              char key_id[2 * CRYPTO_SM3_LEN + 1], char *cn, size_t cncap,
                              yz_err *e)
{
	store_val v[] = {sv_text(ca), sv_text(serial)};
	store_rows *r;
	yz_status st = store_query(
	    c, "SELECT id, key_id, cn FROM kmc_enc_key WHERE ca = ? AND serial = ?", v, 2, &r, e);
	if (st != YZ_OK)
		return st;
	*id = 0;
	if (store_next(r)) {
		*id = store_col_int(r, 0);
		yz_strlcpy(key_id, store_col_text(r, 1), 2 * CRYPTO_SM3_LEN + 1);
		if (cn)
			yz_strlcpy(cn, store_col_text(r, 2), cncap);
	}
	if ((st = store_rows_close(r, e)) != YZ_OK)
		return st;
	if (!*id)
		return yz_field(e, "serial", "archived",
		                "an encryption certificate whose key the KMC archived", serial);
	return YZ_OK;
}

yz_status kmc_recovery_request(store *s, const yz_actor *who, json_t *in, json_t **out, yz_err *e)
{
	yz_status st = jx_validate(in, recovery_fields, e);
	if (st != YZ_OK)
		return st;
	char serial[PKI_SERIAL_HEX + 8], rserial[PKI_SERIAL_HEX + 8];
	bool bad = false;
	if (!pki_serial_norm(jx_str(in, "serial", ""), serial, sizeof serial)) {
		yz_field(e, "serial", "hex", "a serial number in hexadecimal",
		         jx_str(in, "serial", ""));
		bad = true;
	}
	if (!pki_serial_norm(jx_str(in, "recipient_serial", ""), rserial, sizeof rserial)) {
		yz_field(e, "recipient_serial", "hex", "a serial number in hexadecimal",
		         jx_str(in, "recipient_serial", ""));
		bad = true;
	}
	if (bad)
		return YZ_EINVAL;
	if (!flow_def_get(KMC_RECOVERY_FLOW, 0))
		return yz_fail(e, YZ_ECONFLICT,
		               "no key recovery flow: load a flow definition with the key "
		               "%s (packs/demo-city/flows/pki.kmc.recovery.json)",
		               KMC_RECOVERY_FLOW);
	store_conn *c;
	int64_t key = 0;
	char key_id[2 * CRYPTO_SM3_LEN + 1], cn[80] = "", title[120];
	if ((st = store_reader(s, &c, e)) != YZ_OK ||
	    (st = archived_key(c, jx_str(in, "ca", ""), serial, &key, key_id, cn, sizeof cn, e)) !=
	        YZ_OK)
		return st;
	snprintf(title, sizeof title, "加密密钥恢复：%s", cn);
	json_t *data = json_pack("{s:s, s:s, s:s, s:s, s:s}", "ca", jx_str(in, "ca", ""), "serial",
	                         serial, "reason", jx_str(in, "reason", ""), "recipient_ca",
	                         jx_str(in, "recipient_ca", ""), "recipient_serial", rserial);
	json_t *start = json_pack("{s:s, s:o}", "title", title, "data", data);
	int64_t inst = 0;
	st = flow_start(s, who, KMC_RECOVERY_FLOW, start, NULL, &inst, e);
	json_decref(start);
	if (st != YZ_OK)
		return st;
	int64_t id = 0;
	store_val v[] = {sv_int(inst)};
	if ((st = store_reader(s, &c, e)) != YZ_OK ||
	    (st = store_query_int(c, "SELECT id FROM kmc_recovery WHERE instance_id = ?", v, 1, &id,
	                          e)) != YZ_OK)
		return st;
	return out ? kmc_recovery_get(c, id, out, e) : YZ_OK;
}

/* The open approver tasks of the request that `who` may take, and the
 * request's flow instance. */
static yz_status my_tasks(store *s, const yz_actor *who, int64_t id, int64_t *inst, int64_t *tasks,
                          int *n, yz_err *e)
{
	*n = 0;
	store_conn *c;
	yz_status st = store_reader(s, &c, e);
	if (st != YZ_OK)
		return st;
	store_rows *r;
	store_val v[] = {sv_int(id)};
	if ((st = store_query(
	         c, "SELECT COALESCE(instance_id, 0), status FROM kmc_recovery WHERE id = ?", v, 1,
	         &r, e)) != YZ_OK)
		return st;
	char status[16] = "";
	*inst = 0;
	if (store_next(r)) {
		*inst = store_col_int(r, 0);
		yz_strlcpy(status, store_col_text(r, 1), sizeof status);
	}
	if ((st = store_rows_close(r, e)) != YZ_OK)
		return st;
	if (!status[0])
		return yz_fail(e, YZ_ENOTFOUND, "no key recovery request %lld", (long long)id);
	if (strcmp(status, "open") != 0 || !*inst)
		return yz_fail(e, YZ_ECONFLICT, "the request is %s: it takes no more decisions",
		               status);
	json_t *view = NULL;
	yz_err ve = {0};
	if (flow_instance_get(c, who, *inst, &view, &ve) != YZ_OK)
		return yz_fail(e, YZ_EFORBIDDEN, "you are not an approver of this request");
	size_t i;
	json_t *t;
	json_array_foreach (json_object_get(view, "tasks"), i, t)
		if (jx_bool(t, "mine", false) && *n < 8)
			tasks[(*n)++] = jx_int(t, "id", 0);
	json_decref(view);
	if (!*n)
		return yz_fail(e, YZ_EFORBIDDEN,
		               "you hold no open approver task of this request (approvers hold the "
		               "role of the flow's tasks and pki.kmc.approve)");
	return YZ_OK;
}

static yz_status decide(store *s, const yz_actor *who, int64_t id, flow_cmd cmd, json_t *args,
                        yz_err *e)
{
	int64_t inst, tasks[8];
	int n;
	yz_status st = my_tasks(s, who, id, &inst, tasks, &n, e);
	/* two approvers may take the same task at once: the loser tries the next */
	for (int i = 0; st == YZ_OK && i < n; i++) {
		yz_err ce = {0};
		st = flow_command(s, who, inst, tasks[i], cmd, args, NULL, &ce);
		if (st == YZ_ECONFLICT && i + 1 < n && strstr(ce.msg, "no longer open")) {
			st = YZ_OK;
			continue;
		}
		if (st != YZ_OK && e)
			*e = ce;
		break;
	}
	return st;
}

yz_status kmc_recovery_approve(store *s, const yz_actor *who, int64_t id, const char *comment,
                               yz_err *e)
{
	json_t *args = json_pack("{s:s}", "outcome", "approve");
	if (comment && comment[0])
		jx_set_str(args, "comment", comment);
	yz_status st = decide(s, who, id, FLOW_COMPLETE, args, e);
	json_decref(args);
	return st;
}

yz_status kmc_recovery_refuse(store *s, const yz_actor *who, int64_t id, const char *reason,
                              yz_err *e)
{
	if (!reason || !reason[0])
		return yz_field(e, "reason", "required", "why the recovery is refused", NULL);
	json_t *args = json_pack("{s:s}", "reason", reason);
	yz_status st = decide(s, who, id, FLOW_REJECT, args, e);
	json_decref(args);
	return st;
}

/* ---- the flow's rules ---- */

static yz_status on_started(store_conn *tx, const flow_event *ev, yz_err *e)
{
	if (!ev->who || !ev->who->user_id)
		return yz_fail(e, YZ_EFORBIDDEN, "a key recovery is asked for by a person");
	bool may = false;
	yz_status st = holds_perm(tx, ev->who->user_id, "pki.kmc.manage", &may, e);
	if (st == YZ_OK && !may)
		st = yz_fail(e, YZ_EFORBIDDEN, "asking for a key recovery needs pki.kmc.manage");
	yz_actor sys = actor_system("pki.kmc");
	json_t *inst = NULL;
	if (st == YZ_OK)
		st = flow_instance_get(tx, &sys, ev->instance_id, &inst, e);
	if (st != YZ_OK)
		return st;
	json_t *d = json_object_get(inst, "data");
	char serial[PKI_SERIAL_HEX + 8], rserial[PKI_SERIAL_HEX + 8];
	bool bad = false;
	if (!pki_serial_norm(jx_str(d, "serial", ""), serial, sizeof serial)) {
		yz_field(e, "serial", "hex", "a serial number in hexadecimal",
		         jx_str(d, "serial", ""));
		bad = true;
	}
	if (!pki_serial_norm(jx_str(d, "recipient_serial", ""), rserial, sizeof rserial)) {
		yz_field(e, "recipient_serial", "hex", "a serial number in hexadecimal",
		         jx_str(d, "recipient_serial", ""));
		bad = true;
	}
	if (bad) {
		json_decref(inst);
		return YZ_EINVAL;
	}
	int64_t key = 0;
	char key_id[2 * CRYPTO_SM3_LEN + 1];
	json_t *rec = NULL;
	X509 *x = NULL;
	crypto_key *k = NULL;
	st = archived_key(tx, jx_str(d, "ca", ""), serial, &key, key_id, NULL, 0, e);
	if (st == YZ_OK)
		st = usable_cert(tx, jx_str(d, "recipient_ca", ""), rserial, "recipient_serial",
		                 &rec, &x, &k, e);
	json_decref(rec);
	X509_free(x);
	crypto_key_free(k);
	store_rows *r;
	int64_t id = 0;
	if (st == YZ_OK) {
		store_val v[] = {sv_int(key),
		                 sv_int(ev->who->user_id),
		                 sv_text(ev->who->login),
		                 sv_text(jx_str(d, "reason", "")),
		                 sv_text(jx_str(d, "recipient_ca", "")),
		                 sv_text(rserial),
		                 sv_int(ev->instance_id),
		                 sv_int(ev->at)};
		st =
		    store_query(tx,
		                "INSERT INTO kmc_recovery (enc_key_id, requester, requester_login, "
		                "reason, recipient_ca, recipient_serial, instance_id, status, "
		                "approvals, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'open', 0, ?) "
		                "RETURNING id",
		                v, SV_N(v), &r, e);
		if (st == YZ_OK) {
			id = store_next(r) ? store_col_int(r, 0) : 0;
			st = store_rows_close(r, e);
		}
	}
	if (st == YZ_OK) {
		char object[48];
		snprintf(object, sizeof object, "kmc_recovery:%lld", (long long)id);
		st = audit_json(tx, ev->who, "pki.kmc.recovery.request", object,
		                json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "key_id", key_id,
		                          "ca", jx_str(d, "ca", ""), "serial", serial,
		                          "recipient_ca", jx_str(d, "recipient_ca", ""),
		                          "recipient_serial", rserial, "reason",
		                          jx_str(d, "reason", ""), "flow_instance",
		                          (json_int_t)ev->instance_id),
		                e);
	}
	json_decref(inst);
	return st;
}

typedef struct rec_row {
	int64_t id, requester, approvals;
	char status[16];
} rec_row;

static yz_status rec_of_instance(store_conn *tx, int64_t inst, rec_row *out, yz_err *e)
{
	store_val v[] = {sv_int(inst)};
	store_rows *r;
	yz_status st = store_query(
	    tx, "SELECT id, requester, approvals, status FROM kmc_recovery WHERE instance_id = ?",
	    v, 1, &r, e);
	if (st != YZ_OK)
		return st;
	memset(out, 0, sizeof *out);
	if (store_next(r)) {
		out->id = store_col_int(r, 0);
		out->requester = store_col_int(r, 1);
		out->approvals = store_col_int(r, 2);
		yz_strlcpy(out->status, store_col_text(r, 3), sizeof out->status);
	}
	return store_rows_close(r, e);
}

static yz_status refuse_rule(yz_err *e, const char *rule, const char *expected, const char *got,
                             const char *msg)
{
	yz_fail(e, YZ_EREFUSED, "%s", msg);
	yz_field(e, "approver", rule, expected, got);
	return YZ_EREFUSED;
}

static yz_status on_task_done(store_conn *tx, const flow_event *ev, yz_err *e)
{
	rec_row q;
	yz_status st = rec_of_instance(tx, ev->instance_id, &q, e);
	if (st != YZ_OK)
		return st;
	if (!q.id)
		return yz_fail(e, YZ_ECONFLICT, "flow instance %lld is no request of the KMC",
		               (long long)ev->instance_id);
	if (strcmp(q.status, "open") != 0)
		return yz_fail(e, YZ_ECONFLICT, "the request is %s", q.status);
	const yz_actor *who = ev->who;
	const char *login = who ? who->login : "";
	if (!who || !who->user_id)
		return refuse_rule(e, "person", "an approver who signed in", login,
		                   "a key recovery is approved by people");
	if (who->user_id == q.requester)
		return refuse_rule(e, "not-requester", "an approver other than the requester",
		                   login,
		                   "the requester of a key recovery cannot approve it: 2 of 3 "
		                   "approvers other than the requester must");
	bool may = false;
	if ((st = holds_perm(tx, who->user_id, "pki.kmc.approve", &may, e)) != YZ_OK)
		return st;
	if (!may)
		return refuse_rule(e, "permission", "a holder of pki.kmc.approve", login,
		                   "approving a key recovery needs pki.kmc.approve");
	int64_t seen = 0;
	store_val k[] = {sv_int(q.id), sv_int(who->user_id)};
	if ((st =
	         store_query_int(tx,
	                         "SELECT COUNT(*) FROM kmc_recovery_approval WHERE recovery_id = ? "
	                         "AND user_id = ?",
	                         k, 2, &seen, e)) != YZ_OK)
		return st;
	if (seen)
		return refuse_rule(
		    e, "distinct", "an approver who has not approved this request yet", login,
		    "you have approved this request already: the second approval must "
		    "come from another approver");
	if (!ev->outcome || strcmp(ev->outcome, "approve") != 0)
		return YZ_OK; /* only approvals count; a refusal rejects the flow */
	store_val v[] = {sv_int(q.id), sv_int(who->user_id), sv_text(login),
	                 sv_text(ev->step ? ev->step : ""), sv_int(ev->at)};
	st = store_exec(tx,
	                "INSERT INTO kmc_recovery_approval (recovery_id, user_id, login, step, at) "
	                "VALUES (?, ?, ?, ?, ?)",
	                v, SV_N(v), e);
	store_val u[] = {sv_int(q.id)};
	if (st == YZ_OK)
		st = store_exec(
		    tx, "UPDATE kmc_recovery SET approvals = approvals + 1 WHERE id = ?", u, 1, e);
	if (st != YZ_OK)
		return st;
	char object[48];
	snprintf(object, sizeof object, "kmc_recovery:%lld", (long long)q.id);
	return audit_json(tx, who, "pki.kmc.recovery.approve", object,
	                  json_pack("{s:s, s:I, s:i}", "step", ev->step ? ev->step : "",
	                            "approvals", (json_int_t)(q.approvals + 1), "needed",
	                            KMC_RECOVERY_QUORUM),
	                  e);
}

static yz_status on_closed(store_conn *tx, const flow_event *ev, yz_err *e)
{
	rec_row q;
	yz_status st = rec_of_instance(tx, ev->instance_id, &q, e);
	if (st != YZ_OK || !q.id)
		return st;
	bool approved = ev->outcome && !strcmp(ev->outcome, "approved");
	int64_t counted = 0;
	store_val k[] = {sv_int(q.id)};
	if ((st = store_query_int(
	         tx, "SELECT COUNT(*) FROM kmc_recovery_approval WHERE recovery_id = ?", k, 1,
	         &counted, e)) != YZ_OK)
		return st;
	if (approved && counted < KMC_RECOVERY_QUORUM)
		return yz_fail(
		    e, YZ_EREFUSED,
		    "a key recovery needs %d approvals by distinct approvers other than the "
		    "requester; this one has %lld (check the flow definition %s)",
		    KMC_RECOVERY_QUORUM, (long long)counted, KMC_RECOVERY_FLOW);
	const char *to = approved ? "approved" : "refused";
	store_val v[] = {sv_text(to), sv_int(ev->at), sv_int(q.id)};
	st = store_exec(
	    tx,
	    "UPDATE kmc_recovery SET status = ?, closed_at = ? WHERE id = ? AND status = "
	    "'open'",
	    v, 3, e);
	if (st != YZ_OK)
		return st;
	char object[48];
	snprintf(object, sizeof object, "kmc_recovery:%lld", (long long)q.id);
	return audit_json(
	    tx, ev->who, approved ? "pki.kmc.recovery.approved" : "pki.kmc.recovery.refused",
	    object,
	    json_pack("{s:s, s:I, s:s}", "outcome", ev->outcome ? ev->outcome : "", "approvals",
	              (json_int_t)counted, "reason", ev->reason ? ev->reason : ""),
	    e);
}

yz_status kmc_flow_event(store_conn *tx, const flow_event *ev, void *ctx, yz_err *e)
{
	(void)ctx;
	if (!ev->flow_key || strcmp(ev->flow_key, KMC_RECOVERY_FLOW) != 0)
		return YZ_OK;
	switch (ev->kind) {
	case FLOW_EV_STARTED:
		return on_started(tx, ev, e);
	case FLOW_EV_TASK_DONE:
		return on_task_done(tx, ev, e);
	case FLOW_EV_CLOSED:
		return on_closed(tx, ev, e);
	default:
		return YZ_OK;
	}
}

/* ---- release ---- */

typedef struct release_job {
	const yz_actor *who;
	int64_t id, now;
	const char *key_id, *recipient_ca, *recipient_serial;
} release_job;

static yz_status release_job_fn(store_conn *tx, void *arg, yz_err *e)
{
	release_job *j = arg;
	int64_t counted = 0;
	store_val k[] = {sv_int(j->id)};
	yz_status st =
	    store_query_int(tx, "SELECT COUNT(*) FROM kmc_recovery_approval WHERE recovery_id = ?",
	                    k, 1, &counted, e);
	if (st != YZ_OK)
		return st;
	store_val v[] = {sv_int(j->now), j->who->user_id ? sv_int(j->who->user_id) : sv_null(),
	                 sv_text(j->who->login), sv_int(j->id), sv_int(KMC_RECOVERY_QUORUM)};
	/* the one transition that hands the key out: approved → released, once */
	st = store_exec(
	    tx,
	    "UPDATE kmc_recovery SET status = 'released', released_at = ?, released_by = "
	    "?, released_by_login = ? WHERE id = ? AND status = 'approved' AND approvals "
	    ">= ?",
	    v, SV_N(v), e);
	if (st == YZ_OK && (store_changes(tx) != 1 || counted < KMC_RECOVERY_QUORUM))
		st = yz_fail(e, YZ_ECONFLICT,
		             "the request is not approved, or its key was released");
	if (st != YZ_OK)
		return st;
	char object[48];
	snprintf(object, sizeof object, "kmc_recovery:%lld", (long long)j->id);
	return audit_json(tx, j->who, "pki.kmc.recovery.release", object,
	                  json_pack("{s:s, s:s, s:s, s:I}", "key_id", j->key_id, "recipient_ca",
	                            j->recipient_ca, "recipient_serial", j->recipient_serial,
	                            "approvals", (json_int_t)counted),
	                  e);
}

yz_status kmc_recovery_release(store *s, const char *data_dir, const yz_actor *who, int64_t id,
                               json_t **out, yz_err *e)
{
	store_conn *c;
	yz_status st = store_reader(s, &c, e);
	if (st != YZ_OK)
		return st;
	store_val v[] = {sv_int(id)};
	store_rows *r;
	st = store_query(
	    c,
	    "SELECT r.status, r.approvals, r.recipient_ca, r.recipient_serial, k.key_id, "
	    "k.ca, k.serial, k.private_sealed FROM kmc_recovery r JOIN kmc_enc_key k ON "
	    "k.id = r.enc_key_id WHERE r.id = ?",
	    v, 1, &r, e);
	if (st != YZ_OK)
		return st;
	char status[16] = "", rca[PKI_NAME_MAX] = "", rserial[PKI_SERIAL_HEX + 8] = "",
	     key_id[2 * CRYPTO_SM3_LEN + 1] = "", ca[PKI_NAME_MAX] = "",
	     serial[PKI_SERIAL_HEX + 8] = "";
	int64_t approvals = 0;
	buf sealed;
	buf_init(&sealed, KMC_SEAL_MAX);
	if (store_next(r)) {
		yz_strlcpy(status, store_col_text(r, 0), sizeof status);
		approvals = store_col_int(r, 1);
		yz_strlcpy(rca, store_col_text(r, 2), sizeof rca);
		yz_strlcpy(rserial, store_col_text(r, 3), sizeof rserial);
		yz_strlcpy(key_id, store_col_text(r, 4), sizeof key_id);
		yz_strlcpy(ca, store_col_text(r, 5), sizeof ca);
		yz_strlcpy(serial, store_col_text(r, 6), sizeof serial);
		size_t n;
		const void *p = store_col_blob(r, 7, &n);
		if (buf_append(&sealed, p, n) != YZ_OK)
			status[0] = '\0';
	}
	if ((st = store_rows_close(r, e)) != YZ_OK) {
		buf_free(&sealed);
		return st;
	}
	if (!status[0]) {
		buf_free(&sealed);
		return yz_fail(e, YZ_ENOTFOUND, "no key recovery request %lld", (long long)id);
	}
	if (!strcmp(status, "open")) {
		char got[48];
		snprintf(got, sizeof got, "%lld approval%s", (long long)approvals,
		         approvals == 1 ? "" : "s");
		yz_fail(e, YZ_ECONFLICT,
		        "a key recovery needs %d approvals by distinct approvers other than the "
		        "requester before the key is released; this request has %lld",
		        KMC_RECOVERY_QUORUM, (long long)approvals);
		yz_field(e, "approvals", "quorum",
		         "2 of 3 approvers (distinct, not the requester) have approved", got);
		buf_free(&sealed);
		return YZ_ECONFLICT;
	}
	if (strcmp(status, "approved") != 0) {
		buf_free(&sealed);
		return yz_fail(
		    e, YZ_ECONFLICT, "%s",
		    !strcmp(status, "released")
		        ? "the key of this request was released already: a recovered key "
		          "is released once"
		        : "the request was refused: nothing is released");
	}
	/* the envelope first, to a recipient certificate that is still valid */
	json_t *rec = NULL;
	X509 *x = NULL;
	crypto_key *recipient = NULL, *key = NULL;
	unsigned char kek[CRYPTO_SEAL_KEY_LEN];
	char aad[KMC_AAD_MAX];
	buf pem, env, b64;
	buf_init(&pem, KMC_PEM_MAX);
	buf_init(&env, KMC_ENV_MAX);
	buf_init(&b64, 2 * KMC_ENV_MAX);
	st = usable_cert(c, rca, rserial, "recipient_serial", &rec, &x, &recipient, e);
	if (st == YZ_OK)
		st = kmc_kek(data_dir, false, kek, e);
	snprintf(aad, sizeof aad, "yizhan-kmc-enc:%s", key_id);
	if (st == YZ_OK && crypto_open(kek, aad, strlen(aad), sealed.p, sealed.len, &pem) != YZ_OK)
		st = yz_fail(e, YZ_ECRYPTO,
		             "the archived key does not open with this KMC key-encryption key");
	if (st == YZ_OK)
		st = crypto_key_from_pem(pem.p, pem.len, NULL, &key, e);
	if (st == YZ_OK)
		st = kmc_envelope_seal(key, recipient, &env, e);
	if (st == YZ_OK && b64_encode(env.p, env.len, false, &b64) != YZ_OK)
		st = yz_fail(e, YZ_ETOOBIG, "the envelope does not fit");
	/* then the transition; the envelope leaves only if it commits */
	release_job j = {.who = who,
	                 .id = id,
	                 .now = clock_now_ms(),
	                 .key_id = key_id,
	                 .recipient_ca = rca,
	                 .recipient_serial = rserial};
	if (st == YZ_OK)
		st = store_write(s, release_job_fn, &j, e);
	if (st == YZ_OK && out)
		*out = json_pack("{s:I, s:s, s:s, s:s, s:{s:s, s:s}, s:s, s:s}", "id",
		                 (json_int_t)id, "key_id", key_id, "ca", ca, "serial", serial,
		                 "recipient", "ca", rca, "serial", rserial, "envelope", b64.p,
		                 "envelope_format", KMC_ENVELOPE_FORMAT);
	OPENSSL_cleanse(kek, sizeof kek);
	wipe_buf(&pem);
	buf_free(&env);
	buf_free(&b64);
	buf_free(&sealed);
	crypto_key_free(key);
	crypto_key_free(recipient);
	X509_free(x);
	json_decref(rec);
	return st;
}
