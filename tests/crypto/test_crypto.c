/* Unit tests for src/crypto: known-answer vectors from the Chinese standards,
 * cross-checks against the openssl command-line tool (an independent
 * implementation path), the SM2 type and ID traps of OpenSSL 3.0, PEM/DER
 * round trips, sealing, passwords and a thread-safety smoke test.
 *
 * Vector sources:
 *  - SM3: GB/T 32905-2016 Appendix A (examples 1 and 2).
 *  - SM4: GB/T 32907-2016 Appendix A (examples 1 and 2); SM4-CBC: OpenSSL
 *    test/recipes/30-test_evp_data/evpciph_sm4.txt (no padding; our PKCS#7
 *    output must start with it).
 *  - SM2: GM/T 0003.5-2012 / GB/T 32918.5-2017 Annex A signature example on
 *    the recommended curve (d, P, ID "1234567812345678", Z_A, e, r, s for the
 *    message "message digest").
 *  - SM2 encryption: GB/T 32918.5-2017 Annex (GM/T 0003.5-2012) example on
 *    the recommended curve (d_B, P_B, "encryption standard", C1C3C2 as the
 *    GM/T 0009 SM2Cipher).
 *  - HMAC-SM3: GM/T 0042-2015 Appendix D.3 (as used by libxcrypt's
 *    test/alg-sm3-hmac.c); HMAC-SHA256: RFC 4231 test case 2.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "core/buf.h"
#include "core/status.h"
#include "crypto/crypto.h"

extern char **environ;

/* ---- helpers ---- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Hex to bytes; skips ':' and white space (the CLI prints both). */
static size_t unhex(const char *h, unsigned char *out, size_t cap)
{
	size_t n = 0;
	int hi = -1;
	for (; *h; h++) {
		if (*h == ':' || *h == ' ' || *h == '\n' || *h == '\r')
			continue;
		int v = hexval(*h);
		assert_true(v >= 0);
		if (hi < 0) {
			hi = v;
		} else {
			assert_true(n < cap);
			out[n++] = (unsigned char)(hi << 4 | v);
			hi = -1;
		}
	}
	assert_int_equal(hi, -1);
	return n;
}

static void tohex(const unsigned char *d, size_t n, char *out)
{
	static const char x[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = x[d[i] >> 4];
		out[2 * i + 1] = x[d[i] & 15];
	}
	out[2 * n] = '\0';
}

static void assert_hex(const unsigned char *got, size_t n, const char *want)
{
	char h[1024];
	assert_true(2 * n < sizeof h);
	tohex(got, n, h);
	char w[1024];
	size_t i = 0;
	for (; want[i] && i + 1 < sizeof w; i++)
		w[i] = (char)(want[i] >= 'A' && want[i] <= 'F' ? want[i] + 32 : want[i]);
	w[i] = '\0';
	assert_string_equal(h, w);
}

/* Run argv (PATH lookup) with stdout captured into out, stderr discarded.
 * Returns the exit status, or -1 when it did not exit normally. */
static int run(const char *const argv[], char *out, size_t cap)
{
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	posix_spawn_file_actions_addclose(&fa, fds[0]);
	posix_spawn_file_actions_addclose(&fa, fds[1]);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	pid_t pid;
	int rc = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	assert_int_equal(rc, 0);
	size_t len = 0;
	for (;;) {
		char tmp[512];
		ssize_t r = read(fds[0], tmp, sizeof tmp);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		for (ssize_t i = 0; i < r; i++) {
			if (out && len + 1 < cap)
				out[len++] = tmp[i];
		}
	}
	if (out && cap)
		out[len] = '\0';
	close(fds[0]);
	int st;
	while (waitpid(pid, &st, 0) < 0)
		assert_int_equal(errno, EINTR);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

typedef struct tmpdir {
	char dir[64];
	char paths[8][128];
	int n;
} tmpdir;

static void tmp_open(tmpdir *t)
{
	memset(t, 0, sizeof *t);
	snprintf(t->dir, sizeof t->dir, "/tmp/yz-crypto-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
}

/* Write data to <dir>/<name>; returns the path (valid until tmp_close). */
static const char *tmp_write(tmpdir *t, const char *name, const void *data, size_t n)
{
	assert_true(t->n < 8);
	char *p = t->paths[t->n++];
	char tmp[128];
	snprintf(tmp, sizeof tmp, "%s/%s", t->dir, name);
	memcpy(p, tmp, sizeof tmp);
	FILE *f = fopen(p, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
	return p;
}

/* A path in the directory for a file the CLI will create. */
static const char *tmp_path(tmpdir *t, const char *name)
{
	assert_true(t->n < 8);
	char *p = t->paths[t->n++];
	char tmp[128];
	snprintf(tmp, sizeof tmp, "%s/%s", t->dir, name);
	memcpy(p, tmp, sizeof tmp);
	return p;
}

static size_t read_file(const char *path, unsigned char *out, size_t cap)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	size_t n = fread(out, 1, cap, f);
	fclose(f);
	return n;
}

static void tmp_close(tmpdir *t)
{
	for (int i = 0; i < t->n; i++)
		unlink(t->paths[i]);
	assert_int_equal(rmdir(t->dir), 0);
	t->dir[0] = '\0';
}

/* The one scratch directory of the CLI tests; the teardown removes it also
 * when a test failed half-way. */
static tmpdir g_tmp;

static int tmp_teardown(void **state)
{
	(void)state;
	if (g_tmp.dir[0]) {
		for (int i = 0; i < g_tmp.n; i++)
			unlink(g_tmp.paths[i]);
		rmdir(g_tmp.dir);
		g_tmp.dir[0] = '\0';
	}
	return 0;
}

/* DER ECDSA-Sig-Value from two 32-byte big-endian integers. */
static size_t der_sig(const unsigned char r[32], const unsigned char s[32], unsigned char *out)
{
	unsigned char body[80];
	size_t n = 0;
	const unsigned char *ints[2] = {r, s};
	for (int k = 0; k < 2; k++) {
		const unsigned char *v = ints[k];
		size_t skip = 0;
		while (skip < 31 && v[skip] == 0)
			skip++;
		size_t len = 32 - skip;
		bool pad = v[skip] & 0x80;
		body[n++] = 0x02;
		body[n++] = (unsigned char)(len + pad);
		if (pad)
			body[n++] = 0;
		memcpy(body + n, v + skip, len);
		n += len;
	}
	out[0] = 0x30;
	out[1] = (unsigned char)n;
	memcpy(out + 2, body, n);
	return n + 2;
}

/* ---- SM3, SHA-256, HMAC ---- */

static void sm3_standard_vectors(void **state)
{
	(void)state;
	unsigned char d[CRYPTO_SM3_LEN];
	crypto_sm3("abc", 3, d);
	assert_hex(d, sizeof d, "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0");
	char m[65] = "";
	for (int i = 0; i < 16; i++)
		memcpy(m + 4 * i, "abcd", 4);
	crypto_sm3(m, 64, d);
	assert_hex(d, sizeof d, "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732");
	/* empty input, a value OpenSSL and GmSSL agree on */
	crypto_sm3(NULL, 0, d);
	assert_hex(d, sizeof d, "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b");
}

static void sm3_incremental_equals_oneshot(void **state)
{
	(void)state;
	unsigned char data[1000], one[CRYPTO_SM3_LEN], inc[CRYPTO_SM3_LEN];
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (unsigned char)(i * 7 + 3);
	crypto_sm3(data, sizeof data, one);
	crypto_sm3_ctx *c = crypto_sm3_new();
	assert_non_null(c);
	/* uneven pieces that straddle the 64-byte block boundary */
	size_t off = 0, step = 1;
	while (off < sizeof data) {
		size_t k = step < sizeof data - off ? step : sizeof data - off;
		crypto_sm3_update(c, data + off, k);
		off += k;
		step = step * 3 % 97 + 1;
	}
	crypto_sm3_final(c, inc);
	assert_memory_equal(one, inc, sizeof one);
	/* final resets: the same context now hashes "abc" from scratch */
	crypto_sm3_update(c, "ab", 2);
	crypto_sm3_update(c, "c", 1);
	crypto_sm3_final(c, inc);
	assert_hex(inc, sizeof inc,
	           "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0");
	crypto_sm3_free(c);
	crypto_sm3_free(NULL);
}

static void sha256_vector(void **state)
{
	(void)state;
	unsigned char d[CRYPTO_SHA256_LEN];
	crypto_sha256("abc", 3, d);
	assert_hex(d, sizeof d, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void hmac_published_vectors(void **state)
{
	(void)state;
	unsigned char mac[32], key[37];
	for (int i = 0; i < 37; i++)
		key[i] = (unsigned char)(i + 1);
	/* GM/T 0042-2015 D.3, example 1 */
	const char *t1 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
	                 "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	crypto_hmac_sm3(key, 32, t1, 112, mac);
	assert_hex(mac, 32, "ca05e144ed05d1857840d1f318a4a8669e559fc8391f414485bfdf7bb408963a");
	/* example 2: 50 bytes of 0xcd under a 37-byte key */
	unsigned char cd[50];
	memset(cd, 0xcd, sizeof cd);
	crypto_hmac_sm3(key, 37, cd, sizeof cd, mac);
	assert_hex(mac, 32, "220bf579ded555393f0159f66c99877822a3ecf610d1552154b41d44b94db3ae");
	/* example 3 */
	unsigned char k0b[32];
	memset(k0b, 0x0b, sizeof k0b);
	crypto_hmac_sm3(k0b, 32, "Hi There", 8, mac);
	assert_hex(mac, 32, "c0ba18c68b90c88bc07de794bfc7d2c8d19ec31ed8773bc2b390c9604e0be11e");
	/* example 4 */
	crypto_hmac_sm3("Jefe", 4, "what do ya want for nothing?", 28, mac);
	assert_hex(mac, 32, "2e87f1d16862e6d964b50a5200bf2b10b764faa9680a296a2405f24bec39f882");
	/* RFC 4231 test case 2 */
	crypto_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, mac);
	assert_hex(mac, 32, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	/* empty key and message are legal (HMAC-SHA256("", "")) */
	crypto_hmac_sha256(NULL, 0, NULL, 0, mac);
	assert_hex(mac, 32, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

static void hmac_sm3_matches_openssl_cli(void **state)
{
	(void)state;
	unsigned char key[20], data[300], mac[32], cli[64];
	char keyhex[41], out[256];
	assert_int_equal(crypto_random(key, sizeof key), YZ_OK);
	assert_int_equal(crypto_random(data, sizeof data), YZ_OK);
	tohex(key, sizeof key, keyhex);
	tmpdir *t = &g_tmp;
	tmp_open(t);
	const char *msg = tmp_write(t, "msg", data, sizeof data);
	char opt[64];
	snprintf(opt, sizeof opt, "hexkey:%s", keyhex);
	const char *argv[] = {"openssl", "mac", "-digest", "SM3",  "-macopt",
	                      opt,       "-in", msg,       "HMAC", NULL};
	assert_int_equal(run(argv, out, sizeof out), 0);
	tmp_close(t);
	assert_int_equal(unhex(out, cli, sizeof cli), 32);
	crypto_hmac_sm3(key, sizeof key, data, sizeof data, mac);
	assert_memory_equal(mac, cli, 32);
}

static void equal_is_exact(void **state)
{
	(void)state;
	assert_true(crypto_equal("abcd", "abcd", 4));
	assert_false(crypto_equal("abcd", "abce", 4));
	assert_false(crypto_equal("xbcd", "abcd", 4));
	assert_true(crypto_equal("a", "b", 0));
}

/* ---- randomness ---- */

static void random_hex_and_token(void **state)
{
	(void)state;
	char a[65], b[65];
	assert_int_equal(crypto_random_hex(32, a, sizeof a), YZ_OK);
	assert_int_equal(crypto_random_hex(32, b, sizeof b), YZ_OK);
	assert_int_equal(strlen(a), 64);
	assert_int_equal(strspn(a, "0123456789abcdef"), 64);
	assert_string_not_equal(a, b);
	assert_int_equal(crypto_random_hex(32, a, 64), YZ_EINVAL);

	char tok[64];
	assert_int_equal(crypto_random_token(32, tok, sizeof tok), YZ_OK);
	assert_int_equal(strlen(tok), 43); /* 256 bits, base64url without '=' */
	assert_int_equal(strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	                             "0123456789-_"),
	                 43);
	assert_int_equal(crypto_random_token(32, tok, 43), YZ_EINVAL);
	assert_int_equal(crypto_random_token(1, tok, sizeof tok), YZ_OK);
	assert_int_equal(strlen(tok), 2);

	unsigned char z[64] = {0}, r[64] = {0};
	assert_int_equal(crypto_random(r, sizeof r), YZ_OK);
	assert_memory_not_equal(z, r, sizeof r);
	assert_int_equal(crypto_random(NULL, 0), YZ_OK);
}

/* ---- PBKDF2 and passwords ---- */

static void pbkdf2_matches_openssl_cli(void **state)
{
	(void)state;
	const char *pw = "correct horse battery staple";
	const char *salt = "NaCl-yizhan-2024";
	unsigned char ours[32], cli[64];
	char out[256], popt[128], sopt[64];
	assert_int_equal(crypto_pbkdf2_sm3(pw, strlen(pw), (const unsigned char *)salt,
	                                   strlen(salt), 1000, ours, sizeof ours),
	                 YZ_OK);
	snprintf(popt, sizeof popt, "pass:%s", pw);
	snprintf(sopt, sizeof sopt, "salt:%s", salt);
	const char *argv[] = {"openssl",    "kdf",       "-keylen", "32",      "-kdfopt",
	                      "digest:SM3", "-kdfopt",   popt,      "-kdfopt", sopt,
	                      "-kdfopt",    "iter:1000", "PBKDF2",  NULL};
	assert_int_equal(run(argv, out, sizeof out), 0);
	assert_int_equal(unhex(out, cli, sizeof cli), 32);
	assert_memory_equal(ours, cli, 32);

	/* the iteration count matters */
	unsigned char other[32];
	assert_int_equal(crypto_pbkdf2_sm3(pw, strlen(pw), (const unsigned char *)salt,
	                                   strlen(salt), 999, other, sizeof other),
	                 YZ_OK);
	assert_memory_not_equal(ours, other, 32);
	assert_int_equal(crypto_pbkdf2_sm3(pw, strlen(pw), (const unsigned char *)salt,
	                                   strlen(salt), 0, other, sizeof other),
	                 YZ_EINVAL);
}

static void password_hash_and_verify(void **state)
{
	(void)state;
	char h1[128], h2[128];
	assert_int_equal(crypto_password_hash("秘密-passw0rd", 1000, h1, sizeof h1), YZ_OK);
	assert_int_equal(crypto_password_hash("秘密-passw0rd", 1000, h2, sizeof h2), YZ_OK);
	/* pbkdf2-sm3$1000$<24 chars>$<44 chars> */
	assert_int_equal(strncmp(h1, "pbkdf2-sm3$1000$", 16), 0);
	assert_int_equal(strlen(h1), 16 + 24 + 1 + 44);
	assert_int_equal(h1[16 + 24], '$');
	assert_string_not_equal(h1, h2); /* fresh salt each time */

	bool rehash = true;
	assert_int_equal(crypto_password_verify("秘密-passw0rd", h1, 1000, &rehash), YZ_OK);
	assert_false(rehash);
	assert_int_equal(crypto_password_verify("秘密-passw0rd", h2, 1000, NULL), YZ_OK);
	assert_int_equal(crypto_password_verify("秘密-passw0rD", h1, 1000, &rehash), YZ_EREFUSED);
	assert_int_equal(crypto_password_verify("", h1, 1000, NULL), YZ_EREFUSED);
	/* policy raised to 2000: still the right password, but rehash */
	assert_int_equal(crypto_password_verify("秘密-passw0rd", h1, 2000, &rehash), YZ_OK);
	assert_true(rehash);
	assert_int_equal(crypto_password_verify("秘密-passw0rd", h1, 500, &rehash), YZ_OK);
	assert_false(rehash);
	assert_int_equal(crypto_password_hash("x", 1000, h2, 127), YZ_EINVAL);
	assert_int_equal(crypto_password_hash("x", 0, h2, sizeof h2), YZ_EINVAL);
}

static void password_garbage_is_einval(void **state)
{
	(void)state;
	char good[128];
	assert_int_equal(crypto_password_hash("pw", 10, good, sizeof good), YZ_OK);
	const char *salt_hash = strchr(good + strlen("pbkdf2-sm3$"), '$'); /* "$salt$hash" */
	char s[256];
	const char *bad[] = {
	    "",
	    "pbkdf2-sm3$",
	    "pbkdf2-sm3$10",
	    "pbkdf2-sm3$10$",
	    "pbkdf2-sm3$10$AAAAAAAAAAAAAAAAAAAAAA==",
	    "pbkdf2-sha256$10$AAAAAAAAAAAAAAAAAAAAAA==$"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
	    "$2b$12$abcdefghijklmnopqrstuv",
	    "pbkdf2-sm3$10$!!!!$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
	    "pbkdf2-sm3$10$AAAAAAAAAAAAAAAAAAAAAA==$not base64 at all",
	    "pbkdf2-sm3$10$AAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", /* 3-byte salt */
	    "pbkdf2-sm3$10$AAAAAAAAAAAAAAAAAAAAAA==$AAAA",                     /* 3-byte hash */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		bool rehash = true;
		assert_int_equal(crypto_password_verify("pw", bad[i], 10, &rehash), YZ_EINVAL);
		assert_false(rehash);
	}
	/* the iteration field: zero, leading zero, sign, too many digits */
	const char *iters[] = {"0", "010", "+10", "-10", "1234567890", "1e3", ""};
	for (size_t i = 0; i < sizeof iters / sizeof iters[0]; i++) {
		snprintf(s, sizeof s, "pbkdf2-sm3$%s%s", iters[i], salt_hash);
		assert_int_equal(crypto_password_verify("pw", s, 10, NULL), YZ_EINVAL);
	}
	/* and the same string with "10" is accepted, so the loop above tests
	 * only the field it means to */
	snprintf(s, sizeof s, "pbkdf2-sm3$%s%s", "10", salt_hash);
	assert_int_equal(crypto_password_verify("pw", s, 10, NULL), YZ_OK);
	assert_int_equal(crypto_password_verify(NULL, good, 10, NULL), YZ_EINVAL);
}

/* ---- SM4 ---- */

static void sm4_standard_vectors(void **state)
{
	(void)state;
	unsigned char key[16], blk[16], back[16];
	unhex("0123456789abcdeffedcba9876543210", key, sizeof key);
	assert_int_equal(crypto_sm4_ecb_block(key, key, blk, true), YZ_OK);
	assert_hex(blk, 16, "681edf34d206965e86b3e94f536e4246");
	assert_int_equal(crypto_sm4_ecb_block(key, blk, back, false), YZ_OK);
	assert_memory_equal(back, key, 16);

	/* Example 2: the same key, 1,000,000 encryptions in a row. */
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	memcpy(blk, key, 16);
	for (int i = 0; i < 1000000; i++) {
		if (crypto_sm4_ecb_block(key, blk, blk, true) != YZ_OK)
			fail_msg("SM4 failed at iteration %d", i);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_hex(blk, 16, "595298c7c6fd271f0402f804c33d3f66");
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	print_message("# SM4 1,000,000 single-block encryptions: %.2f s\n", secs);
}

static void sm4_cbc_vector_and_round_trip(void **state)
{
	(void)state;
	unsigned char key[16], iv[16], pt[32], want[32];
	unhex("0123456789abcdeffedcba9876543210", key, sizeof key);
	unhex("0123456789abcdeffedcba9876543210", iv, sizeof iv);
	unhex("0123456789abcdeffedcba98765432100123456789abcdeffedcba9876543210", pt, sizeof pt);
	unhex("2677f46b09c122cc975533105bd4a22af6125f7275ce552c3a2bbcf533de8a3b", want,
	      sizeof want);
	buf c;
	buf_init(&c, 1 << 16);
	assert_int_equal(crypto_sm4_cbc_encrypt(key, iv, pt, sizeof pt, &c), YZ_OK);
	assert_int_equal(c.len, 48); /* a whole block of padding follows */
	assert_memory_equal(c.p, want, 32);

	unsigned char data[40];
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (unsigned char)(0xA5 ^ i);
	buf p;
	buf_init(&p, 1 << 16);
	for (size_t n = 0; n <= 40; n++) {
		buf_reset(&c);
		buf_reset(&p);
		assert_int_equal(crypto_sm4_cbc_encrypt(key, iv, data, n, &c), YZ_OK);
		assert_int_equal(c.len, (n / 16 + 1) * 16);
		assert_int_equal(crypto_sm4_cbc_decrypt(key, iv, c.p, c.len, &p), YZ_OK);
		assert_int_equal(p.len, n);
		assert_memory_equal(p.p, data, n);
	}
	/* appends to what is there */
	buf_reset(&c);
	assert_int_equal(buf_puts(&c, "hdr:"), YZ_OK);
	assert_int_equal(crypto_sm4_cbc_encrypt(key, iv, data, 5, &c), YZ_OK);
	assert_int_equal(c.len, 4 + 16);
	assert_memory_equal(c.p, "hdr:", 4);
	/* wrong length, and bad padding (this key/ciphertext pair is fixed, so
	 * the outcome is deterministic) */
	buf_reset(&p);
	assert_int_equal(crypto_sm4_cbc_decrypt(key, iv, c.p + 4, 15, &p), YZ_ECRYPTO);
	assert_int_equal(crypto_sm4_cbc_decrypt(key, iv, c.p + 4, 0, &p), YZ_ECRYPTO);
	key[0] ^= 1;
	assert_int_equal(crypto_sm4_cbc_decrypt(key, iv, c.p + 4, 16, &p), YZ_ECRYPTO);
	assert_int_equal(p.len, 0);
	/* a too-small output buffer fails without leaving half a result */
	buf small;
	buf_init(&small, 10);
	assert_int_equal(crypto_sm4_cbc_encrypt(key, iv, data, 20, &small), YZ_ETOOBIG);
	assert_int_equal(small.len, 0);
	buf_free(&small);
	buf_free(&c);
	buf_free(&p);
	/* failures above must not leave stale entries in OpenSSL's error queue */
	assert_int_equal(ERR_peek_error(), 0);
}

/* ---- seal / open ---- */

static void seal_round_trip_and_format(void **state)
{
	(void)state;
	unsigned char key[CRYPTO_SEAL_KEY_LEN];
	assert_int_equal(crypto_random(key, sizeof key), YZ_OK);
	static unsigned char data[9000];
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (unsigned char)(i * 31 + 7);
	const char *aad = "persons.id_number:42";
	size_t sizes[] = {0, 1, 15, 16, 17, 100, 4096, 4097, 9000};
	buf s, p;
	buf_init(&s, 1 << 20);
	buf_init(&p, 1 << 20);
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		size_t n = sizes[i];
		buf_reset(&s);
		buf_reset(&p);
		assert_int_equal(crypto_seal(key, aad, strlen(aad), data, n, &s), YZ_OK);
		assert_int_equal(s.len, n + CRYPTO_SEAL_OVERHEAD);
		assert_int_equal(crypto_open(key, aad, strlen(aad), s.p, s.len, &p), YZ_OK);
		assert_int_equal(p.len, n);
		assert_memory_equal(p.p, data, n);
	}

	/* The layout is exactly iv || SM4-CTR(ek, iv) || HMAC-SM3(mk, u64 aadlen ||
	 * aad || iv || ct) with ek, mk = HMAC-SM3(key, label): recompute it with
	 * raw OpenSSL. */
	buf_reset(&s);
	assert_int_equal(crypto_seal(key, aad, strlen(aad), data, 100, &s), YZ_OK);
	const unsigned char *iv = (const unsigned char *)s.p, *ct = iv + 16, *tag = ct + 100;
	unsigned char ek[32], mk[32];
	crypto_hmac_sm3(key, sizeof key, "yizhan-seal-enc", 15, ek);
	crypto_hmac_sm3(key, sizeof key, "yizhan-seal-mac", 15, mk);
	unsigned char ctr[100];
	int l1 = 0, l2 = 0;
	EVP_CIPHER_CTX *cc = EVP_CIPHER_CTX_new();
	assert_int_equal(EVP_EncryptInit_ex(cc, EVP_sm4_ctr(), NULL, ek, iv), 1);
	assert_int_equal(EVP_EncryptUpdate(cc, ctr, &l1, data, 100), 1);
	assert_int_equal(EVP_EncryptFinal_ex(cc, ctr + l1, &l2), 1);
	EVP_CIPHER_CTX_free(cc);
	assert_int_equal(l1 + l2, 100);
	assert_memory_equal(ct, ctr, 100);
	unsigned char mac_in[256], mac[32];
	size_t ml = 0;
	memset(mac_in, 0, 8);
	mac_in[7] = (unsigned char)strlen(aad);
	ml = 8;
	memcpy(mac_in + ml, aad, strlen(aad));
	ml += strlen(aad);
	memcpy(mac_in + ml, iv, 116);
	ml += 116;
	crypto_hmac_sm3(mk, 32, mac_in, ml, mac);
	assert_memory_equal(tag, mac, 32);
	/* a key wrong in any byte, first or last, fails to open */
	for (int k = 0; k < CRYPTO_SEAL_KEY_LEN; k += CRYPTO_SEAL_KEY_LEN - 1) {
		unsigned char bad[CRYPTO_SEAL_KEY_LEN];
		memcpy(bad, key, sizeof bad);
		bad[k] ^= 1;
		buf_reset(&p);
		assert_int_equal(crypto_open(bad, aad, strlen(aad), s.p, s.len, &p), YZ_ECRYPTO);
		assert_int_equal(p.len, 0);
	}
	/* moving bytes between aad and the rest does not verify */
	buf_reset(&p);
	assert_int_equal(crypto_open(key, aad, strlen(aad) - 1, s.p, s.len, &p), YZ_ECRYPTO);

	/* a fresh IV every time */
	buf s2;
	buf_init(&s2, 1 << 20);
	assert_int_equal(crypto_seal(key, aad, strlen(aad), data, 100, &s2), YZ_OK);
	assert_memory_not_equal(s.p, s2.p, 16);
	/* no aad: NULL and empty are the same */
	buf_reset(&s2);
	buf_reset(&p);
	assert_int_equal(crypto_seal(key, NULL, 0, "x", 1, &s2), YZ_OK);
	assert_int_equal(crypto_open(key, "", 0, s2.p, s2.len, &p), YZ_OK);
	assert_int_equal(p.len, 1);
	buf_free(&s2);
	buf_free(&s);
	buf_free(&p);
}

static void seal_detects_tampering(void **state)
{
	(void)state;
	unsigned char key[CRYPTO_SEAL_KEY_LEN];
	assert_int_equal(crypto_random(key, sizeof key), YZ_OK);
	char aad[] = "table:column:row-7";
	const char *msg = "身份证号 520102199001011234";
	buf s, p;
	buf_init(&s, 4096);
	buf_init(&p, 4096);
	assert_int_equal(crypto_seal(key, aad, strlen(aad), msg, strlen(msg), &s), YZ_OK);
	/* every byte of iv, ciphertext and tag, one bit at a time */
	for (size_t i = 0; i < s.len; i++) {
		for (int bit = 0; bit < 8; bit += 7) {
			s.p[i] ^= (char)(1 << bit);
			if (crypto_open(key, aad, strlen(aad), s.p, s.len, &p) != YZ_ECRYPTO)
				fail_msg("flip of byte %zu bit %d was not detected", i, bit);
			s.p[i] ^= (char)(1 << bit);
		}
	}
	assert_int_equal(p.len, 0);
	/* every byte of the aad */
	for (size_t i = 0; i < strlen(aad); i++) {
		aad[i] ^= 1;
		assert_int_equal(crypto_open(key, aad, strlen(aad), s.p, s.len, &p), YZ_ECRYPTO);
		aad[i] ^= 1;
	}
	/* aad cut short or missing, blob truncated or extended, MAC key wrong */
	assert_int_equal(crypto_open(key, aad, strlen(aad) - 1, s.p, s.len, &p), YZ_ECRYPTO);
	assert_int_equal(crypto_open(key, NULL, 0, s.p, s.len, &p), YZ_ECRYPTO);
	assert_int_equal(crypto_open(key, aad, strlen(aad), s.p, s.len - 1, &p), YZ_ECRYPTO);
	assert_int_equal(crypto_open(key, aad, strlen(aad), s.p, 47, &p), YZ_ECRYPTO);
	assert_int_equal(buf_putc(&s, 0), YZ_OK);
	assert_int_equal(crypto_open(key, aad, strlen(aad), s.p, s.len, &p), YZ_ECRYPTO);
	s.len--;
	key[40] ^= 0x80;
	assert_int_equal(crypto_open(key, aad, strlen(aad), s.p, s.len, &p), YZ_ECRYPTO);
	key[40] ^= 0x80;
	assert_int_equal(p.len, 0);
	/* and the untouched blob still opens */
	assert_int_equal(crypto_open(key, aad, strlen(aad), s.p, s.len, &p), YZ_OK);
	assert_int_equal(p.len, strlen(msg));
	assert_memory_equal(p.p, msg, p.len);
	buf_free(&s);
	buf_free(&p);
	/* failures above must not leave stale entries in OpenSSL's error queue */
	assert_int_equal(ERR_peek_error(), 0);
}

/* ---- SM2: the standard's example ---- */

#define SM2_D  "3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8"
#define SM2_X  "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
#define SM2_Y  "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
#define SM2_ZA "B2E14C5C79C6DF5B85F4FE7ED8DB7A262B9DA7E07CCB0EA9F4747B8CCDA8A4F3"
#define SM2_E  "F0B43E94BA45ACCAACE692ED534382EB17E6AB5A19CE7B31F4486FDFC0D28640"
#define SM2_R  "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3"
#define SM2_S  "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA"

static void sm2_standard_example(void **state)
{
	(void)state;
	unsigned char d[32], x[32], y[32], r[32], s[32], sig[80], za[32], e[32];
	unhex(SM2_D, d, 32);
	unhex(SM2_X, x, 32);
	unhex(SM2_Y, y, 32);
	unhex(SM2_R, r, 32);
	unhex(SM2_S, s, 32);
	size_t siglen = der_sig(r, s, sig);
	assert_int_equal(siglen, 72);
	yz_err err = {0};
	crypto_key *k = NULL, *pub = NULL;
	assert_int_equal(crypto_sm2_key_from_raw(d, x, y, &k, &err), YZ_OK);
	assert_int_equal(crypto_key_alg(k), CRYPTO_SM2);
	assert_true(crypto_key_is_private(k));
	assert_true(EVP_PKEY_is_a(crypto_key_evp(k), "SM2"));
	assert_int_equal(crypto_sm2_key_from_raw(NULL, x, y, &pub, &err), YZ_OK);
	assert_false(crypto_key_is_private(pub));
	assert_true(EVP_PKEY_is_a(crypto_key_evp(pub), "SM2"));

	/* Z_A and e = SM3(Z_A || M) as published */
	assert_int_equal(crypto_sm2_za(pub, CRYPTO_SM2_DEFAULT_ID, 16, za), YZ_OK);
	assert_hex(za, 32, SM2_ZA);
	unsigned char ze[32 + 14];
	memcpy(ze, za, 32);
	memcpy(ze + 32, "message digest", 14);
	crypto_sm3(ze, sizeof ze, e);
	assert_hex(e, 32, SM2_E);
	/* the same with the private key object; another ID gives another Z */
	assert_int_equal(crypto_sm2_za(k, CRYPTO_SM2_DEFAULT_ID, 16, za), YZ_OK);
	assert_hex(za, 32, SM2_ZA);
	unsigned char za_pub[32];
	unhex(SM2_ZA, za_pub, 32);
	assert_int_equal(crypto_sm2_za(k, CRYPTO_SM2_DEFAULT_ID, 17, za), YZ_OK);
	assert_memory_not_equal(za, za_pub, 32);
	assert_int_equal(crypto_sm2_za(k, "", 0, za), YZ_EINVAL);

	/* the published signature verifies, through both entry points */
	assert_int_equal(crypto_verify(pub, "message digest", 14, sig, siglen, &err), YZ_OK);
	assert_int_equal(crypto_verify(k, "message digest", 14, sig, siglen, &err), YZ_OK);
	assert_int_equal(crypto_sm2_verify_id(pub, "1234567812345678", 16, "message digest", 14,
	                                      sig, siglen, &err),
	                 YZ_OK);
	/* ... and nothing else does */
	assert_int_equal(crypto_verify(pub, "message digesT", 14, sig, siglen, &err), YZ_ECRYPTO);
	assert_string_equal(err.msg, "signature does not verify");
	assert_int_equal(crypto_sm2_verify_id(pub, "ALICE123@YAHOO.COM", 18, "message digest", 14,
	                                      sig, siglen, &err),
	                 YZ_ECRYPTO);
	/* the ID counted with its NUL (17 bytes) is the classic mistake */
	assert_int_equal(crypto_sm2_verify_id(pub, "1234567812345678", 17, "message digest", 14,
	                                      sig, siglen, &err),
	                 YZ_ECRYPTO);
	for (size_t i = 0; i < siglen; i += 7) {
		sig[i] ^= 0x10;
		assert_int_not_equal(crypto_verify(pub, "message digest", 14, sig, siglen, NULL),
		                     YZ_OK);
		sig[i] ^= 0x10;
	}
	assert_int_equal(crypto_verify(pub, "message digest", 14, sig, siglen, NULL), YZ_OK);
	/* public-only keys do not sign */
	buf b;
	buf_init(&b, 1024);
	assert_int_equal(crypto_sign(pub, "m", 1, &b, &err), YZ_EINVAL);
	/* sign with an explicit ID; verifies only with that ID */
	assert_int_equal(crypto_sm2_sign_id(k, "ALICE123@YAHOO.COM", 18, "m", 1, &b, &err), YZ_OK);
	assert_int_equal(
	    crypto_sm2_verify_id(pub, "ALICE123@YAHOO.COM", 18, "m", 1, b.p, b.len, &err), YZ_OK);
	assert_int_equal(crypto_verify(pub, "m", 1, b.p, b.len, &err), YZ_ECRYPTO);
	assert_int_equal(crypto_sm2_sign_id(k, "", 0, "m", 1, &b, &err), YZ_EINVAL);
	buf_free(&b);
	crypto_key_free(k);
	crypto_key_free(pub);
	/* failures above must not leave stale entries in OpenSSL's error queue */
	assert_int_equal(ERR_peek_error(), 0);
}

static void sm2_raw_import_is_checked(void **state)
{
	(void)state;
	unsigned char d[32], x[32], y[32];
	unhex(SM2_D, d, 32);
	unhex(SM2_X, x, 32);
	unhex(SM2_Y, y, 32);
	crypto_key *k = NULL;
	yz_err err = {0};
	/* d that does not belong to P */
	d[31] ^= 1;
	assert_int_equal(crypto_sm2_key_from_raw(d, x, y, &k, &err), YZ_EINVAL);
	assert_null(k);
	d[31] ^= 1;
	/* P not on the curve */
	y[31] ^= 1;
	assert_int_equal(crypto_sm2_key_from_raw(NULL, x, y, &k, &err), YZ_EINVAL);
	assert_null(k);
	y[31] ^= 1;
	/* d = 0 and d = n - 1 are out of range */
	unsigned char z[32] = {0}, nm1[32];
	unhex("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54122", nm1, 32);
	assert_int_equal(crypto_sm2_key_from_raw(z, x, y, &k, &err), YZ_EINVAL);
	assert_int_equal(crypto_sm2_key_from_raw(nm1, x, y, &k, &err), YZ_EINVAL);
	assert_null(k);
	assert_int_equal(crypto_sm2_key_from_raw(d, x, y, &k, &err), YZ_OK);
	crypto_key_free(k);
	/* failures above must not leave stale entries in OpenSSL's error queue */
	assert_int_equal(ERR_peek_error(), 0);
}

/* ---- SM2: the OpenSSL 3.0 traps ---- */

static void sm2_empty_id_signature_is_rejected(void **state)
{
	(void)state;
	crypto_key *k = NULL;
	yz_err err = {0};
	assert_int_equal(crypto_key_generate(CRYPTO_SM2, &k, &err), YZ_OK);
	EVP_PKEY *pk = crypto_key_evp(k);
	const char *msg = "empty-ID trap";
	unsigned char sig[80];
	size_t siglen = sizeof sig;
	/* raw OpenSSL without set1_id: its default (empty) ID */
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	assert_int_equal(EVP_DigestSignInit_ex(m, NULL, "SM3", NULL, NULL, pk, NULL), 1);
	assert_int_equal(EVP_DigestSign(m, sig, &siglen, (const unsigned char *)msg, strlen(msg)),
	                 1);
	EVP_MD_CTX_free(m);
	/* it is a valid signature for the empty ID ... */
	m = EVP_MD_CTX_new();
	assert_int_equal(EVP_DigestVerifyInit_ex(m, NULL, "SM3", NULL, NULL, pk, NULL), 1);
	assert_int_equal(EVP_DigestVerify(m, sig, siglen, (const unsigned char *)msg, strlen(msg)),
	                 1);
	EVP_MD_CTX_free(m);
	/* ... which we never use */
	assert_int_equal(crypto_verify(k, msg, strlen(msg), sig, siglen, &err), YZ_ECRYPTO);

	/* and ours verifies with raw OpenSSL only when the ID is set */
	buf b;
	buf_init(&b, 1024);
	assert_int_equal(crypto_sign(k, msg, strlen(msg), &b, &err), YZ_OK);
	m = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pc = NULL;
	assert_int_equal(EVP_DigestVerifyInit_ex(m, &pc, "SM3", NULL, NULL, pk, NULL), 1);
	assert_int_equal(EVP_PKEY_CTX_set1_id(pc, "1234567812345678", 16), 1);
	assert_int_equal(EVP_DigestVerify(m, (unsigned char *)b.p, b.len,
	                                  (const unsigned char *)msg, strlen(msg)),
	                 1);
	EVP_MD_CTX_free(m);
	m = EVP_MD_CTX_new();
	assert_int_equal(EVP_DigestVerifyInit_ex(m, NULL, "SM3", NULL, NULL, pk, NULL), 1);
	assert_int_not_equal(EVP_DigestVerify(m, (unsigned char *)b.p, b.len,
	                                      (const unsigned char *)msg, strlen(msg)),
	                     1);
	EVP_MD_CTX_free(m);
	buf_free(&b);
	crypto_key_free(k);
}

static void sm2_ec_typed_key_is_converted(void **state)
{
	(void)state;
	EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "SM2");
	assert_non_null(ec);
	/* the trap itself: OpenSSL calls this an EC key, not SM2 */
	assert_false(EVP_PKEY_is_a(ec, "SM2"));
	assert_true(EVP_PKEY_is_a(ec, "EC"));

	crypto_key *k = NULL;
	yz_err err = {0};
	assert_int_equal(crypto_key_from_evp(ec, &k, &err), YZ_OK);
	assert_int_equal(crypto_key_alg(k), CRYPTO_SM2);
	assert_true(crypto_key_is_private(k));
	assert_true(EVP_PKEY_is_a(crypto_key_evp(k), "SM2"));

	const char *msg = "not ECDSA";
	buf b;
	buf_init(&b, 1024);
	assert_int_equal(crypto_sign(k, msg, strlen(msg), &b, &err), YZ_OK);
	/* ECDSA-with-SM3 verification of it must fail ... */
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	assert_int_equal(EVP_DigestVerifyInit_ex(m, NULL, "SM3", NULL, NULL, ec, NULL), 1);
	assert_int_not_equal(EVP_DigestVerify(m, (unsigned char *)b.p, b.len,
	                                      (const unsigned char *)msg, strlen(msg)),
	                     1);
	EVP_MD_CTX_free(m);
	/* ... while SM2 verification with the standard ID on the same point
	 * succeeds */
	buf der;
	buf_init(&der, 4096);
	assert_int_equal(crypto_key_spki_der(k, &der), YZ_OK);
	crypto_key *pub = NULL;
	assert_int_equal(crypto_key_from_spki_der(der.p, der.len, &pub, &err), YZ_OK);
	assert_int_equal(crypto_verify(pub, msg, strlen(msg), b.p, b.len, &err), YZ_OK);
	crypto_key_free(pub);

	/* the public half of the EC key converts too */
	unsigned char *spki = NULL;
	int spkilen = i2d_PUBKEY(ec, &spki);
	assert_true(spkilen > 0);
	const unsigned char *p = spki;
	EVP_PKEY *ecpub = d2i_PUBKEY(NULL, &p, spkilen);
	assert_non_null(ecpub);
	assert_int_equal(crypto_key_from_evp(ecpub, &pub, &err), YZ_OK);
	assert_int_equal(crypto_key_alg(pub), CRYPTO_SM2);
	assert_true(EVP_PKEY_is_a(crypto_key_evp(pub), "SM2"));
	assert_int_equal(crypto_verify(pub, msg, strlen(msg), b.p, b.len, &err), YZ_OK);
	crypto_key_free(pub);
	EVP_PKEY_free(ecpub);
	OPENSSL_free(spki);

	/* and an EC-on-SM2 private key written as PEM loads as SM2 */
	BIO *bio = BIO_new(BIO_s_mem());
	assert_int_equal(PEM_write_bio_PrivateKey(bio, ec, NULL, NULL, 0, NULL, NULL), 1);
	char *pem = NULL;
	long pemlen = BIO_get_mem_data(bio, &pem);
	crypto_key *k2 = NULL;
	assert_int_equal(crypto_key_from_pem(pem, (size_t)pemlen, NULL, &k2, &err), YZ_OK);
	assert_int_equal(crypto_key_alg(k2), CRYPTO_SM2);
	assert_true(EVP_PKEY_is_a(crypto_key_evp(k2), "SM2"));
	assert_int_equal(crypto_verify(k2, msg, strlen(msg), b.p, b.len, &err), YZ_OK);
	BIO_free(bio);
	crypto_key_free(k2);

	buf_free(&der);
	buf_free(&b);
	crypto_key_free(k);
	EVP_PKEY_free(ec);
}

static void other_curves_are_refused(void **state)
{
	(void)state;
	EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	assert_non_null(p384);
	assert_non_null(rsa);
	crypto_key *k = NULL;
	yz_err err = {0};
	assert_int_equal(crypto_key_from_evp(p384, &k, &err), YZ_EINVAL);
	assert_non_null(strstr(err.msg, "secp384r1"));
	assert_int_equal(crypto_key_from_evp(rsa, &k, &err), YZ_EINVAL);
	assert_null(k);
	EVP_PKEY_free(p384);
	EVP_PKEY_free(rsa);
}

/* ---- all algorithms ---- */

static void sign_verify_round_trips(void **state)
{
	(void)state;
	const crypto_alg algs[] = {CRYPTO_SM2, CRYPTO_ECDSA_P256, CRYPTO_ED25519};
	for (size_t i = 0; i < 3; i++) {
		crypto_key *k = NULL;
		yz_err err = {0};
		assert_int_equal(crypto_key_generate(algs[i], &k, &err), YZ_OK);
		assert_int_equal(crypto_key_alg(k), algs[i]);
		assert_true(crypto_key_is_private(k));
		crypto_alg back;
		assert_int_equal(crypto_alg_parse(crypto_alg_name(algs[i]), &back), YZ_OK);
		assert_int_equal(back, algs[i]);
		const char *msg = "城市一站式政务服务";
		buf sig;
		buf_init(&sig, 1024);
		assert_int_equal(crypto_sign(k, msg, strlen(msg), &sig, &err), YZ_OK);
		if (algs[i] == CRYPTO_ED25519)
			assert_int_equal(sig.len, 64);
		else
			assert_true(sig.len >= 8 && sig.len <= 72 &&
			            (unsigned char)sig.p[0] == 0x30);
		assert_int_equal(crypto_verify(k, msg, strlen(msg), sig.p, sig.len, &err), YZ_OK);
		assert_int_equal(crypto_verify(k, msg, strlen(msg) - 1, sig.p, sig.len, &err),
		                 YZ_ECRYPTO);
		sig.p[sig.len / 2] ^= 4;
		assert_int_equal(crypto_verify(k, msg, strlen(msg), sig.p, sig.len, &err),
		                 YZ_ECRYPTO);
		assert_int_equal(crypto_verify(k, msg, strlen(msg), sig.p, 0, &err), YZ_ECRYPTO);
		/* empty message */
		buf_reset(&sig);
		assert_int_equal(crypto_sign(k, NULL, 0, &sig, &err), YZ_OK);
		assert_int_equal(crypto_verify(k, "", 0, sig.p, sig.len, &err), YZ_OK);
		/* the SM2-only calls refuse other keys */
		if (algs[i] != CRYPTO_SM2) {
			unsigned char za[32];
			assert_int_equal(crypto_sm2_sign_id(k, "1", 1, "m", 1, &sig, &err),
			                 YZ_EINVAL);
			assert_int_equal(crypto_sm2_za(k, "1", 1, za), YZ_EINVAL);
		}
		/* a key of another algorithm does not verify it */
		crypto_key *other = NULL;
		assert_int_equal(crypto_key_generate(algs[(i + 1) % 3], &other, &err), YZ_OK);
		assert_int_equal(crypto_verify(other, "", 0, sig.p, sig.len, &err), YZ_ECRYPTO);
		crypto_key_free(other);
		buf_free(&sig);
		crypto_key_free(k);
	}
	crypto_alg a;
	assert_int_equal(crypto_alg_parse("SM2", &a), YZ_EINVAL);
	assert_int_equal(crypto_alg_parse("rsa", &a), YZ_EINVAL);
	crypto_key *k = NULL;
	assert_int_equal(crypto_key_generate((crypto_alg)9, &k, NULL), YZ_EINVAL);
}

static void pem_round_trips(void **state)
{
	(void)state;
	const crypto_alg algs[] = {CRYPTO_SM2, CRYPTO_ECDSA_P256, CRYPTO_ED25519};
	for (size_t i = 0; i < 3; i++) {
		yz_err err = {0};
		crypto_key *k = NULL, *k2 = NULL;
		assert_int_equal(crypto_key_generate(algs[i], &k, &err), YZ_OK);
		unsigned char id[32], id2[32];
		assert_int_equal(crypto_key_id(k, id), YZ_OK);
		buf pem, sig;
		buf_init(&pem, 1 << 16);
		buf_init(&sig, 1024);

		/* plain private */
		assert_int_equal(crypto_key_to_pem(k, true, NULL, &pem, &err), YZ_OK);
		assert_non_null(strstr(pem.p, "-----BEGIN PRIVATE KEY-----"));
		assert_int_equal(crypto_key_from_pem(pem.p, pem.len, NULL, &k2, &err), YZ_OK);
		assert_int_equal(crypto_key_alg(k2), algs[i]);
		assert_true(crypto_key_is_private(k2));
		assert_int_equal(crypto_key_id(k2, id2), YZ_OK);
		assert_memory_equal(id, id2, 32);
		assert_int_equal(crypto_sign(k2, "pem", 3, &sig, &err), YZ_OK);
		assert_int_equal(crypto_verify(k, "pem", 3, sig.p, sig.len, &err), YZ_OK);
		crypto_key_free(k2);

		/* encrypted private */
		buf_reset(&pem);
		assert_int_equal(crypto_key_to_pem(k, true, "口令 pass-1", &pem, &err), YZ_OK);
		assert_non_null(strstr(pem.p, "-----BEGIN ENCRYPTED PRIVATE KEY-----"));
		assert_int_equal(crypto_key_from_pem(pem.p, pem.len, "口令 pass-1", &k2, &err),
		                 YZ_OK);
		assert_int_equal(crypto_key_alg(k2), algs[i]);
		assert_int_equal(crypto_key_id(k2, id2), YZ_OK);
		assert_memory_equal(id, id2, 32);
		buf_reset(&sig);
		assert_int_equal(crypto_sign(k2, "pem", 3, &sig, &err), YZ_OK);
		assert_int_equal(crypto_verify(k, "pem", 3, sig.p, sig.len, &err), YZ_OK);
		crypto_key_free(k2);
		k2 = NULL;
		memset(&err, 0, sizeof err);
		assert_int_equal(crypto_key_from_pem(pem.p, pem.len, "口令 pass-2", &k2, &err),
		                 YZ_ECRYPTO);
		assert_null(k2);
		assert_non_null(strstr(err.msg, "wrong passphrase"));
		assert_int_equal(crypto_key_from_pem(pem.p, pem.len, NULL, &k2, &err), YZ_EINVAL);
		assert_non_null(strstr(err.msg, "passphrase"));
		assert_null(k2);
		assert_int_equal(crypto_key_to_pem(k, true, "", &pem, &err), YZ_EINVAL);

		/* public */
		buf_reset(&pem);
		assert_int_equal(crypto_key_to_pem(k, false, NULL, &pem, &err), YZ_OK);
		assert_non_null(strstr(pem.p, "-----BEGIN PUBLIC KEY-----"));
		assert_int_equal(crypto_key_from_pem(pem.p, pem.len, NULL, &k2, &err), YZ_OK);
		assert_int_equal(crypto_key_alg(k2), algs[i]);
		assert_false(crypto_key_is_private(k2));
		assert_int_equal(crypto_key_id(k2, id2), YZ_OK);
		assert_memory_equal(id, id2, 32);
		assert_int_equal(crypto_verify(k2, "pem", 3, sig.p, sig.len, &err), YZ_OK);
		buf pem2;
		buf_init(&pem2, 1 << 16);
		assert_int_equal(crypto_key_to_pem(k2, true, NULL, &pem2, &err), YZ_EINVAL);
		assert_int_equal(crypto_key_to_pem(k2, false, NULL, &pem2, &err), YZ_OK);
		assert_string_equal(pem.p, pem2.p);
		buf_free(&pem2);
		crypto_key_free(k2);

		buf_free(&pem);
		buf_free(&sig);
		crypto_key_free(k);
	}
	yz_err err = {0};
	crypto_key *k = NULL;
	const char *junk = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
	assert_int_equal(crypto_key_from_pem(junk, strlen(junk), NULL, &k, &err), YZ_EINVAL);
	assert_int_equal(crypto_key_from_pem("hello", 5, NULL, &k, &err), YZ_EINVAL);
	assert_null(k);
	/* failures above must not leave stale entries in OpenSSL's error queue */
	assert_int_equal(ERR_peek_error(), 0);
}

static void encrypted_pem_is_sm4_cbc_pkcs8(void **state)
{
	(void)state;
	crypto_key *k = NULL;
	yz_err err = {0};
	assert_int_equal(crypto_key_generate(CRYPTO_SM2, &k, &err), YZ_OK);
	buf pem;
	buf_init(&pem, 1 << 16);
	assert_int_equal(crypto_key_to_pem(k, true, "s3cret", &pem, &err), YZ_OK);
	tmpdir *t = &g_tmp;
	tmp_open(t);
	const char *f = tmp_write(t, "enc.pem", pem.p, pem.len);
	static char out[16384];
	const char *asn1[] = {"openssl", "asn1parse", "-in", f, NULL};
	assert_int_equal(run(asn1, out, sizeof out), 0);
	assert_non_null(strstr(out, ":PBES2"));
	assert_non_null(strstr(out, ":PBKDF2"));
	assert_non_null(strstr(out, ":sm4-cbc"));
	/* the CLI decrypts it with the passphrase, and not without */
	const char *ok[] = {"openssl", "pkey", "-in", f, "-passin", "pass:s3cret", "-noout", NULL};
	assert_int_equal(run(ok, NULL, 0), 0);
	const char *bad[] = {"openssl", "pkey", "-in", f, "-passin", "pass:s3creT", "-noout", NULL};
	assert_int_not_equal(run(bad, NULL, 0), 0);
	tmp_close(t);
	buf_free(&pem);
	crypto_key_free(k);
}

static void spki_der_round_trip_and_key_id(void **state)
{
	(void)state;
	const crypto_alg algs[] = {CRYPTO_SM2, CRYPTO_ECDSA_P256, CRYPTO_ED25519};
	unsigned char ids[3][32];
	for (size_t i = 0; i < 3; i++) {
		yz_err err = {0};
		crypto_key *k = NULL, *k2 = NULL;
		assert_int_equal(crypto_key_generate(algs[i], &k, &err), YZ_OK);
		buf der, der2;
		buf_init(&der, 4096);
		buf_init(&der2, 4096);
		assert_int_equal(crypto_key_spki_der(k, &der), YZ_OK);
		assert_int_equal(crypto_key_from_spki_der(der.p, der.len, &k2, &err), YZ_OK);
		assert_int_equal(crypto_key_alg(k2), algs[i]);
		assert_false(crypto_key_is_private(k2));
		assert_int_equal(crypto_key_spki_der(k2, &der2), YZ_OK);
		assert_int_equal(der.len, der2.len);
		assert_memory_equal(der.p, der2.p, der.len);
		/* key id = SM3(SPKI DER), the same for both objects and every call */
		unsigned char id[32], id2[32], h[32];
		assert_int_equal(crypto_key_id(k, id), YZ_OK);
		assert_int_equal(crypto_key_id(k, id2), YZ_OK);
		assert_memory_equal(id, id2, 32);
		assert_int_equal(crypto_key_id(k2, id2), YZ_OK);
		assert_memory_equal(id, id2, 32);
		crypto_sm3(der.p, der.len, h);
		assert_memory_equal(id, h, 32);
		memcpy(ids[i], id, 32);
		/* trailing garbage and truncation are refused */
		assert_int_equal(buf_putc(&der, 0), YZ_OK);
		crypto_key *k3 = NULL;
		assert_int_equal(crypto_key_from_spki_der(der.p, der.len, &k3, &err), YZ_EINVAL);
		assert_int_equal(crypto_key_from_spki_der(der.p, der.len - 5, &k3, &err),
		                 YZ_EINVAL);
		assert_null(k3);
		buf_free(&der);
		buf_free(&der2);
		crypto_key_free(k);
		crypto_key_free(k2);
	}
	assert_memory_not_equal(ids[0], ids[1], 32);
	assert_memory_not_equal(ids[1], ids[2], 32);

	/* the standard's SM2 key has a fixed id: its SPKI is fully determined */
	unsigned char x[32], y[32], id[32];
	unhex(SM2_X, x, 32);
	unhex(SM2_Y, y, 32);
	crypto_key *k = NULL;
	assert_int_equal(crypto_sm2_key_from_raw(NULL, x, y, &k, NULL), YZ_OK);
	buf der;
	buf_init(&der, 4096);
	assert_int_equal(crypto_key_spki_der(k, &der), YZ_OK);
	/* SEQUENCE { SEQUENCE { id-ecPublicKey, sm2 }, BIT STRING 04||x||y } */
	unsigned char want[91];
	unhex("3059301306072a8648ce3d020106082a811ccf5501822d03420004", want, 27);
	memcpy(want + 27, x, 32);
	memcpy(want + 59, y, 32);
	assert_int_equal(der.len, 91);
	assert_memory_equal(der.p, want, 91);
	assert_int_equal(crypto_key_id(k, id), YZ_OK);
	unsigned char h[32];
	crypto_sm3(want, 91, h);
	assert_memory_equal(id, h, 32);
	buf_free(&der);
	crypto_key_free(k);
	/* failures above must not leave stale entries in OpenSSL's error queue */
	assert_int_equal(ERR_peek_error(), 0);
}

/* ---- the openssl CLI as an independent verifier and signer ---- */

static void sm2_signature_checked_by_openssl_cli(void **state)
{
	(void)state;
	yz_err err = {0};
	crypto_key *k = NULL;
	assert_int_equal(crypto_key_generate(CRYPTO_SM2, &k, &err), YZ_OK);
	const char *msg = "公文签章 / official seal, 2024";
	buf pub, priv, sig;
	buf_init(&pub, 1 << 16);
	buf_init(&priv, 1 << 16);
	buf_init(&sig, 1024);
	assert_int_equal(crypto_key_to_pem(k, false, NULL, &pub, &err), YZ_OK);
	assert_int_equal(crypto_key_to_pem(k, true, NULL, &priv, &err), YZ_OK);
	assert_int_equal(crypto_sign(k, msg, strlen(msg), &sig, &err), YZ_OK);
	tmpdir *t = &g_tmp;
	tmp_open(t);
	const char *fpub = tmp_write(t, "pub.pem", pub.p, pub.len);
	const char *fpriv = tmp_write(t, "priv.pem", priv.p, priv.len);
	const char *fmsg = tmp_write(t, "msg", msg, strlen(msg));
	const char *fsig = tmp_write(t, "sig", sig.p, sig.len);
	const char *fcli = tmp_path(t, "cli.sig");

	const char *verify[] = {"openssl",
	                        "pkeyutl",
	                        "-verify",
	                        "-pubin",
	                        "-inkey",
	                        fpub,
	                        "-rawin",
	                        "-digest",
	                        "sm3",
	                        "-pkeyopt",
	                        "distid:1234567812345678",
	                        "-in",
	                        fmsg,
	                        "-sigfile",
	                        fsig,
	                        NULL};
	assert_int_equal(run(verify, NULL, 0), 0);
	/* the CLI's own default (empty) ID rejects it: the check has teeth */
	const char *verify_noid[] = {"openssl", "pkeyutl",  "-verify", "-pubin", "-inkey",
	                             fpub,      "-rawin",   "-digest", "sm3",    "-in",
	                             fmsg,      "-sigfile", fsig,      NULL};
	assert_int_not_equal(run(verify_noid, NULL, 0), 0);

	/* the reverse: the CLI signs, we verify */
	const char *sign[] = {"openssl", "pkeyutl", "-sign", "-inkey",   fpriv,
	                      "-rawin",  "-digest", "sm3",   "-pkeyopt", "distid:1234567812345678",
	                      "-in",     fmsg,      "-out",  fcli,       NULL};
	assert_int_equal(run(sign, NULL, 0), 0);
	unsigned char cli[128];
	size_t clilen = read_file(fcli, cli, sizeof cli);
	assert_true(clilen >= 64);
	assert_int_equal(crypto_verify(k, msg, strlen(msg), cli, clilen, &err), YZ_OK);
	assert_int_equal(crypto_verify(k, msg, strlen(msg) - 1, cli, clilen, &err), YZ_ECRYPTO);
	tmp_close(t);
	buf_free(&pub);
	buf_free(&priv);
	buf_free(&sig);
	crypto_key_free(k);
}

static void p256_signature_checked_by_openssl_cli(void **state)
{
	(void)state;
	yz_err err = {0};
	crypto_key *k = NULL;
	assert_int_equal(crypto_key_generate(CRYPTO_ECDSA_P256, &k, &err), YZ_OK);
	const char *msg = "ECDSA P-256 with SHA-256";
	buf pub, priv, sig;
	buf_init(&pub, 1 << 16);
	buf_init(&priv, 1 << 16);
	buf_init(&sig, 1024);
	assert_int_equal(crypto_key_to_pem(k, false, NULL, &pub, &err), YZ_OK);
	assert_int_equal(crypto_key_to_pem(k, true, NULL, &priv, &err), YZ_OK);
	assert_int_equal(crypto_sign(k, msg, strlen(msg), &sig, &err), YZ_OK);
	tmpdir *t = &g_tmp;
	tmp_open(t);
	const char *fpub = tmp_write(t, "pub.pem", pub.p, pub.len);
	const char *fpriv = tmp_write(t, "priv.pem", priv.p, priv.len);
	const char *fmsg = tmp_write(t, "msg", msg, strlen(msg));
	const char *fsig = tmp_write(t, "sig", sig.p, sig.len);
	const char *fcli = tmp_path(t, "cli.sig");
	const char *verify[] = {"openssl",    "dgst", "-sha256", "-verify", fpub,
	                        "-signature", fsig,   fmsg,      NULL};
	assert_int_equal(run(verify, NULL, 0), 0);
	const char *verify384[] = {"openssl",    "dgst", "-sha384", "-verify", fpub,
	                           "-signature", fsig,   fmsg,      NULL};
	assert_int_not_equal(run(verify384, NULL, 0), 0);
	const char *sign[] = {"openssl", "dgst", "-sha256", "-sign", fpriv,
	                      "-out",    fcli,   fmsg,      NULL};
	assert_int_equal(run(sign, NULL, 0), 0);
	unsigned char cli[128];
	size_t clilen = read_file(fcli, cli, sizeof cli);
	assert_int_equal(crypto_verify(k, msg, strlen(msg), cli, clilen, &err), YZ_OK);
	tmp_close(t);
	buf_free(&pub);
	buf_free(&priv);
	buf_free(&sig);
	crypto_key_free(k);
}

/* ---- SM2 public-key encryption (GB/T 32918.4) ---- */

/* GB/T 32918.5-2017 Annex (GM/T 0003.5-2012) encryption example on the
 * recommended curve: d_B, P_B, the message "encryption standard" and the
 * ciphertext C1C3C2 for the ephemeral k given there, in the GM/T 0009
 * SM2Cipher form. We cannot fix k through OpenSSL, so the example is
 * checked by decrypting it. */
static void sm2_encryption_standard_example(void **state)
{
	(void)state;
	unsigned char d[32], x[32], y[32], ct[160];
	unhex("3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8", d, 32);
	unhex("09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020", x, 32);
	unhex("CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13", y, 32);
	size_t ctlen = unhex("307C022004EBFC718E8D1798620432268E77FEB6415E2EDE0E073C0F4F640ECD"
	                     "2E149A73022100E858F9D81E5430A57B36DAAB8F950A3C64E6EE6A63094D99"
	                     "283AFF767E124DF0042059983C18F809E262923C53AEC295D30383B54E39D6"
	                     "09D160AFCB1908D0BD8766041321886CA989CA9C7D58087307CA93092D651E"
	                     "FA",
	                     ct, sizeof ct);
	assert_int_equal(ctlen, 126);
	yz_err err = {0};
	crypto_key *k = NULL;
	assert_int_equal(crypto_sm2_key_from_raw(d, x, y, &k, &err), YZ_OK);
	buf pt;
	buf_init(&pt, 1024);
	if (crypto_sm2_decrypt(k, ct, ctlen, &pt, &err) != YZ_OK)
		fail_msg("the standard's ciphertext does not decrypt: %s", err.msg);
	assert_int_equal(pt.len, 19);
	assert_memory_equal(pt.p, "encryption standard", 19);
	/* the raw private scalar comes back as the standard gives it */
	unsigned char back[32];
	assert_int_equal(crypto_sm2_private_raw(k, back, &err), YZ_OK);
	assert_memory_equal(back, d, 32);
	/* C3 is checked: one changed byte of C2, of C3 or of C1 fails */
	const size_t at[3] = {ctlen - 1, 75, 10};
	for (int i = 0; i < 3; i++) {
		ct[at[i]] ^= 0x01;
		buf_reset(&pt);
		assert_int_equal(crypto_sm2_decrypt(k, ct, ctlen, &pt, &err), YZ_ECRYPTO);
		assert_int_equal(pt.len, 0);
		ct[at[i]] ^= 0x01;
	}
	buf_free(&pt);
	crypto_key_free(k);
}

static void sm2_encryption_round_trip_and_refusals(void **state)
{
	(void)state;
	yz_err err = {0};
	crypto_key *k = NULL, *other = NULL, *pub = NULL, *ec = NULL;
	assert_int_equal(crypto_key_generate(CRYPTO_SM2, &k, &err), YZ_OK);
	assert_int_equal(crypto_key_generate(CRYPTO_SM2, &other, &err), YZ_OK);
	assert_int_equal(crypto_key_generate(CRYPTO_ECDSA_P256, &ec, &err), YZ_OK);
	buf spki, ct, pt;
	buf_init(&spki, 4096);
	buf_init(&ct, 4096);
	buf_init(&pt, 4096);
	assert_int_equal(crypto_key_spki_der(k, &spki), YZ_OK);
	assert_int_equal(crypto_key_from_spki_der(spki.p, spki.len, &pub, &err), YZ_OK);
	unsigned char key[16];
	assert_int_equal(crypto_random(key, sizeof key), YZ_OK);
	/* the public key alone encrypts; the private key decrypts */
	assert_int_equal(crypto_sm2_encrypt(pub, key, sizeof key, &ct, &err), YZ_OK);
	/* SM2Cipher: SEQUENCE of two INTEGERs, a 32-byte HASH and a CipherText
	 * as long as the plaintext */
	const unsigned char *q = (const unsigned char *)ct.p;
	assert_int_equal(q[0], 0x30);
	assert_int_equal(memcmp(ct.p + ct.len - 16 - 2, "\x04\x10", 2), 0);
	assert_int_equal(memcmp(ct.p + ct.len - 16 - 2 - 32 - 2, "\x04\x20", 2), 0);
	assert_int_equal(crypto_sm2_decrypt(k, ct.p, ct.len, &pt, &err), YZ_OK);
	assert_int_equal(pt.len, 16);
	assert_memory_equal(pt.p, key, 16);
	/* encryption is randomised: the same key twice gives two ciphertexts */
	buf ct2;
	buf_init(&ct2, 4096);
	assert_int_equal(crypto_sm2_encrypt(pub, key, sizeof key, &ct2, &err), YZ_OK);
	assert_false(ct.len == ct2.len && !memcmp(ct.p, ct2.p, ct.len));
	/* another key, a public key, a P-256 key, empty input: refused */
	buf_reset(&pt);
	assert_int_equal(crypto_sm2_decrypt(other, ct.p, ct.len, &pt, &err), YZ_ECRYPTO);
	assert_int_equal(crypto_sm2_decrypt(pub, ct.p, ct.len, &pt, &err), YZ_EINVAL);
	assert_int_equal(crypto_sm2_encrypt(ec, key, sizeof key, &ct2, &err), YZ_EINVAL);
	assert_int_equal(crypto_sm2_decrypt(k, "\x30\x03\x02\x01\x01", 5, &pt, &err), YZ_ECRYPTO);
	assert_int_equal(crypto_sm2_encrypt(pub, key, 0, &ct2, &err), YZ_EINVAL);
	unsigned char d[32];
	assert_int_equal(crypto_sm2_private_raw(pub, d, &err), YZ_EINVAL);
	assert_int_equal(crypto_sm2_private_raw(ec, d, &err), YZ_EINVAL);
	buf_free(&spki);
	buf_free(&ct);
	buf_free(&ct2);
	buf_free(&pt);
	crypto_key_free(k);
	crypto_key_free(other);
	crypto_key_free(pub);
	crypto_key_free(ec);
}

/* The openssl CLI decrypts what we encrypt, and we decrypt what it encrypts. */
static void sm2_encryption_checked_by_openssl_cli(void **state)
{
	(void)state;
	yz_err err = {0};
	crypto_key *k = NULL;
	assert_int_equal(crypto_key_generate(CRYPTO_SM2, &k, &err), YZ_OK);
	buf pub, priv, ct, pt;
	buf_init(&pub, 1 << 16);
	buf_init(&priv, 1 << 16);
	buf_init(&ct, 4096);
	buf_init(&pt, 4096);
	assert_int_equal(crypto_key_to_pem(k, false, NULL, &pub, &err), YZ_OK);
	assert_int_equal(crypto_key_to_pem(k, true, NULL, &priv, &err), YZ_OK);
	const char *msg = "数据密钥 data key 0123456789abcdef";
	assert_int_equal(crypto_sm2_encrypt(k, msg, strlen(msg), &ct, &err), YZ_OK);
	tmpdir *t = &g_tmp;
	tmp_open(t);
	const char *fpub = tmp_write(t, "pub.pem", pub.p, pub.len);
	const char *fpriv = tmp_write(t, "priv.pem", priv.p, priv.len);
	const char *fct = tmp_write(t, "ct", ct.p, ct.len);
	const char *fmsg = tmp_write(t, "msg", msg, strlen(msg));
	const char *fout = tmp_path(t, "out");
	const char *fcli = tmp_path(t, "cli.ct");
	const char *dec[] = {"openssl", "pkeyutl", "-decrypt", "-inkey", fpriv,
	                     "-in",     fct,       "-out",     fout,     NULL};
	assert_int_equal(run(dec, NULL, 0), 0);
	unsigned char got[256];
	size_t n = read_file(fout, got, sizeof got);
	assert_int_equal(n, strlen(msg));
	assert_memory_equal(got, msg, n);
	const char *enc[] = {"openssl", "pkeyutl", "-encrypt", "-pubin", "-inkey", fpub,
	                     "-in",     fmsg,      "-out",     fcli,     NULL};
	assert_int_equal(run(enc, NULL, 0), 0);
	unsigned char cli[512];
	size_t clilen = read_file(fcli, cli, sizeof cli);
	assert_int_equal(crypto_sm2_decrypt(k, cli, clilen, &pt, &err), YZ_OK);
	assert_int_equal(pt.len, strlen(msg));
	assert_memory_equal(pt.p, msg, pt.len);
	tmp_close(t);
	buf_free(&pub);
	buf_free(&priv);
	buf_free(&ct);
	buf_free(&pt);
	crypto_key_free(k);
}

/* ---- threads ---- */

typedef struct thread_arg {
	const crypto_key *k;
	int id;
	int failures;
} thread_arg;

static void *sign_verify_loop(void *p)
{
	thread_arg *a = p;
	buf sig;
	buf_init(&sig, 1024);
	for (int i = 0; i < 200; i++) {
		char msg[64];
		int n = snprintf(msg, sizeof msg, "thread %d message %d", a->id, i);
		buf_reset(&sig);
		if (crypto_sign(a->k, msg, (size_t)n, &sig, NULL) != YZ_OK ||
		    crypto_verify(a->k, msg, (size_t)n, sig.p, sig.len, NULL) != YZ_OK)
			a->failures++;
		/* a wrong message must still fail under contention */
		msg[0] = 'T';
		if (crypto_verify(a->k, msg, (size_t)n, sig.p, sig.len, NULL) != YZ_ECRYPTO)
			a->failures++;
	}
	buf_free(&sig);
	return NULL;
}

static void one_key_many_threads(void **state)
{
	(void)state;
	const crypto_alg algs[] = {CRYPTO_SM2, CRYPTO_ECDSA_P256, CRYPTO_ED25519};
	for (size_t j = 0; j < 3; j++) {
		crypto_key *k = NULL;
		assert_int_equal(crypto_key_generate(algs[j], &k, NULL), YZ_OK);
		pthread_t th[4];
		thread_arg args[4];
		for (int i = 0; i < 4; i++) {
			args[i] = (thread_arg){k, i, 0};
			assert_int_equal(pthread_create(&th[i], NULL, sign_verify_loop, &args[i]),
			                 0);
		}
		for (int i = 0; i < 4; i++) {
			assert_int_equal(pthread_join(th[i], NULL), 0);
			assert_int_equal(args[i].failures, 0);
		}
		crypto_key_free(k);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(sm3_standard_vectors),
	    cmocka_unit_test(sm3_incremental_equals_oneshot),
	    cmocka_unit_test(sha256_vector),
	    cmocka_unit_test(hmac_published_vectors),
	    cmocka_unit_test_teardown(hmac_sm3_matches_openssl_cli, tmp_teardown),
	    cmocka_unit_test(equal_is_exact),
	    cmocka_unit_test(random_hex_and_token),
	    cmocka_unit_test(pbkdf2_matches_openssl_cli),
	    cmocka_unit_test(password_hash_and_verify),
	    cmocka_unit_test(password_garbage_is_einval),
	    cmocka_unit_test(sm4_standard_vectors),
	    cmocka_unit_test(sm4_cbc_vector_and_round_trip),
	    cmocka_unit_test(seal_round_trip_and_format),
	    cmocka_unit_test(seal_detects_tampering),
	    cmocka_unit_test(sm2_standard_example),
	    cmocka_unit_test(sm2_raw_import_is_checked),
	    cmocka_unit_test(sm2_empty_id_signature_is_rejected),
	    cmocka_unit_test(sm2_ec_typed_key_is_converted),
	    cmocka_unit_test(other_curves_are_refused),
	    cmocka_unit_test(sign_verify_round_trips),
	    cmocka_unit_test(pem_round_trips),
	    cmocka_unit_test_teardown(encrypted_pem_is_sm4_cbc_pkcs8, tmp_teardown),
	    cmocka_unit_test(spki_der_round_trip_and_key_id),
	    cmocka_unit_test_teardown(sm2_signature_checked_by_openssl_cli, tmp_teardown),
	    cmocka_unit_test_teardown(p256_signature_checked_by_openssl_cli, tmp_teardown),
	    cmocka_unit_test(sm2_encryption_standard_example),
	    cmocka_unit_test(sm2_encryption_round_trip_and_refusals),
	    cmocka_unit_test_teardown(sm2_encryption_checked_by_openssl_cli, tmp_teardown),
	    cmocka_unit_test(one_key_many_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
