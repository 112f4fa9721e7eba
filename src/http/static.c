/*
 * static.c — static files (CSS, JS, images) loaded into memory at start and
 * served with an ETag and caching headers. Because only files found at start
 * can be served, and lookups are exact matches on the decoded path, no path
 * can reach outside the static directory: `..` and friends simply match
 * nothing (404).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "http/http_int.h"

#define STATIC_MAX_FILE  (16u << 20)
#define STATIC_MAX_FILES 4096

static const char *type_of(const char *path)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
	    {".css", "text/css; charset=utf-8"},
	    {".js", "text/javascript; charset=utf-8"},
	    {".mjs", "text/javascript; charset=utf-8"},
	    {".json", "application/json"},
	    {".geojson", "application/geo+json"},
	    {".svg", "image/svg+xml"},
	    {".png", "image/png"},
	    {".jpg", "image/jpeg"},
	    {".ico", "image/x-icon"},
	    {".woff2", "font/woff2"},
	    {".txt", "text/plain; charset=utf-8"},
	    {".html", "text/html; charset=utf-8"},
	    {".map", "application/json"},
	};
	const char *dot = strrchr(path, '.');
	if (dot)
		for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
			if (!strcmp(dot, types[i].ext))
				return types[i].type;
	return "application/octet-stream";
}

static uint64_t fnv(const unsigned char *p, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static yz_status add_file(http_server *s, const char *full, const char *rel, yz_err *e)
{
	FILE *f = fopen(full, "rb");
	if (!f)
		return yz_fail(e, YZ_EIO, "cannot read %s", full);
	struct stat st;
	if (fstat(fileno(f), &st) != 0 || st.st_size > STATIC_MAX_FILE) {
		fclose(f);
		return yz_fail(e, YZ_ETOOBIG, "static file too large: %s", full);
	}
	size_t n = (size_t)st.st_size;
	unsigned char *data = malloc(n ? n : 1);
	if (!data || fread(data, 1, n, f) != n) {
		free(data);
		fclose(f);
		return yz_fail(e, YZ_EIO, "cannot read %s", full);
	}
	fclose(f);
	if (s->nfiles >= STATIC_MAX_FILES) {
		free(data);
		return yz_fail(e, YZ_ETOOBIG, "too many static files");
	}
	static_file *nf = realloc(s->files, sizeof *nf * (s->nfiles + 1));
	if (!nf) {
		free(data);
		return yz_fail(e, YZ_ENOMEM, "out of memory");
	}
	s->files = nf;
	static_file *sf = &s->files[s->nfiles++];
	sf->path = strdup(rel);
	sf->data = data;
	sf->len = n;
	snprintf(sf->etag, sizeof sf->etag, "\"%016llx\"", (unsigned long long)fnv(data, n));
	sf->type = type_of(rel);
	return sf->path ? YZ_OK : yz_fail(e, YZ_ENOMEM, "out of memory");
}

static yz_status walk(http_server *s, const char *dir, const char *rel, int depth, yz_err *e)
{
	if (depth > 8)
		return YZ_OK;
	DIR *d = opendir(dir);
	if (!d)
		return depth == 0 ? YZ_OK : yz_fail(e, YZ_EIO, "cannot open %s", dir);
	struct dirent *de;
	yz_status st = YZ_OK;
	while (st == YZ_OK && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		char full[1024], r[512];
		snprintf(full, sizeof full, "%s/%s", dir, de->d_name);
		snprintf(r, sizeof r, "%s%s%s", rel, rel[0] ? "/" : "", de->d_name);
		struct stat sb;
		if (stat(full, &sb) != 0)
			continue;
		if (S_ISDIR(sb.st_mode))
			st = walk(s, full, r, depth + 1, e);
		else if (S_ISREG(sb.st_mode))
			st = add_file(s, full, r, e);
	}
	closedir(d);
	return st;
}

yz_status http_static_load(http_server *s, const char *dir, yz_err *e)
{
	return walk(s, dir, "", 0, e);
}

void http_static_free(http_server *s)
{
	for (size_t i = 0; i < s->nfiles; i++) {
		free(s->files[i].path);
		free(s->files[i].data);
	}
	free(s->files);
	s->files = NULL;
	s->nfiles = 0;
}

yz_status http_static_handler(http_req *r, yz_err *e)
{
	const char *p = http_param(r, "path");
	const static_file *f = NULL;
	for (size_t i = 0; p && i < r->srv->nfiles; i++) {
		if (!strcmp(r->srv->files[i].path, p)) {
			f = &r->srv->files[i];
			break;
		}
	}
	if (!f)
		return yz_fail(e, YZ_ENOTFOUND, "no such file");
	r->cacheable = true;
	http_set_header(r, "ETag", f->etag);
	http_set_header(r, "Cache-Control", "public, max-age=3600");
	const char *inm = http_header(r, "If-None-Match");
	if (inm && strstr(inm, f->etag)) {
		http_reply_text(r, 304, NULL, "", 0);
		return YZ_OK;
	}
	http_reply_text(r, 200, f->type, f->data, f->len);
	return YZ_OK;
}
