/* pki_bench — the CA through its C API (bench/run, section 9), on a fresh
 * SQLite database (WAL, synchronous=FULL) with an SM2 root and city CA:
 *
 *   pki_bench issue [--clients N] [--duration S] [--warmup S] [--csr]
 *       N threads issue SM2 certificates under the "user" profile through
 *       pki_issue, each a durable commit through the group-commit writer
 *       together with its audit record → certificates/s and process CPU per
 *       certificate. The holders' keys are made beforehand (256 keys, used
 *       in turn); with --csr each issuance also checks a PKCS#10 request's
 *       SM2 signature, as the RA path does.
 *
 * Options: --dir DIR (where to make the database; default /tmp), --source
 * DIR (the source root, for data/pki/profiles.json; default "."). Figures
 * go to stdout as "result KEY VALUE" lines, progress to stderr. A benchmark,
 * not a test: exit 0 whenever it ran. */
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit.h"
#include "core/actor.h"
#include "pki/pki.h"
#include "store/store.h"

#define NKEYS 256

static struct {
	int clients;
	double duration, warmup;
	bool csr;
	const char *dir, *root;
} O = {.clients = 4, .duration = 10, .warmup = 2, .dir = "/tmp", .root = "."};

static store *S;
static char *inputs[NKEYS]; /* PEM public keys or CSRs */
static atomic_long issued, failed;
static atomic_int recording, stop;

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *what, const yz_err *e)
{
	fprintf(stderr, "pki_bench: %s: %s\n", what, e ? e->msg : "");
	exit(1);
}

static char *bio_text(BIO *b)
{
	char *p;
	long n = BIO_get_mem_data(b, &p);
	char *s = strndup(p, (size_t)n);
	BIO_free(b);
	return s;
}

/* An SM2 key's public part in PEM, or a CSR signed with the standard ID. */
static char *make_input(int i)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "SM2");
	BIO *b = BIO_new(BIO_s_mem());
	if (!k || !b)
		die("cannot make a key", NULL);
	if (!O.csr) {
		PEM_write_bio_PUBKEY(b, k);
		EVP_PKEY_free(k);
		return bio_text(b);
	}
	X509_REQ *rq = X509_REQ_new();
	X509_NAME *n = X509_REQ_get_subject_name(rq);
	char cn[32];
	snprintf(cn, sizeof cn, "用户%d", i);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
	X509_REQ_set_pubkey(rq, k);
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pc = NULL;
	if (EVP_DigestSignInit_ex(m, &pc, "SM3", NULL, NULL, k, NULL) != 1 ||
	    EVP_PKEY_CTX_set1_id(pc, "1234567812345678", 16) != 1 || X509_REQ_sign_ctx(rq, m) <= 0)
		die("cannot sign a request", NULL);
	PEM_write_bio_X509_REQ(b, rq);
	EVP_MD_CTX_free(m);
	X509_REQ_free(rq);
	EVP_PKEY_free(k);
	return bio_text(b);
}

static void *client(void *arg)
{
	long me = (long)(intptr_t)arg;
	yz_actor who = actor_system("bench");
	for (long i = me; !atomic_load(&stop); i += O.clients) {
		char cn[32];
		snprintf(cn, sizeof cn, "用户%ld", i);
		json_t *in = json_pack("{s:s, s:s, s:s, s:s}", "ca", "city", "profile", "user",
		                       O.csr ? "csr" : "public_key", inputs[i % NKEYS], "cn", cn);
		yz_err e = {0};
		json_t *out = NULL;
		yz_status st = pki_issue(S, &who, in, &out, &e);
		json_decref(in);
		json_decref(out);
		if (!atomic_load(&recording))
			continue;
		if (st == YZ_OK)
			atomic_fetch_add(&issued, 1);
		else
			atomic_fetch_add(&failed, 1);
	}
	return NULL;
}

static void sleep_s(double d)
{
	struct timespec ts = {(time_t)d, (long)((d - (double)(time_t)d) * 1e9)};
	nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "issue") != 0) {
		fputs("usage: pki_bench issue [--clients N] [--duration S] [--warmup S] [--csr] "
		      "[--dir DIR] [--source DIR]\n",
		      stderr);
		return 2;
	}
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--csr"))
			O.csr = true;
		else if (!strcmp(a, "--clients") && v && ++i)
			O.clients = (int)strtol(v, NULL, 10);
		else if (!strcmp(a, "--duration") && v && ++i)
			O.duration = strtod(v, NULL);
		else if (!strcmp(a, "--warmup") && v && ++i)
			O.warmup = strtod(v, NULL);
		else if (!strcmp(a, "--dir") && v && ++i)
			O.dir = v;
		else if (!strcmp(a, "--source") && v && ++i)
			O.root = v;
		else {
			fprintf(stderr, "pki_bench: unknown argument %s\n", a);
			return 2;
		}
	}
	if (O.clients < 1 || O.clients > 256)
		O.clients = 4;
	char dir[600], target[700], profiles[700];
	snprintf(dir, sizeof dir, "%s/pki-bench-XXXXXX", O.dir);
	if (!mkdtemp(dir))
		die("cannot make a directory", NULL);
	snprintf(target, sizeof target, "%s/pki.db", dir);
	snprintf(profiles, sizeof profiles, "%s/data/pki/profiles.json", O.root);
	yz_err e = {0};
	if (store_open(target, NULL, &S, &e) != YZ_OK)
		die("store", &e);
	if (store_migrate(S, "audit", audit_migrations, audit_nmigrations, &e) != YZ_OK ||
	    store_migrate(S, "pki", pki_migrations, pki_nmigrations, &e) != YZ_OK)
		die("migrations", &e);
	yz_actor who = actor_system("bench");
	json_t *doc = json_pack("{s:[{s:s, s:s, s:s}, {s:s, s:s, s:s, s:s}]}", "cas", "name",
	                        "root", "title", "根", "cn", "基准测试根 CA", "name", "city",
	                        "title", "市 CA", "cn", "基准测试市 CA", "parent", "root");
	if (pki_install(S, dir, &who, doc, profiles, NULL, &e) != YZ_OK)
		die("CAs", &e);
	json_decref(doc);
	for (int i = 0; i < NKEYS; i++)
		inputs[i] = make_input(i);
	fprintf(stderr, "pki_bench: issue: %d clients, SM2 %s, %.0f s after %.0f s warm-up\n",
	        O.clients, O.csr ? "requests (PKCS#10)" : "public keys", O.duration, O.warmup);

	pthread_t th[256];
	for (long i = 0; i < O.clients; i++)
		pthread_create(&th[i], NULL, client, (void *)(intptr_t)i);
	sleep_s(O.warmup);
	store_stats s0, s1;
	store_get_stats(S, &s0);
	double t0 = now_s(), c0 = cpu_s();
	atomic_store(&recording, 1);
	sleep_s(O.duration);
	atomic_store(&recording, 0);
	double t1 = now_s(), c1 = cpu_s();
	store_get_stats(S, &s1);
	atomic_store(&stop, 1);
	for (int i = 0; i < O.clients; i++)
		pthread_join(th[i], NULL);
	long n = atomic_load(&issued);
	double rate = (double)n / (t1 - t0);
	uint64_t commits = s1.batches - s0.batches;
	fprintf(
	    stderr,
	    "pki_bench: %ld certificates in %.1f s: %.0f/s, %.0f us CPU each, %.1f per commit\n", n,
	    t1 - t0, rate, n ? 1e6 * (c1 - c0) / (double)n : 0,
	    commits ? (double)(s1.jobs - s0.jobs) / (double)commits : 0);
	printf("result issued_per_s %.0f\n", rate);
	printf("result cpu_us_per_cert %.0f\n", n ? 1e6 * (c1 - c0) / (double)n : 0);
	printf("result failed %ld\n", atomic_load(&failed));
	printf("result per_commit %.1f\n",
	       commits ? (double)(s1.jobs - s0.jobs) / (double)commits : 0.0);
	pki_unload();
	store_close(S);
	for (int i = 0; i < NKEYS; i++)
		free(inputs[i]);
	char path[800];
	const char *files[] = {"pki.db", "pki.db-wal", "pki.db-shm", "keys/pki.kek"};
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, files[i]);
		unlink(path);
	}
	snprintf(path, sizeof path, "%s/keys", dir);
	rmdir(path);
	rmdir(dir);
	return 0;
}
