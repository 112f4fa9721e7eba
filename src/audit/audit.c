/*
 * audit.c — the audit chain: append, checkpoints, verification, browsing.
 */
#include "audit/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/jx.h"
#include "core/slice.h"

const store_migration audit_migrations[] = {
    {1, "CREATE TABLE audit_log ("
        " seq BIGINT PRIMARY KEY,"
        " at BIGINT NOT NULL,"
        " actor_id BIGINT NOT NULL,"
        " actor TEXT NOT NULL,"
        " action TEXT NOT NULL,"
        " object TEXT NOT NULL,"
        " org_path TEXT,"
        " change TEXT NOT NULL,"
        " digest TEXT NOT NULL,"
        " request_id TEXT NOT NULL,"
        " ip TEXT NOT NULL,"
        " prev TEXT NOT NULL,"
        " hash TEXT NOT NULL);"
        "CREATE INDEX audit_log_at ON audit_log (at);"
        "CREATE INDEX audit_log_object ON audit_log (object, seq);"
        "CREATE INDEX audit_log_actor ON audit_log (actor, seq);"
        "CREATE INDEX audit_log_org ON audit_log (org_path, seq);"
        "CREATE TABLE audit_head (id INTEGER PRIMARY KEY CHECK (id = 1), seq BIGINT NOT NULL,"
        " hash TEXT NOT NULL, signed_seq BIGINT NOT NULL);"
        "INSERT INTO audit_head (id, seq, hash, signed_seq) VALUES (1, 0,"
        " '0000000000000000000000000000000000000000000000000000000000000000', 0);"
        "CREATE TABLE audit_key (key_id TEXT PRIMARY KEY, alg TEXT NOT NULL,"
        " public_pem TEXT NOT NULL, created_at BIGINT NOT NULL);"
        "CREATE TABLE audit_checkpoint (seq BIGINT PRIMARY KEY, hash TEXT NOT NULL,"
        " at BIGINT NOT NULL, key_id TEXT NOT NULL REFERENCES audit_key (key_id),"
        " signature {{blob}} NOT NULL);"},
    /* a checkpoint attested by a notary (the pki): the certificate of the key
     * that signed it and a trusted time-stamp over its signature */
    {2, "CREATE TABLE audit_attest (seq BIGINT PRIMARY KEY REFERENCES audit_checkpoint (seq),"
        " cert {{blob}} NOT NULL, token {{blob}} NOT NULL, at BIGINT NOT NULL);"},
};
const int audit_nmigrations = 2;

#define ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"

/* The loaded signer: one per process, swapped atomically under a lock. */
static pthread_mutex_t signer_mu = PTHREAD_MUTEX_INITIALIZER;
static crypto_key *signer;
static char signer_id[65];

/* ---- keys ---- */

static void key_path(const char *data_dir, char *out, size_t cap)
{
	snprintf(out, cap, "%s/keys/platform.key", data_dir);
}

typedef struct key_ctx {
	const char *key_id, *pem;
} key_ctx;

static yz_status insert_key(store_conn *tx, void *arg, yz_err *e)
{
	key_ctx *k = arg;
	store_val a[] = {sv_text(k->key_id), sv_text("sm2"), sv_text(k->pem),
	                 sv_int(clock_now_ms())};
	return store_exec(tx,
	                  "INSERT INTO audit_key (key_id, alg, public_pem, created_at) VALUES "
	                  "(?, ?, ?, ?)",
	                  a, 4, e);
}

static yz_status key_id_hex(const crypto_key *k, char out[65])
{
	unsigned char id[CRYPTO_SM3_LEN];
	yz_status st = crypto_key_id(k, id);
	if (st == YZ_OK)
		hex_encode(id, sizeof id, out);
	return st;
}

yz_status audit_init_keys(store *s, const char *data_dir, yz_err *e)
{
	char dir[600], path[640];
	snprintf(dir, sizeof dir, "%s/keys", data_dir);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return yz_fail(e, YZ_EIO, "cannot create %s: %s", dir, strerror(errno));
	key_path(data_dir, path, sizeof path);
	crypto_key *k;
	yz_status st = crypto_key_generate(CRYPTO_SM2, &k, e);
	if (st != YZ_OK)
		return st;
	buf priv, pub;
	buf_init(&priv, 16384);
	buf_init(&pub, 16384);
	char id[65];
	st = crypto_key_to_pem(k, true, NULL, &priv, e);
	if (st == YZ_OK)
		st = crypto_key_to_pem(k, false, NULL, &pub, e);
	if (st == YZ_OK)
		st = key_id_hex(k, id);
	if (st == YZ_OK) {
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
		if (fd < 0) {
			st =
			    yz_fail(e, YZ_ECONFLICT, "cannot create %s: %s", path, strerror(errno));
		} else {
			ssize_t w = write(fd, priv.p, priv.len);
			if (w != (ssize_t)priv.len || fsync(fd) != 0)
				st = yz_fail(e, YZ_EIO, "cannot write %s", path);
			close(fd);
		}
	}
	if (st == YZ_OK) {
		key_ctx kc = {id, buf_str(&pub)};
		st = store_write(s, insert_key, &kc, e);
	}
	buf_free(&priv);
	buf_free(&pub);
	crypto_key_free(k);
	return st;
}

yz_status audit_load_signer(store *s, const char *data_dir, yz_err *e)
{
	char path[640];
	key_path(data_dir, path, sizeof path);
	FILE *f = fopen(path, "r");
	if (!f)
		return yz_fail(e, YZ_EIO, "cannot read the platform key %s", path);
	char pem[16384];
	size_t n = fread(pem, 1, sizeof pem - 1, f);
	fclose(f);
	pem[n] = '\0';
	crypto_key *k;
	yz_status st = crypto_key_from_pem(pem, n, NULL, &k, e);
	if (st != YZ_OK)
		return st;
	char id[65];
	st = key_id_hex(k, id);
	store_conn *c;
	if (st == YZ_OK)
		st = store_reader(s, &c, e);
	if (st == YZ_OK) {
		int64_t found;
		store_val a[] = {sv_text(id)};
		st = store_query_int(c, "SELECT COUNT(*) FROM audit_key WHERE key_id = ?", a, 1,
		                     &found, e);
		if (st == YZ_OK && found != 1)
			st = yz_fail(e, YZ_ECRYPTO,
			             "the platform key in %s is not registered in this database",
			             path);
	}
	if (st != YZ_OK) {
		crypto_key_free(k);
		return st;
	}
	pthread_mutex_lock(&signer_mu);
	crypto_key_free(signer);
	signer = k;
	memcpy(signer_id, id, sizeof signer_id);
	pthread_mutex_unlock(&signer_mu);
	return YZ_OK;
}

void audit_unload_signer(void)
{
	pthread_mutex_lock(&signer_mu);
	crypto_key_free(signer);
	signer = NULL;
	pthread_mutex_unlock(&signer_mu);
}

/* ---- hashing ---- */

static void put_u64(crypto_sm3_ctx *h, uint64_t v)
{
	unsigned char b[8];
	for (int i = 7; i >= 0; i--) {
		b[i] = (unsigned char)v;
		v >>= 8;
	}
	crypto_sm3_update(h, b, 8);
}

static void put_lp(crypto_sm3_ctx *h, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	unsigned char b[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16),
	                      (unsigned char)(n >> 8), (unsigned char)n};
	crypto_sm3_update(h, b, 4);
	if (n)
		crypto_sm3_update(h, s, n);
}

typedef struct rec {
	int64_t seq, at, actor_id;
	const char *actor, *action, *object, *org_path, *change, *digest, *request_id, *ip, *prev;
} rec;

static yz_status record_hash(const rec *r, char out[65])
{
	unsigned char prev[32];
	if (strlen(r->prev) != 64 || hex_decode(r->prev, 64, prev, sizeof prev) != 32)
		return YZ_EINVAL;
	crypto_sm3_ctx *h = crypto_sm3_new();
	if (!h)
		return YZ_ENOMEM;
	static const char tag[] = "yizhan-audit-v1";
	crypto_sm3_update(h, tag, sizeof tag); /* with its NUL */
	put_u64(h, (uint64_t)r->seq);
	put_u64(h, (uint64_t)r->at);
	put_u64(h, (uint64_t)r->actor_id);
	put_lp(h, r->actor);
	put_lp(h, r->action);
	put_lp(h, r->object);
	put_lp(h, r->org_path);
	put_lp(h, r->digest);
	put_lp(h, r->request_id);
	put_lp(h, r->ip);
	crypto_sm3_update(h, prev, 32);
	unsigned char d[CRYPTO_SM3_LEN];
	crypto_sm3_final(h, d);
	crypto_sm3_free(h);
	hex_encode(d, sizeof d, out);
	return YZ_OK;
}

static void digest_hex(const char *text, char out[65])
{
	unsigned char d[CRYPTO_SM3_LEN];
	crypto_sm3(text, strlen(text), d);
	hex_encode(d, sizeof d, out);
}

/* ---- checkpoints ---- */

static void checkpoint_message(int64_t seq, const char *hash, int64_t at, buf *m)
{
	yz_status st = YZ_OK;
	BUF_TRY(st, buf_printf(m, "yizhan-audit-checkpoint-v1\n%lld\n%s\n%lld", (long long)seq,
	                       hash, (long long)at));
	(void)st; /* a few dozen bytes in a 256-byte buffer */
}

/* Sign (seq, hash) and insert the checkpoint; runs inside a write job. */
static yz_status sign_checkpoint(store_conn *tx, int64_t seq, const char *hash, yz_err *e)
{
	pthread_mutex_lock(&signer_mu);
	if (!signer) {
		pthread_mutex_unlock(&signer_mu);
		return YZ_OK;
	}
	int64_t at = clock_now_ms();
	buf m, sig;
	buf_init(&m, 256);
	buf_init(&sig, 256);
	checkpoint_message(seq, hash, at, &m);
	yz_status st = crypto_sign(signer, m.p, m.len, &sig, e);
	char id[65];
	memcpy(id, signer_id, sizeof id);
	pthread_mutex_unlock(&signer_mu);
	if (st == YZ_OK) {
		store_val a[] = {sv_int(seq), sv_text(hash), sv_int(at), sv_text(id),
		                 sv_blob(sig.p, sig.len)};
		st = store_exec(
		    tx,
		    "INSERT INTO audit_checkpoint (seq, hash, at, key_id, signature) VALUES "
		    "(?, ?, ?, ?, ?)",
		    a, 5, e);
	}
	if (st == YZ_OK) {
		store_val a[] = {sv_int(seq)};
		st = store_exec(tx, "UPDATE audit_head SET signed_seq = ? WHERE id = 1", a, 1, e);
	}
	buf_free(&m);
	buf_free(&sig);
	return st;
}

/* ---- append ---- */

yz_status audit_append(store_conn *tx, const yz_actor *who, const char *action, const char *object,
                       const char *org_path, json_t *change, yz_err *e)
{
	char *text = change ? json_dumps(change, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY)
	                    : strdup("{}");
	if (!text)
		return yz_fail(e, YZ_ENOMEM, "out of memory");
	/* Taking the next number by UPDATE locks the head row on PostgreSQL, so
	 * appends from several nodes are serialised; RETURNING gives the new
	 * number and the previous record's hash. */
	store_rows *rows;
	yz_status st =
	    store_query(tx,
	                "UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, "
	                "hash",
	                NULL, 0, &rows, e);
	if (st != YZ_OK) {
		free(text);
		return st;
	}
	int64_t seq = 0;
	char prev[65] = "";
	if (store_next(rows)) {
		seq = store_col_int(rows, 0);
		yz_strlcpy(prev, store_col_text(rows, 1), sizeof prev);
	}
	st = store_rows_close(rows, e);
	if (st == YZ_OK && seq == 0)
		st = yz_fail(e, YZ_EINTERNAL, "the audit head row is missing");
	char digest[65], hash[65];
	digest_hex(text, digest);
	rec r = {.seq = seq,
	         .at = clock_now_ms(),
	         .actor_id = who ? who->user_id : 0,
	         .actor = who && who->login[0] ? who->login : "system",
	         .action = action,
	         .object = object ? object : "",
	         .org_path = org_path,
	         .change = text,
	         .digest = digest,
	         .request_id = who ? who->request_id : "",
	         .ip = who ? who->ip : "",
	         .prev = prev};
	if (st == YZ_OK && record_hash(&r, hash) != YZ_OK)
		st = yz_fail(e, YZ_EINTERNAL, "the audit head hash is malformed");
	if (st == YZ_OK) {
		store_val a[] = {sv_int(r.seq),         sv_int(r.at),      sv_int(r.actor_id),
		                 sv_text(r.actor),      sv_text(r.action), sv_text(r.object),
		                 sv_text(r.org_path),   sv_text(r.change), sv_text(r.digest),
		                 sv_text(r.request_id), sv_text(r.ip),     sv_text(r.prev),
		                 sv_text(hash)};
		st = store_exec(
		    tx,
		    "INSERT INTO audit_log (seq, at, actor_id, actor, action, object, "
		    "org_path, change, digest, request_id, ip, prev, hash) VALUES (?, ?, ?, "
		    "?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		    a, SV_N(a), e);
	}
	if (st == YZ_OK) {
		store_val a[] = {sv_text(hash)};
		st = store_exec(tx, "UPDATE audit_head SET hash = ? WHERE id = 1", a, 1, e);
	}
	if (st == YZ_OK && seq % AUDIT_CHECKPOINT_EVERY == 0)
		st = sign_checkpoint(tx, seq, hash, e);
	free(text);
	return st;
}

static yz_status checkpoint_job(store_conn *tx, void *arg, yz_err *e)
{
	(void)arg;
	store_rows *r;
	yz_status st = store_query(tx, "SELECT seq, hash, signed_seq FROM audit_head WHERE id = 1",
	                           NULL, 0, &r, e);
	if (st != YZ_OK)
		return st;
	int64_t seq = 0, signed_seq = 0;
	char hash[65] = "";
	if (store_next(r)) {
		seq = store_col_int(r, 0);
		yz_strlcpy(hash, store_col_text(r, 1), sizeof hash);
		signed_seq = store_col_int(r, 2);
	}
	st = store_rows_close(r, e);
	if (st != YZ_OK || seq == 0 || seq == signed_seq)
		return st;
	return sign_checkpoint(tx, seq, hash, e);
}

yz_status audit_checkpoint(store *s, yz_err *e)
{
	return store_write(s, checkpoint_job, NULL, e);
}

/* ---- verification ---- */

typedef struct vkey {
	char id[65];
	crypto_key *k;
} vkey;

typedef struct keyset {
	vkey *keys;
	int n;
} keyset;

/* The key a checkpoint was signed with, for the attestation pass. */
static const crypto_key *keys_pem_of(void *ctx, const char *key_id)
{
	keyset *ks = ctx;
	for (int i = 0; i < ks->n; i++)
		if (!strcmp(ks->keys[i].id, key_id))
			return ks->keys[i].k;
	return NULL;
}

static yz_status load_keys(store_conn *c, vkey **keys, int *n, yz_err *e)
{
	*keys = NULL;
	*n = 0;
	store_rows *r;
	yz_status st = store_query(c, "SELECT key_id, public_pem FROM audit_key", NULL, 0, &r, e);
	if (st != YZ_OK)
		return st;
	while (store_next(r)) {
		vkey *nk = realloc(*keys, sizeof **keys * (size_t)(*n + 1));
		if (!nk)
			break;
		*keys = nk;
		vkey *k = &(*keys)[*n];
		yz_strlcpy(k->id, store_col_text(r, 0), sizeof k->id);
		const char *pem = store_col_text(r, 1);
		if (crypto_key_from_pem(pem, strlen(pem), NULL, &k->k, NULL) != YZ_OK)
			k->k = NULL;
		(*n)++;
	}
	return store_rows_close(r, e);
}

static void bad(audit_report *out, int64_t seq, const char *fmt, const char *detail)
{
	if (out->first_bad)
		return;
	out->ok = false;
	out->first_bad = seq;
	snprintf(out->reason, sizeof out->reason, fmt, detail ? detail : "");
}

yz_status audit_verify(store *s, audit_report *out, yz_err *e)
{
	memset(out, 0, sizeof *out);
	out->ok = true;
	store_conn *c;
	yz_status st = store_reader(s, &c, e);
	if (st != YZ_OK)
		return st;
	vkey *keys;
	int nkeys;
	st = load_keys(c, &keys, &nkeys, e);
	if (st != YZ_OK)
		return st;

	/* checkpoints, in order, checked as the chain passes them */
	store_rows *cp;
	st = store_query(
	    c, "SELECT seq, hash, at, key_id, signature FROM audit_checkpoint ORDER BY seq", NULL,
	    0, &cp, e);
	if (st != YZ_OK)
		goto done_keys;
	bool cp_more = store_next(cp);

	store_rows *r;
	st = store_query(
	    c,
	    "SELECT seq, at, actor_id, actor, action, object, org_path, change, digest, "
	    "request_id, ip, prev, hash FROM audit_log ORDER BY seq",
	    NULL, 0, &r, e);
	if (st != YZ_OK) {
		store_rows_discard(cp);
		goto done_keys;
	}
	char expect_prev[65] = ZERO_HASH;
	int64_t expect_seq = 1;
	while (store_next(r)) {
		rec x = {.seq = store_col_int(r, 0),
		         .at = store_col_int(r, 1),
		         .actor_id = store_col_int(r, 2),
		         .actor = store_col_text(r, 3),
		         .action = store_col_text(r, 4),
		         .object = store_col_text(r, 5),
		         .org_path = store_col_null(r, 6) ? NULL : store_col_text(r, 6),
		         .change = store_col_text(r, 7),
		         .digest = store_col_text(r, 8),
		         .request_id = store_col_text(r, 9),
		         .ip = store_col_text(r, 10),
		         .prev = store_col_text(r, 11)};
		const char *stored_hash = store_col_text(r, 12);
		out->records++;
		char seqtext[32];
		snprintf(seqtext, sizeof seqtext, "%lld", (long long)expect_seq);
		if (x.seq != expect_seq) {
			bad(out, expect_seq,
			    x.seq > expect_seq ? "record %s is missing (deleted?)"
			                       : "record %s is out of order (duplicated?)",
			    seqtext);
			break;
		}
		char d[65], h[65];
		digest_hex(x.change, d);
		if (strcmp(d, x.digest) != 0) {
			bad(out, x.seq,
			    "record %s: its change document does not match its digest (edited?)",
			    seqtext);
			break;
		}
		if (strcmp(x.prev, expect_prev) != 0) {
			bad(out, x.seq,
			    "record %s: it does not link to the record before it (reordered or "
			    "a record before it was replaced)",
			    seqtext);
			break;
		}
		if (record_hash(&x, h) != YZ_OK || strcmp(h, stored_hash) != 0) {
			bad(out, x.seq, "record %s: its hash does not match its contents (edited?)",
			    seqtext);
			break;
		}
		while (cp_more && store_col_int(cp, 0) <= x.seq) {
			int64_t cseq = store_col_int(cp, 0);
			if (cseq == x.seq) {
				out->checkpoints++;
				const char *key_id = store_col_text(cp, 3);
				crypto_key *k = NULL;
				for (int i = 0; i < nkeys; i++)
					if (!strcmp(keys[i].id, key_id))
						k = keys[i].k;
				buf m;
				buf_init(&m, 256);
				checkpoint_message(cseq, store_col_text(cp, 1),
				                   store_col_int(cp, 2), &m);
				size_t slen;
				const void *sig = store_col_blob(cp, 4, &slen);
				bool sig_ok =
				    k && crypto_verify(k, m.p, m.len, sig, slen, NULL) == YZ_OK;
				buf_free(&m);
				if (!sig_ok)
					bad(out, x.seq,
					    "record %s: the signed checkpoint here does not verify "
					    "(checkpoint edited or unknown key)",
					    seqtext);
				else if (strcmp(store_col_text(cp, 1), h) != 0)
					bad(out, x.seq,
					    "record %s: the chain differs from the signed "
					    "checkpoint "
					    "(records up to here were rewritten)",
					    seqtext);
			} else {
				char cs[32];
				snprintf(cs, sizeof cs, "%lld", (long long)cseq);
				bad(out, cseq,
				    "record %s: a signed checkpoint names it but it is missing",
				    cs);
			}
			cp_more = store_next(cp);
		}
		if (out->first_bad)
			break;
		memcpy(expect_prev, h, sizeof expect_prev);
		expect_seq++;
	}
	st = store_rows_close(r, e);
	yz_status st2 = store_rows_close(cp, NULL);
	if (st == YZ_OK)
		st = st2;
	if (st == YZ_OK && !out->first_bad && cp_more) {
		char t[32];
		snprintf(t, sizeof t, "%lld", (long long)expect_seq);
		bad(out, expect_seq,
		    "records from %s on are missing, though a signed checkpoint covers them", t);
	}
	if (st == YZ_OK && !out->first_bad)
		st = audit_attest_verify(c, keys_pem_of, &(keyset){keys, nkeys}, out, e);
	if (st == YZ_OK && !out->first_bad) {
		/* the head must agree with the last record (tail truncation) */
		store_rows *hr;
		st = store_query(c, "SELECT seq, hash FROM audit_head WHERE id = 1", NULL, 0, &hr,
		                 e);
		if (st == YZ_OK) {
			if (store_next(hr)) {
				int64_t hseq = store_col_int(hr, 0);
				if (hseq != expect_seq - 1 ||
				    strcmp(store_col_text(hr, 1), expect_prev)) {
					char t[32];
					snprintf(t, sizeof t, "%lld", (long long)expect_seq);
					bad(out, expect_seq,
					    "record %s: the chain ends before the recorded head "
					    "(records at the end were deleted?)",
					    t);
				}
			}
			st = store_rows_close(hr, e);
		}
	}
done_keys:
	for (int i = 0; i < nkeys; i++)
		crypto_key_free(keys[i].k);
	free(keys);
	return st;
}

/* ---- browsing ---- */

static json_t *row_json(store_rows *r)
{
	json_t *o = json_object();
	jx_set_int(o, "seq", store_col_int(r, 0));
	char t[40];
	clock_format_city(store_col_int(r, 1), t, sizeof t);
	jx_set_str(o, "at", t);
	jx_set_int(o, "actor_id", store_col_int(r, 2));
	jx_set_str(o, "actor", store_col_text(r, 3));
	jx_set_str(o, "action", store_col_text(r, 4));
	jx_set_str(o, "object", store_col_text(r, 5));
	if (!store_col_null(r, 6))
		jx_set_str(o, "org_path", store_col_text(r, 6));
	json_t *change = json_loads(store_col_text(r, 7), JSON_DECODE_ANY, NULL);
	json_object_set_new(o, "change", change ? change : json_null());
	jx_set_str(o, "digest", store_col_text(r, 8));
	jx_set_str(o, "request_id", store_col_text(r, 9));
	jx_set_str(o, "ip", store_col_text(r, 10));
	jx_set_str(o, "hash", store_col_text(r, 11));
	return o;
}

#define AUDIT_COLS                                                                                 \
	"seq, at, actor_id, actor, action, object, org_path, change, digest, request_id, ip, hash"

/* Append "(org_path LIKE ? OR …)" for a scope; false when the scope allows nothing. */
static bool scope_sql(const yz_scope *sc, buf *sql, store_val *args, int *na, int max)
{
	if (sc->all)
		return true;
	if (sc->n <= 0 || !sc->paths)
		return false;
	yz_status st = YZ_OK;
	BUF_TRY(st, buf_puts(sql, " AND ("));
	for (int i = 0; i < sc->n && *na < max; i++) {
		BUF_TRY(st, buf_puts(sql, i ? " OR org_path LIKE ?" : "org_path LIKE ?"));
		args[(*na)++] = sv_text(sc->paths[i]);
	}
	BUF_TRY(st, buf_puts(sql, ")"));
	return st == YZ_OK;
}

yz_status audit_list(store_conn *c, const yz_scope *scope, const audit_filter *f, json_t **out,
                     yz_err *e)
{
	*out = NULL;
	int limit = f && f->limit > 0 ? f->limit : 50;
	if (limit > 200)
		limit = 200;
	buf sql;
	buf_init(&sql, 4096);
	store_val args[48];
	int na = 0;
	/* LIKE patterns: a path prefix never holds % or _ (paths are /digits/) */
	char *pats[32];
	int npats = 0;
	yz_status st = YZ_OK;
	BUF_TRY(st, buf_puts(&sql, "SELECT " AUDIT_COLS " FROM audit_log WHERE 1 = 1"));
	if (f && f->before > 0) {
		BUF_TRY(st, buf_puts(&sql, " AND seq < ?"));
		args[na++] = sv_int(f->before);
	}
	if (f && f->actor && *f->actor) {
		BUF_TRY(st, buf_puts(&sql, " AND actor = ?"));
		args[na++] = sv_text(f->actor);
	}
	if (f && f->object && *f->object) {
		BUF_TRY(st, buf_puts(&sql, " AND object = ?"));
		args[na++] = sv_text(f->object);
	}
	char action_pat[160];
	if (f && f->action && *f->action) {
		/* prefix match with LIKE, escaping its wildcards */
		size_t o = 0;
		for (const char *p = f->action; *p && o + 3 < sizeof action_pat; p++) {
			if (*p == '%' || *p == '_' || *p == '\\')
				action_pat[o++] = '\\';
			action_pat[o++] = *p;
		}
		action_pat[o++] = '%';
		action_pat[o] = '\0';
		BUF_TRY(st, buf_puts(&sql, " AND action LIKE ? ESCAPE '\\'"));
		args[na++] = sv_text(action_pat);
	}
	yz_scope sc = *scope;
	const char *with_pct[32];
	if (!sc.all) {
		for (int i = 0; i < sc.n && i < 32; i++) {
			pats[npats] = malloc(strlen(sc.paths[i]) + 2);
			if (!pats[npats])
				break;
			snprintf(pats[npats], strlen(sc.paths[i]) + 2, "%s%%", sc.paths[i]);
			with_pct[npats] = pats[npats];
			npats++;
		}
		sc.n = npats;
		sc.paths = with_pct;
	}
	bool any = scope_sql(&sc, &sql, args, &na, 40);
	BUF_TRY(st, buf_printf(&sql, " ORDER BY seq DESC LIMIT %d", limit + 1));
	json_t *items = json_array();
	int64_t last = 0;
	bool more = false;
	if (st == YZ_OK && any) {
		store_rows *r;
		st = store_query(c, buf_str(&sql), args, na, &r, e);
		if (st == YZ_OK) {
			int n = 0;
			while (store_next(r)) {
				if (n++ == limit) {
					more = true;
					break;
				}
				last = store_col_int(r, 0);
				json_array_append_new(items, row_json(r));
			}
			st = store_rows_close(r, e);
		}
	} else if (st != YZ_OK) {
		st = yz_fail(e, st, "audit query too long");
	}
	for (int i = 0; i < npats; i++)
		free(pats[i]);
	buf_free(&sql);
	if (st != YZ_OK) {
		json_decref(items);
		return st;
	}
	json_t *o = json_object();
	json_object_set_new(o, "items", items);
	json_object_set_new(o, "next", more ? json_integer(last) : json_null());
	*out = o;
	return YZ_OK;
}

static bool in_scope(const yz_scope *sc, const char *path)
{
	if (sc->all)
		return true;
	if (!path)
		return false;
	for (int i = 0; i < sc->n; i++)
		if (sc->paths && !strncmp(path, sc->paths[i], strlen(sc->paths[i])))
			return true;
	return false;
}

yz_status audit_get(store_conn *c, const yz_scope *scope, int64_t seq, json_t **out, yz_err *e)
{
	*out = NULL;
	store_rows *r;
	store_val a[] = {sv_int(seq)};
	yz_status st =
	    store_query(c, "SELECT " AUDIT_COLS " FROM audit_log WHERE seq = ?", a, 1, &r, e);
	if (st != YZ_OK)
		return st;
	json_t *o = NULL;
	if (store_next(r) && in_scope(scope, store_col_null(r, 6) ? NULL : store_col_text(r, 6)))
		o = row_json(r);
	st = store_rows_close(r, e);
	if (st != YZ_OK) {
		json_decref(o);
		return st;
	}
	if (!o)
		return yz_fail(e, YZ_ENOTFOUND, "no audit record %lld", (long long)seq);
	*out = o;
	return YZ_OK;
}
