/*
 * pki_cli.c — `yizhan pki …`, and setting a CA hierarchy up from a document
 * (the CLI's init and a data pack share it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/actor.h"
#include "core/jx.h"
#include "pki/pki_int.h"

static yz_status read_file(const char *path, buf *out, size_t max, yz_err *e)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return yz_fail(e, YZ_ENOTFOUND, "cannot read %s", path);
	buf_init(out, max);
	char chunk[8192];
	size_t n;
	yz_status st = YZ_OK;
	while (st == YZ_OK && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
		st = buf_append(out, chunk, n);
	fclose(f);
	if (st == YZ_OK)
		st = buf_putc(out, '\0');
	if (st != YZ_OK) {
		buf_free(out);
		return yz_fail(e, st, "%s is too large", path);
	}
	out->len--;
	return YZ_OK;
}

static yz_status read_json(const char *path, json_t **out, yz_err *e)
{
	buf b;
	yz_status st = read_file(path, &b, 1 << 20, e);
	if (st != YZ_OK)
		return st;
	st = jx_parse_object(b.p, b.len, out, e);
	buf_free(&b);
	if (st != YZ_OK)
		return yz_fail(e, st, "%s: %s", path, e->msg);
	return YZ_OK;
}

yz_status pki_install(store *s, const char *data_dir, const yz_actor *who, json_t *doc,
                      const char *profiles_file, json_t *report, yz_err *e)
{
	json_t *profiles;
	yz_status st = read_json(profiles_file, &profiles, e);
	if (st != YZ_OK)
		return st;
	st = pki_profiles_set(s, who, profiles, e);
	json_decref(profiles);
	size_t i;
	json_t *ca;
	json_array_foreach (json_object_get(doc, "cas"), i, ca) {
		if (st != YZ_OK)
			break;
		if (pki_ca_find(jx_str(ca, "name", "")))
			continue;
		json_t *in = json_deep_copy(ca);
		if (!json_object_get(in, "base_url") && json_object_get(doc, "base_url"))
			jx_set_str(in, "base_url", jx_str(doc, "base_url", ""));
		json_t *made = NULL;
		st = pki_ca_create(s, data_dir, who, in, &made, e);
		if (st == YZ_OK && report)
			json_array_append(report, made);
		json_decref(made);
		json_decref(in);
	}
	/* a time-stamping signer for every CA that has none (pki_tsa.c) */
	for (int k = 0; st == YZ_OK && k < pki_ca_count(); k++) {
		pki_ca_rt *c = pki_ca_at(k);
		if (!pki_tsa_has(c->name))
			st = pki_tsa_create(s, data_dir, who, c->name, NULL, e);
	}
	return st;
}

static int usage(void)
{
	fputs("usage: yizhan pki <command> [--data DIR] [--db URL]\n"
	      "  init [--alg sm2|ecdsa-p256] [--base-url URL] [--city-cn NAME] [--org NAME]\n"
	      "        make the root (standing in for the provincial root) and the city CA,\n"
	      "        and load the certificate profiles\n"
	      "  ca-add NAME --cn CN --title TITLE [--parent CA] [--alg sm2|ecdsa-p256] [--org O]\n"
	      "  issue --ca CA --profile P (--csr FILE | --public-key FILE) [--cn CN] [--o O]\n"
	      "        [--ou OU] [--id-number ID] [--uscc CODE] [--email ADDR] [--dns NAME]...\n"
	      "        [--days N] [--out FILE]      print (or write) the certificate in PEM\n"
	      "  revoke CA SERIAL [--reason keyCompromise|certificateHold|...]\n"
	      "  resume CA SERIAL                   lift a suspension (certificateHold)\n"
	      "  list [--q TEXT] [--ca CA] [--status valid|suspended|revoked]\n"
	      "  crl CA [--out FILE]                the CA's current CRL (DER)\n"
	      "  cas                                the CAs as JSON\n"
	      "  ts-verify --in FILE [--file FILE] [--ca CA | --ca-file FILE]\n"
	      "        verify an RFC 3161 time-stamp (TimeStampResp or token, DER) with our\n"
	      "        verifier (SM2 with the standard ID, or ECDSA), and the file stamped\n"
	      "        against it; the CA defaults to the one here that issued the TSA\n",
	      stderr);
	return 2;
}

static int fail(const yz_err *e)
{
	fprintf(stderr, "yizhan pki: %s\n", e->msg[0] ? e->msg : yz_status_name(e->code));
	for (int i = 0; i < e->nfield && i < YZ_ERR_MAX_FIELDS; i++)
		fprintf(stderr, "  %s: %s%s%s\n", e->fields[i].field, e->fields[i].rule,
		        e->fields[i].expected[0] ? ", expected " : "", e->fields[i].expected);
	return e->code == YZ_EINVAL || e->code == YZ_ENOTFOUND ? 1 : 2;
}

static void print_json(json_t *o)
{
	char *t = json_dumps(o, JSON_INDENT(2) | JSON_ENSURE_ASCII * 0);
	if (t)
		puts(t);
	free(t);
}

static int write_out(const char *path, const void *p, size_t n)
{
	FILE *f = path ? fopen(path, "wb") : stdout;
	if (!f) {
		fprintf(stderr, "yizhan pki: cannot write %s\n", path);
		return 2;
	}
	size_t w = fwrite(p, 1, n, f);
	if (path && fclose(f) != 0)
		w = 0;
	return w == n ? 0 : 2;
}

static const char *opt(int argc, char **argv, const char *name)
{
	for (int i = 1; i + 1 < argc; i++)
		if (!strcmp(argv[i], name))
			return argv[i + 1];
	return NULL;
}

static int cmd_init(store *s, const char *data_dir, const char *profiles, int argc, char **argv)
{
	yz_err e = {0};
	yz_actor who = actor_system("pki");
	if (pki_ca_find("root") || pki_ca_find("city")) {
		fputs("yizhan pki: the CA hierarchy exists already (yizhan pki cas)\n", stderr);
		return 1;
	}
	const char *alg = opt(argc, argv, "--alg") ? opt(argc, argv, "--alg") : "sm2";
	const char *org = opt(argc, argv, "--org") ? opt(argc, argv, "--org") : "电子政务";
	const char *city =
	    opt(argc, argv, "--city-cn") ? opt(argc, argv, "--city-cn") : "市电子政务 CA";
	json_t *doc = json_pack(
	    "{s:s, s:[{s:s, s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, s:s, s:s, s:s}]}", "base_url",
	    opt(argc, argv, "--base-url") ? opt(argc, argv, "--base-url") : "http://127.0.0.1:8080",
	    "cas", "name", "root", "title", "根证书（代省级根）", "cn", "电子政务根 CA", "o", org,
	    "alg", alg, "name", "city", "title", "市电子政务 CA", "cn", city, "o", org, "alg", alg,
	    "parent", "root");
	json_t *made = json_array();
	yz_status st = pki_install(s, data_dir, &who, doc, profiles, made, &e);
	if (st == YZ_OK)
		print_json(made);
	json_decref(made);
	json_decref(doc);
	return st == YZ_OK ? 0 : fail(&e);
}

static int cmd_ca_add(store *s, const char *data_dir, int argc, char **argv)
{
	if (argc < 2 || argv[1][0] == '-')
		return usage();
	yz_err e = {0};
	yz_actor who = actor_system("pki");
	json_t *in = json_pack("{s:s}", "name", argv[1]);
	const char *map[][2] = {{"--cn", "cn"},   {"--title", "title"}, {"--parent", "parent"},
	                        {"--alg", "alg"}, {"--org", "o"},       {"--base-url", "base_url"}};
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (opt(argc, argv, map[i][0]))
			jx_set_str(in, map[i][1], opt(argc, argv, map[i][0]));
	json_t *out = NULL;
	yz_status st = pki_ca_create(s, data_dir, &who, in, &out, &e);
	json_decref(in);
	if (st != YZ_OK)
		return fail(&e);
	print_json(out);
	json_decref(out);
	return 0;
}

static int cmd_issue(store *s, int argc, char **argv)
{
	yz_err e = {0};
	yz_actor who = actor_system("pki");
	json_t *in = json_object();
	const char *map[][2] = {
	    {"--ca", "ca"}, {"--profile", "profile"},     {"--cn", "cn"},     {"--o", "o"},
	    {"--ou", "ou"}, {"--id-number", "id_number"}, {"--uscc", "uscc"}, {"--email", "email"}};
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (opt(argc, argv, map[i][0]))
			jx_set_str(in, map[i][1], opt(argc, argv, map[i][0]));
	json_t *dns = json_array();
	for (int i = 1; i + 1 < argc; i++)
		if (!strcmp(argv[i], "--dns"))
			json_array_append_new(dns, json_string(argv[i + 1]));
	if (json_array_size(dns))
		json_object_set(in, "dns", dns);
	json_decref(dns);
	if (opt(argc, argv, "--days"))
		jx_set_int(in, "validity_days", strtol(opt(argc, argv, "--days"), NULL, 10));
	yz_status st = YZ_OK;
	const char *files[][2] = {{"--csr", "csr"}, {"--public-key", "public_key"}};
	for (int k = 0; k < 2 && st == YZ_OK; k++) {
		if (!opt(argc, argv, files[k][0]))
			continue;
		buf b;
		st = read_file(opt(argc, argv, files[k][0]), &b, 65536, &e);
		if (st == YZ_OK) {
			jx_set_str(in, files[k][1], b.p);
			buf_free(&b);
		}
	}
	json_t *out = NULL;
	if (st == YZ_OK)
		st = pki_issue(s, &who, in, &out, &e);
	json_decref(in);
	if (st != YZ_OK)
		return fail(&e);
	const char *pem = jx_str(out, "pem", "");
	int rc = write_out(opt(argc, argv, "--out"), pem, strlen(pem));
	fprintf(stderr, "issued %s/%s: %s\n", jx_str(out, "ca", ""), jx_str(out, "serial", ""),
	        jx_str(out, "subject", ""));
	json_decref(out);
	return rc;
}

static int cmd_revoke(store *s, int argc, char **argv, bool resume)
{
	if (argc < 3)
		return usage();
	yz_err e = {0};
	yz_actor who = actor_system("pki");
	yz_status st;
	if (resume) {
		st = pki_resume(s, &who, argv[1], argv[2], &e);
	} else {
		const char *rn =
		    opt(argc, argv, "--reason") ? opt(argc, argv, "--reason") : "unspecified";
		int reason = pki_reason_parse(rn);
		if (reason < 0) {
			fprintf(stderr, "yizhan pki: unknown reason %s\n", rn);
			return 1;
		}
		st = pki_revoke(s, &who, argv[1], argv[2], reason, &e);
	}
	if (st != YZ_OK)
		return fail(&e);
	printf("%s %s/%s\n", resume ? "resumed" : "revoked", argv[1], argv[2]);
	return 0;
}

static int cmd_list(store *s, int argc, char **argv)
{
	yz_err e = {0};
	json_t *f = json_object();
	const char *keys[] = {"q", "ca", "status", "profile"};
	for (int i = 0; i < 4; i++) {
		char flag[16];
		snprintf(flag, sizeof flag, "--%s", keys[i]);
		if (opt(argc, argv, flag))
			jx_set_str(f, keys[i], opt(argc, argv, flag));
	}
	jx_set_int(f, "limit", 200);
	store_conn *c;
	json_t *out = NULL;
	yz_status st = store_reader(s, &c, &e);
	if (st == YZ_OK)
		st = pki_cert_list(c, f, &out, &e);
	json_decref(f);
	if (st != YZ_OK)
		return fail(&e);
	size_t i;
	json_t *o;
	json_array_foreach (json_object_get(out, "items"), i, o)
		printf("%-10s %-34s %-10s %-12s %s\n", jx_str(o, "ca", ""), jx_str(o, "serial", ""),
		       jx_str(o, "status", ""), jx_str(o, "profile", ""), jx_str(o, "subject", ""));
	json_decref(out);
	return 0;
}

static int cmd_ts_verify(int argc, char **argv)
{
	const char *in = opt(argc, argv, "--in");
	if (!in)
		return usage();
	yz_err e = {0};
	buf tok, data, ca;
	buf_init(&tok, 0);
	buf_init(&data, 0);
	buf_init(&ca, 0);
	yz_status st = read_file(in, &tok, 1 << 20, &e);
	/* --file, not --data: that one is the data directory (conf) */
	const char *file = opt(argc, argv, "--file");
	if (st == YZ_OK && file)
		st = read_file(file, &data, (size_t)1 << 30, &e);
	if (st == YZ_OK && opt(argc, argv, "--ca-file"))
		st = read_file(opt(argc, argv, "--ca-file"), &ca, 1 << 20, &e);
	else if (st == YZ_OK && opt(argc, argv, "--ca")) {
		buf_init(&ca, 1 << 20);
		st = pki_ca_cert(opt(argc, argv, "--ca"), &ca, &e);
	}
	json_t *info = NULL;
	if (st == YZ_OK)
		st = pki_tsa_verify(tok.p, tok.len, file ? data.p : NULL, data.len,
		                    ca.len ? ca.p : NULL, ca.len, &info, &e);
	if (st == YZ_OK) {
		print_json(info);
		puts("Verification: OK");
	} else {
		printf("Verification: FAILED: %s\n", e.msg);
	}
	json_decref(info);
	buf_free(&tok);
	buf_free(&data);
	buf_free(&ca);
	return st == YZ_OK ? 0 : 1;
}

int pki_cli_run(store *s, const char *data_dir, const char *profiles_file, int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help"))
		return usage();
	if (!s) {
		fputs("yizhan pki: no installation here (yizhan init first)\n", stderr);
		return 2;
	}
	const char *cmd = argv[1];
	argc--;
	argv++;
	if (!strcmp(cmd, "init"))
		return cmd_init(s, data_dir, profiles_file, argc, argv);
	if (!strcmp(cmd, "ca-add"))
		return cmd_ca_add(s, data_dir, argc, argv);
	if (!strcmp(cmd, "issue"))
		return cmd_issue(s, argc, argv);
	if (!strcmp(cmd, "revoke"))
		return cmd_revoke(s, argc, argv, false);
	if (!strcmp(cmd, "resume"))
		return cmd_revoke(s, argc, argv, true);
	if (!strcmp(cmd, "list"))
		return cmd_list(s, argc, argv);
	if (!strcmp(cmd, "ts-verify"))
		return cmd_ts_verify(argc, argv);
	if (!strcmp(cmd, "cas")) {
		json_t *a = pki_ca_index();
		print_json(a);
		json_decref(a);
		return 0;
	}
	if (!strcmp(cmd, "crl")) {
		if (argc < 2)
			return usage();
		yz_err e = {0};
		buf b;
		buf_init(&b, 64 << 20);
		if (pki_crl(s, argv[1], &b, &e) != YZ_OK) {
			buf_free(&b);
			return fail(&e);
		}
		int rc = write_out(opt(argc, argv, "--out"), b.p, b.len);
		buf_free(&b);
		return rc;
	}
	fprintf(stderr, "yizhan pki: unknown command %s\n", cmd);
	return usage();
}
