/*
 * tmpl.c — compiler and renderer for the HTML templates of tmpl.h.
 *
 * Compilation turns a source into a flat instruction list per template:
 * literal text runs (pointers into the template's own copy of the source),
 * values with the escaping decided by an HTML context tracker, sections with
 * absolute jump targets, partial calls (resolved to template pointers by
 * tmpl_set_link), slots and messages. Rendering walks that list with a
 * context stack that lives on the caller's stack: nothing in a linked set is
 * written while rendering, so any number of threads may render one set.
 *
 * The HTML tracker follows the tokenizer states of the HTML standard that
 * matter for escaping (text, tag name, attribute name, before/inside
 * attribute values with their quote, comments, bogus comments, raw text of
 * <script>/<style> and escapable raw text of <title>/<textarea>). Sections
 * do not change the tracked context: each branch is tracked from the state
 * where the section opened and the branches must meet in the same state.
 *
 * Nested layouts (a layout that itself extends another) are supported up to
 * TMPL_MAX_DEPTH levels: the blocks of a level are rendered with the slots
 * of the level below it, and override blocks of the same name.
 */
#include "http/tmpl.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/arena.h"

#define TMPL_MAX_SRC    ((size_t)1 << 20)
#define TMPL_MAX_NEST   32
#define TMPL_MAX_DEPTH  8
#define TMPL_MAX_NAME   200
#define TMPL_MAX_SEGS   32
#define TMPL_MAX_FRAMES (1 + TMPL_MAX_NEST * (TMPL_MAX_DEPTH + 1))
#define TMPL_MAX_KEY    256
#define TMPL_DIR_DEPTH  16

/* ---------------------------------------------------------------------- */
/* Compiled form                                                           */

enum op {
	OP_TEXT,      /* u.s: literal bytes */
	OP_VALUE,     /* u.path with esc */
	OP_MSG_LIT,   /* u.s: message key */
	OP_MSG_PATH,  /* u.path: message key taken from data */
	OP_IF,        /* u.path; false: pc = jump */
	OP_UNLESS,    /* u.path; true: pc = jump */
	OP_JUMP,      /* pc = jump (end of a first branch) */
	OP_WITH,      /* u.path; falsy: pc = jump; else push a frame */
	OP_WITH_END,  /* pop */
	OP_EACH,      /* u.path; empty: pc = jump; else push an each frame */
	OP_EACH_NEXT, /* more items: pc = jump (body start); else pop */
	OP_PARTIAL,   /* u.s: name; target resolved at link */
	OP_SLOT,      /* u.s: name */
};

enum esc {
	ESC_NONE,      /* raw */
	ESC_HTML,      /* element text, quoted attribute value */
	ESC_URL_START, /* URL attribute, value starts it: scheme check + HTML */
	ESC_URL_PART,  /* URL attribute, later: percent-encode */
};

enum pkind { P_DOT, P_LOOKUP, P_ROOT, P_INDEX, P_NUMBER, P_FIRST, P_LAST, P_KEY };

typedef struct pseg {
	const char *s;
	size_t n;
	long idx; /* >= 0 when the segment is all digits (array index) */
} pseg;

typedef struct path {
	uint8_t kind;
	uint16_t nseg;
	pseg seg[];
} path;

typedef struct tmpl tmpl;

typedef struct insn {
	uint8_t op, esc;
	uint32_t jump;
	uint32_t line, col;
	union {
		struct {
			const char *p;
			size_t n;
		} s;
		const path *path;
	} u;
	tmpl *target; /* OP_PARTIAL after link */
} insn;

typedef struct tblock {
	const char *name;
	uint32_t start, end; /* code range */
	uint32_t line, col;
} tblock;

struct tmpl {
	char *name;
	arena *ar; /* source copy, paths, names */
	insn *code;
	size_t ncode, capcode;
	const char *extends; /* layout name or NULL */
	uint32_t ext_line, ext_col;
	tmpl *parent; /* resolved at link */
	tblock *blocks;
	size_t nblocks, capblocks;
	unsigned mark; /* link-time graph walks */
};

typedef struct msgent {
	const char *key;
	const char *val;
	size_t klen;
	uint32_t hash;
} msgent;

typedef struct msgtab {
	char *lang;
	arena *ar;
	msgent *slots;
	size_t cap, n;
} msgtab;

struct tmpl_set {
	tmpl **t;
	size_t n, cap;
	tmpl **sorted; /* by name, built at link */
	msgtab **langs;
	size_t nlang, caplang;
	int linked;
	unsigned mark;
};

/* ---------------------------------------------------------------------- */
/* Small helpers                                                           */

static bool is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static bool is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static char lower(unsigned char c)
{
	return (char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
}

static bool word_is(const char *p, size_t n, const char *w)
{
	size_t k = strlen(w);
	return n == k && memcmp(p, w, k) == 0;
}

static void trim(const char **p, size_t *n)
{
	while (*n && is_ws((unsigned char)**p)) {
		(*p)++;
		(*n)--;
	}
	while (*n && is_ws((unsigned char)(*p)[*n - 1]))
		(*n)--;
}

static uint32_t hash_bytes(const char *p, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 16777619u;
	}
	return h;
}

/* ---------------------------------------------------------------------- */
/* Escaping                                                                */

/* Replacement and its length for the five characters HTML escaping touches. */
static const struct {
	const char *s;
	size_t n;
} html_rep[256] = {
    ['&'] = {"&amp;", 5},  ['<'] = {"&lt;", 4},   ['>'] = {"&gt;", 4},
    ['"'] = {"&quot;", 6}, ['\''] = {"&#39;", 5},
};

yz_status tmpl_escape_html(buf *out, const char *s, size_t n)
{
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!html_rep[c].n)
			continue;
		yz_status st = buf_append(out, s + run, i - run);
		if (st == YZ_OK)
			st = buf_append(out, html_rep[c].s, html_rep[c].n);
		if (st != YZ_OK)
			return st;
		run = i + 1;
	}
	return buf_append(out, s + run, n - run);
}

/* Decimal digits of v into tmp (at least 21 bytes); no printf on the hot path. */
static size_t fmt_int(int64_t v, char *tmp)
{
	char rev[21];
	size_t n = 0, k = 0;
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	do {
		rev[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		tmp[k++] = '-';
	while (n)
		tmp[k++] = rev[--n];
	return k;
}

static bool url_unreserved(unsigned char c)
{
	return is_alpha(c) || is_digit(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

/* Percent-encode everything but RFC 3986 unreserved characters, so the value
 * can neither leave its URL component nor its attribute. */
static yz_status escape_url_part(buf *out, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (url_unreserved(c))
			continue;
		char enc[3] = {'%', hex[c >> 4], hex[c & 15]};
		yz_status st = buf_append(out, s + run, i - run);
		if (st == YZ_OK)
			st = buf_append(out, enc, 3);
		if (st != YZ_OK)
			return st;
		run = i + 1;
	}
	return buf_append(out, s + run, n - run);
}

/* A URL that starts an attribute is acceptable when it has no scheme or one
 * of http, https, mailto, tel. Browsers drop leading C0 controls and spaces
 * and ignore tabs and newlines anywhere, so the check does the same. */
static bool url_scheme_ok(const char *s, size_t n)
{
	static const char *const ok[] = {"http", "https", "mailto", "tel"};
	char scheme[8];
	size_t k = 0, i = 0;
	while (i < n && (unsigned char)s[i] <= 0x20)
		i++;
	for (; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\t' || c == '\n' || c == '\r')
			continue;
		if (c == ':') {
			for (size_t j = 0; j < sizeof ok / sizeof ok[0]; j++)
				if (k == strlen(ok[j]) && memcmp(scheme, ok[j], k) == 0)
					return true;
			return false;
		}
		if (c == '/' || c == '?' || c == '#')
			return true;
		if (k < sizeof scheme)
			scheme[k] = lower(c);
		k++;
	}
	return true;
}

/* ---------------------------------------------------------------------- */
/* HTML context tracker                                                    */

enum hstate {
	H_TEXT,
	H_LT,      /* after '<' */
	H_ENDLT,   /* after '</' */
	H_MD,      /* after '<!' */
	H_MD_DASH, /* after '<!-' */
	H_TAG_NAME,
	H_BEFORE_ATTR,
	H_ATTR_NAME,
	H_AFTER_ATTR_NAME,
	H_BEFORE_VALUE,
	H_VALUE_DQ,
	H_VALUE_SQ,
	H_VALUE_UQ,
	H_COMMENT,
	H_BOGUS, /* <!x …>, <?x …>, </1 …> */
	H_RAW,   /* content of script, style, title, textarea */
};

enum rawkind { R_NONE, R_SCRIPT, R_STYLE, R_RCDATA };
enum attrkind { A_NORMAL, A_URL, A_JS, A_STYLE, A_SRCSET, A_SRCDOC };

#define TNAME_MAX 15
#define ANAME_MAX 23

typedef struct hctx {
	uint8_t st, raw, end_tag, attr, url_started, need_sep, rawmatch, dashes, bang;
	uint8_t tnlen, anlen;
	char tname[TNAME_MAX + 1];
	char aname[ANAME_MAX + 1];
} hctx;

enum herr { HE_OK, HE_EQ, HE_QUOTE, HE_SEP };

static void h_to_text(hctx *h)
{
	memset(h, 0, sizeof *h);
	h->st = H_TEXT;
}

static void tname_add(hctx *h, unsigned char c)
{
	if (h->tnlen < TNAME_MAX)
		h->tname[h->tnlen] = lower(c);
	if (h->tnlen <= TNAME_MAX)
		h->tnlen++;
}

static void aname_add(hctx *h, unsigned char c)
{
	if (h->anlen < ANAME_MAX)
		h->aname[h->anlen] = lower(c);
	if (h->anlen <= ANAME_MAX)
		h->anlen++;
}

static bool tname_is(const hctx *h, const char *w)
{
	return h->tnlen <= TNAME_MAX && word_is(h->tname, h->tnlen, w);
}

static void attr_classify(hctx *h)
{
	static const char *const urls[] = {
	    "href",       "src",      "action",   "formaction", "poster",     "cite",     "data",
	    "background", "longdesc", "manifest", "ping",       "xlink:href", "codebase", "icon",
	    "usemap",     "profile",  "archive",  "classid",    "lowsrc",     "dynsrc",
	};
	size_t n = h->anlen > ANAME_MAX ? ANAME_MAX : h->anlen;
	const char *a = h->aname;
	h->attr = A_NORMAL;
	if (n >= 2 && a[0] == 'o' && a[1] == 'n') {
		h->attr = A_JS;
	} else if (h->anlen > ANAME_MAX) {
		h->attr = A_NORMAL;
	} else if (word_is(a, n, "style")) {
		h->attr = A_STYLE;
	} else if (word_is(a, n, "srcset") || word_is(a, n, "imagesrcset")) {
		h->attr = A_SRCSET;
	} else if (word_is(a, n, "srcdoc")) {
		h->attr = A_SRCDOC;
	} else {
		for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++)
			if (word_is(a, n, urls[i]))
				h->attr = A_URL;
	}
}

static void attr_start(hctx *h, unsigned char c)
{
	h->st = H_ATTR_NAME;
	h->anlen = 0;
	memset(h->aname, 0, sizeof h->aname);
	h->attr = A_NORMAL;
	h->url_started = 0;
	aname_add(h, c);
}

static void tag_end(hctx *h)
{
	if (!h->end_tag) {
		uint8_t raw = R_NONE;
		if (tname_is(h, "script"))
			raw = R_SCRIPT;
		else if (tname_is(h, "style"))
			raw = R_STYLE;
		else if (tname_is(h, "title") || tname_is(h, "textarea"))
			raw = R_RCDATA;
		if (raw != R_NONE) {
			hctx k = {0};
			k.st = H_RAW;
			k.raw = raw;
			k.tnlen = h->tnlen;
			memcpy(k.tname, h->tname, sizeof k.tname);
			*h = k;
			return;
		}
	}
	h_to_text(h);
}

static void to_before_attr(hctx *h)
{
	h->st = H_BEFORE_ATTR;
	h->anlen = 0;
	memset(h->aname, 0, sizeof h->aname);
	h->attr = A_NORMAL;
	h->url_started = 0;
}

static enum herr h_step(hctx *h, unsigned char c)
{
again:
	switch (h->st) {
	case H_TEXT:
		if (c == '<')
			h->st = H_LT;
		return HE_OK;
	case H_LT:
		if (is_alpha(c)) {
			memset(h, 0, sizeof *h);
			h->st = H_TAG_NAME;
			tname_add(h, c);
		} else if (c == '/') {
			h->st = H_ENDLT;
		} else if (c == '!') {
			h->st = H_MD;
		} else if (c == '?') {
			h->st = H_BOGUS;
		} else {
			h->st = H_TEXT;
			goto again;
		}
		return HE_OK;
	case H_ENDLT:
		if (is_alpha(c)) {
			memset(h, 0, sizeof *h);
			h->st = H_TAG_NAME;
			h->end_tag = 1;
			tname_add(h, c);
		} else if (c == '>') {
			h_to_text(h);
		} else {
			h->st = H_BOGUS;
		}
		return HE_OK;
	case H_MD:
		if (c == '-') {
			h->st = H_MD_DASH;
			return HE_OK;
		}
		h->st = H_BOGUS;
		goto again;
	case H_MD_DASH:
		if (c == '-') {
			h->st = H_COMMENT;
			/* "<!-->" and "<!--->" close at once, as in browsers */
			h->dashes = 2;
			h->bang = 0;
			return HE_OK;
		}
		h->st = H_BOGUS;
		goto again;
	case H_COMMENT:
		if (c == '>' && (h->dashes >= 2 || h->bang)) {
			h_to_text(h);
		} else if (c == '!' && h->dashes >= 2) {
			h->bang = 1;
			h->dashes = 0;
		} else if (c == '-') {
			if (h->dashes < 3)
				h->dashes++;
			h->bang = 0;
		} else {
			h->dashes = 0;
			h->bang = 0;
		}
		return HE_OK;
	case H_BOGUS:
		if (c == '>')
			h_to_text(h);
		return HE_OK;
	case H_TAG_NAME:
		if (is_ws(c) || c == '/')
			to_before_attr(h);
		else if (c == '>')
			tag_end(h);
		else
			tname_add(h, c);
		return HE_OK;
	case H_BEFORE_ATTR:
		if (is_ws(c) || c == '/') {
			h->need_sep = 0;
			return HE_OK;
		}
		if (c == '>') {
			tag_end(h);
			return HE_OK;
		}
		if (c == '=')
			return HE_EQ;
		if (c == '"' || c == '\'')
			return HE_QUOTE;
		if (h->need_sep)
			return HE_SEP;
		attr_start(h, c);
		return HE_OK;
	case H_ATTR_NAME:
		if (is_ws(c)) {
			attr_classify(h);
			h->st = H_AFTER_ATTR_NAME;
		} else if (c == '/') {
			to_before_attr(h);
		} else if (c == '=') {
			attr_classify(h);
			h->st = H_BEFORE_VALUE;
		} else if (c == '>') {
			tag_end(h);
		} else {
			aname_add(h, c);
		}
		return HE_OK;
	case H_AFTER_ATTR_NAME:
		if (is_ws(c))
			return HE_OK;
		if (c == '/') {
			to_before_attr(h);
		} else if (c == '=') {
			h->st = H_BEFORE_VALUE;
		} else if (c == '>') {
			tag_end(h);
		} else if (c == '"' || c == '\'') {
			return HE_QUOTE;
		} else {
			attr_start(h, c);
		}
		return HE_OK;
	case H_BEFORE_VALUE:
		if (is_ws(c))
			return HE_OK;
		h->url_started = 0;
		if (c == '"')
			h->st = H_VALUE_DQ;
		else if (c == '\'')
			h->st = H_VALUE_SQ;
		else if (c == '>')
			tag_end(h);
		else
			h->st = H_VALUE_UQ;
		return HE_OK;
	case H_VALUE_DQ:
	case H_VALUE_SQ:
		if (c == (h->st == H_VALUE_DQ ? '"' : '\''))
			to_before_attr(h);
		else if (!is_ws(c))
			h->url_started = 1;
		return HE_OK;
	case H_VALUE_UQ:
		if (is_ws(c))
			to_before_attr(h);
		else if (c == '>')
			tag_end(h);
		return HE_OK;
	case H_RAW: {
		uint8_t m = h->rawmatch;
		uint8_t len = h->tnlen;
		if (m == 0) {
			m = c == '<';
		} else if (m == 1) {
			m = c == '/' ? 2 : (c == '<');
		} else if (m < 2 + len) {
			m = lower(c) == h->tname[m - 2] ? (uint8_t)(m + 1) : (c == '<');
		} else if (is_ws(c) || c == '/' || c == '>') {
			uint8_t tl = h->tnlen;
			char tn[TNAME_MAX + 1];
			memcpy(tn, h->tname, sizeof tn);
			memset(h, 0, sizeof *h);
			h->tnlen = tl;
			memcpy(h->tname, tn, sizeof tn);
			h->end_tag = 1;
			if (c == '>')
				h_to_text(h);
			else
				h->st = H_BEFORE_ATTR;
			return HE_OK;
		} else {
			m = c == '<';
		}
		h->rawmatch = m;
		return HE_OK;
	}
	default:
		return HE_OK;
	}
}

/* The fields that decide future behaviour in each state; the rest is
 * cleared so that two contexts compare equal when they act the same. */
static hctx h_canon(const hctx *h)
{
	hctx k = {0};
	k.st = h->st;
	switch (h->st) {
	case H_COMMENT:
		k.dashes = h->dashes;
		k.bang = h->bang;
		break;
	case H_TAG_NAME:
	case H_ATTR_NAME:
	case H_BEFORE_ATTR:
	case H_AFTER_ATTR_NAME:
	case H_BEFORE_VALUE:
	case H_VALUE_DQ:
	case H_VALUE_SQ:
	case H_VALUE_UQ:
		k.end_tag = h->end_tag;
		k.tnlen = h->tnlen;
		memcpy(k.tname, h->tname, sizeof k.tname);
		if (h->st != H_TAG_NAME && h->st != H_BEFORE_ATTR) {
			k.anlen = h->anlen;
			memcpy(k.aname, h->aname, sizeof k.aname);
		}
		if (h->st != H_ATTR_NAME && h->st != H_TAG_NAME && h->st != H_BEFORE_ATTR)
			k.attr = h->attr;
		if (h->st == H_BEFORE_ATTR)
			k.need_sep = h->need_sep;
		if (h->st == H_VALUE_DQ || h->st == H_VALUE_SQ)
			k.url_started = h->url_started;
		break;
	case H_RAW:
		k.raw = h->raw;
		k.rawmatch = h->rawmatch;
		k.tnlen = h->tnlen;
		memcpy(k.tname, h->tname, sizeof k.tname);
		break;
	default:
		break;
	}
	return k;
}

/* Equal for escaping purposes; need_sep and url_started are merged by
 * h_join rather than compared. */
static bool h_eq(const hctx *a, const hctx *b)
{
	hctx x = h_canon(a), y = h_canon(b);
	x.need_sep = y.need_sep = 0;
	x.url_started = y.url_started = 0;
	return memcmp(&x, &y, sizeof x) == 0;
}

/* A branch that ends inside an attribute name, or after one, meets the
 * other branch between attributes; the next literal character must then
 * separate (need_sep) so that a name cannot run on across the join. */
static hctx h_norm(const hctx *h)
{
	hctx k = h_canon(h);
	if (k.st == H_ATTR_NAME) {
		to_before_attr(&k);
		k.need_sep = 1;
	} else if (k.st == H_AFTER_ATTR_NAME) {
		to_before_attr(&k);
	}
	return h_canon(&k);
}

static bool h_join(const hctx *a, const hctx *b, hctx *out)
{
	hctx x = h_canon(a), y = h_canon(b);
	if (!h_eq(&x, &y)) {
		x = h_norm(&x);
		y = h_norm(&y);
		if (!h_eq(&x, &y))
			return false;
	}
	x.need_sep = (uint8_t)(x.need_sep | y.need_sep);
	x.url_started = (uint8_t)(x.url_started | y.url_started);
	*out = h_canon(&x);
	return true;
}

static const char *h_name(const hctx *h)
{
	switch (h->st) {
	case H_TEXT:
		return "element text";
	case H_LT:
	case H_ENDLT:
	case H_TAG_NAME:
		return "a tag name";
	case H_BEFORE_ATTR:
	case H_AFTER_ATTR_NAME:
		return "a tag";
	case H_ATTR_NAME:
		return "an attribute name";
	case H_BEFORE_VALUE:
	case H_VALUE_UQ:
		return "an unquoted attribute value";
	case H_VALUE_DQ:
		return "a double-quoted attribute value";
	case H_VALUE_SQ:
		return "a single-quoted attribute value";
	case H_MD:
	case H_MD_DASH:
	case H_BOGUS:
		return "a markup declaration";
	case H_COMMENT:
		return "an HTML comment";
	case H_RAW:
		return h->raw == R_SCRIPT  ? "<script>"
		       : h->raw == R_STYLE ? "<style>"
		                           : "<title> or <textarea> text";
	default:
		return "an unknown context";
	}
}

/* ---------------------------------------------------------------------- */
/* Compiler                                                                */

enum seckind { K_IF, K_UNLESS, K_EACH, K_WITH, K_BLOCK };
static const char *const sec_names[] = {"if", "unless", "each", "with", "block"};

typedef struct sec {
	uint8_t kind, has_else;
	uint32_t open; /* index of the opening instruction */
	uint32_t jmp;  /* index of the OP_JUMP ending the first branch */
	uint32_t line, col;
	size_t block; /* K_BLOCK: index in t->blocks */
	hctx start;   /* context where the section opened */
	hctx first;   /* context at {{ else }} (end of the first branch) */
} sec;

typedef struct comp {
	tmpl *t;
	const char *src;
	size_t n;
	yz_err *e;
	hctx h;
	sec stack[TMPL_MAX_NEST + 1];
	int nsec;
	bool in_block;
	bool seen_content; /* anything but whitespace and comments so far */
	/* incremental line/column cursor */
	size_t lc_off;
	uint32_t lc_line, lc_col;
} comp;

static void loc(comp *c, size_t off, uint32_t *line, uint32_t *col)
{
	if (off < c->lc_off) {
		c->lc_off = 0;
		c->lc_line = 1;
		c->lc_col = 1;
	}
	for (size_t i = c->lc_off; i < off && i < c->n; i++) {
		unsigned char ch = (unsigned char)c->src[i];
		if (ch == '\n') {
			c->lc_line++;
			c->lc_col = 1;
		} else if ((ch & 0xC0) != 0x80) {
			c->lc_col++;
		}
	}
	c->lc_off = off;
	*line = c->lc_line;
	*col = c->lc_col;
}

YZ_PRINTF(3, 4) static int cfail(comp *c, size_t off, const char *fmt, ...)
{
	char msg[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	uint32_t line, col;
	loc(c, off, &line, &col);
	yz_fail(c->e, YZ_EINVAL, "%s:%u:%u: %s", c->t->name, line, col, msg);
	return -1;
}

static insn *emit(comp *c, uint8_t op, size_t off)
{
	if (c->t->ncode == c->t->capcode) {
		size_t cap = c->t->capcode ? c->t->capcode * 2 : 32;
		insn *p = realloc(c->t->code, cap * sizeof *p);
		if (!p) {
			yz_fail(c->e, YZ_ENOMEM, "out of memory compiling %s", c->t->name);
			return NULL;
		}
		c->t->code = p;
		c->t->capcode = cap;
	}
	insn *i = &c->t->code[c->t->ncode++];
	memset(i, 0, sizeof *i);
	i->op = op;
	loc(c, off, &i->line, &i->col);
	return i;
}

static int feed_text(comp *c, size_t off, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		switch (h_step(&c->h, (unsigned char)c->src[off + i])) {
		case HE_OK:
			break;
		case HE_EQ:
			return cfail(c, off + i, "'=' where an attribute name was expected");
		case HE_QUOTE:
			return cfail(c, off + i, "quote where an attribute name was expected");
		case HE_SEP:
			return cfail(c, off + i,
			             "an attribute name continues across a section; put a space "
			             "before the section ends");
		}
	}
	return 0;
}

static int do_text(comp *c, size_t off, size_t n)
{
	if (n == 0)
		return 0;
	if (c->t->extends && !c->in_block) {
		for (size_t i = 0; i < n; i++)
			if (!is_ws((unsigned char)c->src[off + i]))
				return cfail(c, off + i,
				             "text outside {{#block}} in a template that extends "
				             "a layout");
		return 0;
	}
	for (size_t i = 0; i < n && !c->seen_content; i++)
		if (!is_ws((unsigned char)c->src[off + i]))
			c->seen_content = true;
	if (feed_text(c, off, n) < 0)
		return -1;
	insn *in = emit(c, OP_TEXT, off);
	if (!in)
		return -1;
	in->u.s.p = c->src + off;
	in->u.s.n = n;
	return 0;
}

static bool seg_char(unsigned char ch)
{
	return is_alpha(ch) || is_digit(ch) || ch == '_' || ch == '-' || ch >= 0x80;
}

static int parse_path(comp *c, size_t off, const char *p, size_t n, const path **out)
{
	static const struct {
		const char *w;
		uint8_t k;
	} at[] = {{"@index", P_INDEX},
	          {"@number", P_NUMBER},
	          {"@first", P_FIRST},
	          {"@last", P_LAST},
	          {"@key", P_KEY}};
	uint8_t kind = P_LOOKUP;
	if (n == 0)
		return cfail(c, off, "empty value name");
	if (n == 1 && p[0] == '.') {
		kind = P_DOT;
		n = 0;
	} else if (p[0] == '@') {
		bool found = false;
		for (size_t i = 0; i < sizeof at / sizeof at[0]; i++)
			if (word_is(p, n, at[i].w)) {
				kind = at[i].k;
				found = true;
			}
		if (found) {
			n = 0;
		} else if (word_is(p, n, "@root")) {
			kind = P_ROOT;
			n = 0;
		} else if (n > 6 && memcmp(p, "@root.", 6) == 0) {
			kind = P_ROOT;
			p += 6;
			n -= 6;
		} else {
			return cfail(c, off, "unknown variable '%.*s'", (int)(n > 40 ? 40 : n), p);
		}
	} else if (n >= 2 && p[0] == '.' && p[1] == '.') {
		return cfail(c, off, "'..' is not supported; names are looked up outward");
	}
	size_t nseg = 0;
	if (n) {
		nseg = 1;
		for (size_t i = 0; i < n; i++) {
			unsigned char ch = (unsigned char)p[i];
			if (ch == '.') {
				if (i == 0 || i + 1 == n || p[i + 1] == '.')
					return cfail(c, off, "malformed name '%.*s'",
					             (int)(n > 40 ? 40 : n), p);
				nseg++;
			} else if (!seg_char(ch)) {
				return cfail(c, off, "malformed name '%.*s'",
				             (int)(n > 40 ? 40 : n), p);
			}
		}
		if (nseg > TMPL_MAX_SEGS)
			return cfail(c, off, "name has more than %d parts", TMPL_MAX_SEGS);
	}
	path *pa = arena_alloc(c->t->ar, sizeof *pa + nseg * sizeof(pseg));
	if (!pa) {
		yz_fail(c->e, YZ_ENOMEM, "out of memory compiling %s", c->t->name);
		return -1;
	}
	pa->kind = kind;
	pa->nseg = (uint16_t)nseg;
	size_t si = 0, start = 0;
	for (size_t i = 0; i <= n && nseg; i++) {
		if (i < n && p[i] != '.')
			continue;
		pseg *sg = &pa->seg[si++];
		sg->s = p + start;
		sg->n = i - start;
		sg->idx = -1;
		if (sg->n <= 9) {
			long v = 0;
			size_t k = 0;
			for (; k < sg->n && is_digit((unsigned char)sg->s[k]); k++)
				v = v * 10 + (sg->s[k] - '0');
			if (k == sg->n)
				sg->idx = v;
		}
		start = i + 1;
	}
	*out = pa;
	return 0;
}

/* A "quoted" argument; the whole of p..n must be the literal. */
static int parse_string(comp *c, size_t off, const char *p, size_t n, const char **out,
                        size_t *outn, const char *what)
{
	if (n < 2 || p[0] != '"' || p[n - 1] != '"')
		return cfail(c, off, "%s needs a \"quoted\" name", what);
	for (size_t i = 1; i + 1 < n; i++)
		if (p[i] == '"' || (unsigned char)p[i] < 0x20)
			return cfail(c, off, "malformed quoted name in %s", what);
	if (n == 2)
		return cfail(c, off, "%s needs a non-empty name", what);
	*out = p + 1;
	*outn = n - 2;
	return 0;
}

static bool template_name_ok(const char *p, size_t n)
{
	if (n == 0 || n > TMPL_MAX_NAME || p[0] == '/' || p[n - 1] == '/')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)p[i];
		if (!(is_alpha(ch) || is_digit(ch) || ch == '_' || ch == '-' || ch == '.' ||
		      ch == '/'))
			return false;
		if (ch == '.' && i + 1 < n && p[i + 1] == '.')
			return false;
	}
	return true;
}

static char *cdup(comp *c, const char *p, size_t n)
{
	char *s = arena_strndup(c->t->ar, p, n);
	if (!s)
		yz_fail(c->e, YZ_ENOMEM, "out of memory compiling %s", c->t->name);
	return s;
}

/* Where a value (or message) may stand and how it is escaped. */
static int value_esc(comp *c, size_t off, bool raw, uint8_t *esc)
{
	hctx *h = &c->h;
	switch (h->st) {
	case H_TEXT:
		*esc = raw ? ESC_NONE : ESC_HTML;
		return 0;
	case H_RAW:
		if (h->raw == R_SCRIPT)
			return cfail(c, off,
			             "value inside <script>; pass data through a "
			             "data-* attribute instead");
		if (h->raw == R_STYLE)
			return cfail(c, off, "value inside <style>");
		if (raw)
			return cfail(c, off, "raw is allowed in element text only");
		*esc = ESC_HTML;
		return 0;
	case H_COMMENT:
		return cfail(c, off, "value inside an HTML comment");
	case H_MD:
	case H_MD_DASH:
	case H_BOGUS:
		return cfail(c, off, "value inside a markup declaration");
	case H_BEFORE_VALUE:
	case H_VALUE_UQ:
		return cfail(c, off, "value in an unquoted attribute value; quote it");
	case H_VALUE_DQ:
	case H_VALUE_SQ:
		if (raw)
			return cfail(c, off, "raw is allowed in element text only");
		switch (h->attr) {
		case A_JS:
			return cfail(c, off, "value in event-handler attribute '%.*s'",
			             (int)(h->anlen > ANAME_MAX ? ANAME_MAX : h->anlen), h->aname);
		case A_STYLE:
			return cfail(c, off, "value in a style attribute");
		case A_SRCSET:
			return cfail(c, off, "value in a srcset attribute");
		case A_SRCDOC:
			return cfail(c, off, "value in a srcdoc attribute");
		case A_URL:
			*esc = h->url_started ? ESC_URL_PART : ESC_URL_START;
			h->url_started = 1;
			return 0;
		default:
			*esc = ESC_HTML;
			return 0;
		}
	default:
		return cfail(c, off,
		             "value inside a tag; values may stand only in element text and "
		             "quoted attribute values");
	}
}

static int need_content_ctx(comp *c, size_t off, const char *what)
{
	if (c->h.st == H_TEXT || (c->h.st == H_RAW && c->h.raw == R_RCDATA))
		return 0;
	return cfail(c, off, "%s inside %s; it may stand only in element text", what,
	             h_name(&c->h));
}

static int no_top_level(comp *c, size_t off)
{
	if (c->t->extends && !c->in_block)
		return cfail(c, off,
		             "only {{#block}} sections may stand in a template that extends "
		             "a layout");
	c->seen_content = true;
	return 0;
}

static int sec_open(comp *c, size_t off, const char *kw, size_t kwn, const char *arg, size_t argn)
{
	int kind = -1;
	for (int i = 0; i < (int)(sizeof sec_names / sizeof sec_names[0]); i++)
		if (word_is(kw, kwn, sec_names[i]))
			kind = i;
	if (kind < 0)
		return cfail(c, off, "unknown section '#%.*s'", (int)(kwn > 20 ? 20 : kwn), kw);
	if (c->nsec >= TMPL_MAX_NEST)
		return cfail(c, off, "sections nested deeper than %d", TMPL_MAX_NEST);
	sec *s = &c->stack[c->nsec];
	memset(s, 0, sizeof *s);
	s->kind = (uint8_t)kind;
	loc(c, off, &s->line, &s->col);
	if (kind == K_BLOCK) {
		if (!c->t->extends)
			return cfail(c, off, "{{#block}} outside a template that extends a layout");
		if (c->in_block || c->nsec)
			return cfail(c, off, "{{#block}} must stand at the top level");
		const char *nm;
		size_t nn;
		if (parse_string(c, off, arg, argn, &nm, &nn, "{{#block}}") < 0)
			return -1;
		tmpl *t = c->t;
		for (size_t i = 0; i < t->nblocks; i++)
			if (word_is(nm, nn, t->blocks[i].name))
				return cfail(c, off, "block \"%.*s\" defined twice",
				             (int)(nn > 60 ? 60 : nn), nm);
		if (t->nblocks == t->capblocks) {
			size_t cap = t->capblocks ? t->capblocks * 2 : 4;
			tblock *b = realloc(t->blocks, cap * sizeof *b);
			if (!b) {
				yz_fail(c->e, YZ_ENOMEM, "out of memory compiling %s", t->name);
				return -1;
			}
			t->blocks = b;
			t->capblocks = cap;
		}
		tblock *b = &t->blocks[t->nblocks];
		if (!(b->name = cdup(c, nm, nn)))
			return -1;
		b->start = b->end = (uint32_t)t->ncode;
		b->line = s->line;
		b->col = s->col;
		s->block = t->nblocks++;
		c->in_block = true;
		h_to_text(&c->h);
		c->nsec++;
		return 0;
	}
	if (no_top_level(c, off) < 0)
		return -1;
	if (argn == 0)
		return cfail(c, off, "{{#%s}} needs a value", sec_names[kind]);
	const path *pa;
	if (parse_path(c, off, arg, argn, &pa) < 0)
		return -1;
	static const uint8_t ops[] = {OP_IF, OP_UNLESS, OP_EACH, OP_WITH};
	s->open = (uint32_t)c->t->ncode;
	insn *in = emit(c, ops[kind], off);
	if (!in)
		return -1;
	in->u.path = pa;
	s->start = c->h;
	c->nsec++;
	return 0;
}

/* The each body runs again from where it ended: it must end in the context
 * where it started. */
static int each_loop_check(comp *c, size_t off, sec *s)
{
	hctx j;
	if (!h_join(&s->start, &c->h, &j) || !h_eq(&j, &s->start) ||
	    (j.need_sep && !h_canon(&s->start).need_sep))
		return cfail(c, off,
		             "the body of {{#each}} opened at %u:%u starts in %s but ends in %s",
		             s->line, s->col, h_name(&s->start), h_name(&c->h));
	c->h = j;
	return 0;
}

static int sec_else(comp *c, size_t off)
{
	if (c->nsec == 0)
		return cfail(c, off, "{{else}} outside a section");
	sec *s = &c->stack[c->nsec - 1];
	if (s->kind == K_BLOCK)
		return cfail(c, off, "{{else}} directly inside {{#block}}");
	if (s->has_else)
		return cfail(c, off, "second {{else}} in {{#%s}} opened at %u:%u",
		             sec_names[s->kind], s->line, s->col);
	if (s->kind == K_EACH) {
		if (each_loop_check(c, off, s) < 0)
			return -1;
		insn *n = emit(c, OP_EACH_NEXT, off);
		if (!n)
			return -1;
		n->jump = s->open + 1;
	} else if (s->kind == K_WITH) {
		if (!emit(c, OP_WITH_END, off))
			return -1;
	}
	s->first = c->h;
	s->jmp = (uint32_t)c->t->ncode;
	if (!emit(c, OP_JUMP, off))
		return -1;
	c->t->code[s->open].jump = (uint32_t)c->t->ncode;
	s->has_else = 1;
	c->h = s->start;
	return 0;
}

static int sec_close(comp *c, size_t off, const char *kw, size_t kwn)
{
	if (c->nsec == 0)
		return cfail(c, off, "{{/%.*s}} without an open section",
		             (int)(kwn > 20 ? 20 : kwn), kw);
	sec *s = &c->stack[c->nsec - 1];
	if (!word_is(kw, kwn, sec_names[s->kind]))
		return cfail(c, off, "{{/%.*s}} closes {{#%s}} opened at %u:%u",
		             (int)(kwn > 20 ? 20 : kwn), kw, sec_names[s->kind], s->line, s->col);
	tmpl *t = c->t;
	if (s->kind == K_BLOCK) {
		if (c->h.st != H_TEXT)
			return cfail(c, off, "block \"%s\" ends inside %s",
			             t->blocks[s->block].name, h_name(&c->h));
		t->blocks[s->block].end = (uint32_t)t->ncode;
		c->in_block = false;
		c->nsec--;
		return 0;
	}
	hctx end;
	if (s->has_else) {
		if (!h_join(&s->first, &c->h, &end))
			goto mismatch;
		t->code[s->jmp].jump = (uint32_t)t->ncode;
	} else {
		if (s->kind == K_EACH) {
			if (each_loop_check(c, off, s) < 0)
				return -1;
			insn *n = emit(c, OP_EACH_NEXT, off);
			if (!n)
				return -1;
			n->jump = s->open + 1;
		} else if (s->kind == K_WITH) {
			if (!emit(c, OP_WITH_END, off))
				return -1;
		}
		if (!h_join(&s->start, &c->h, &end))
			goto mismatch;
		t->code[s->open].jump = (uint32_t)t->ncode;
	}
	c->h = end;
	c->nsec--;
	return 0;
mismatch:
	return cfail(c, off,
	             "the branches of {{#%s}} opened at %u:%u end in different HTML contexts "
	             "(%s and %s)",
	             sec_names[s->kind], s->line, s->col,
	             h_name(s->has_else ? &s->first : &s->start), h_name(&c->h));
}

static int do_tag(comp *c, size_t off, const char *a, size_t n)
{
	trim(&a, &n);
	if (n == 0)
		return cfail(c, off, "empty {{ }}");
	if (a[0] == '!')
		return 0;
	if (a[0] == '#' || a[0] == '/') {
		const char *p = a + 1;
		size_t m = n - 1;
		trim(&p, &m);
		size_t k = 0;
		while (k < m && !is_ws((unsigned char)p[k]))
			k++;
		const char *arg = p + k;
		size_t argn = m - k;
		trim(&arg, &argn);
		if (a[0] == '#')
			return sec_open(c, off, p, k, arg, argn);
		if (argn)
			return cfail(c, off, "unexpected text after {{/%.*s",
			             (int)(k > 20 ? 20 : k), p);
		return sec_close(c, off, p, k);
	}
	if (a[0] == '>') {
		const char *p = a + 1;
		size_t m = n - 1;
		trim(&p, &m);
		if (m >= 2 && p[0] == '"' && parse_string(c, off, p, m, &p, &m, "{{>}}") < 0)
			return -1;
		if (!template_name_ok(p, m))
			return cfail(c, off, "malformed partial name '%.*s'",
			             (int)(m > 60 ? 60 : m), p);
		if (no_top_level(c, off) < 0 || need_content_ctx(c, off, "a partial") < 0)
			return -1;
		char *nm = cdup(c, p, m);
		insn *in = nm ? emit(c, OP_PARTIAL, off) : NULL;
		if (!in)
			return -1;
		in->u.s.p = nm;
		in->u.s.n = m;
		return 0;
	}
	size_t k = 0;
	while (k < n && !is_ws((unsigned char)a[k]))
		k++;
	const char *arg = a + k;
	size_t argn = n - k;
	trim(&arg, &argn);
	if (word_is(a, k, "else") && argn == 0)
		return sec_else(c, off);
	if (word_is(a, k, "extends") && argn) {
		if (c->seen_content || c->t->extends)
			return cfail(c, off, "{{ extends }} must come first in a template");
		const char *nm;
		size_t nn;
		if (parse_string(c, off, arg, argn, &nm, &nn, "{{ extends }}") < 0)
			return -1;
		if (!template_name_ok(nm, nn))
			return cfail(c, off, "malformed layout name '%.*s'",
			             (int)(nn > 60 ? 60 : nn), nm);
		if (!(c->t->extends = cdup(c, nm, nn)))
			return -1;
		loc(c, off, &c->t->ext_line, &c->t->ext_col);
		return 0;
	}
	if (word_is(a, k, "slot") && argn) {
		const char *nm;
		size_t nn;
		if (parse_string(c, off, arg, argn, &nm, &nn, "{{ slot }}") < 0)
			return -1;
		if (no_top_level(c, off) < 0 || need_content_ctx(c, off, "a slot") < 0)
			return -1;
		char *s = cdup(c, nm, nn);
		insn *in = s ? emit(c, OP_SLOT, off) : NULL;
		if (!in)
			return -1;
		in->u.s.p = s;
		in->u.s.n = nn;
		return 0;
	}
	if (word_is(a, k, "t") && argn) {
		uint8_t esc;
		if (no_top_level(c, off) < 0)
			return -1;
		if (arg[0] == '"') {
			const char *key;
			size_t kn;
			if (parse_string(c, off, arg, argn, &key, &kn, "{{ t }}") < 0 ||
			    value_esc(c, off, false, &esc) < 0)
				return -1;
			char *ks = cdup(c, key, kn);
			insn *in = ks ? emit(c, OP_MSG_LIT, off) : NULL;
			if (!in)
				return -1;
			in->esc = esc;
			in->u.s.p = ks;
			in->u.s.n = kn;
			return 0;
		}
		const path *pa;
		if (parse_path(c, off, arg, argn, &pa) < 0 || value_esc(c, off, false, &esc) < 0)
			return -1;
		insn *in = emit(c, OP_MSG_PATH, off);
		if (!in)
			return -1;
		in->esc = esc;
		in->u.path = pa;
		return 0;
	}
	bool raw = false;
	if (word_is(a, k, "raw") && argn) {
		raw = true;
		a = arg;
		n = argn;
	}
	const path *pa;
	uint8_t esc;
	if (no_top_level(c, off) < 0 || parse_path(c, off, a, n, &pa) < 0 ||
	    value_esc(c, off, raw, &esc) < 0)
		return -1;
	insn *in = emit(c, OP_VALUE, off);
	if (!in)
		return -1;
	in->esc = esc;
	in->u.path = pa;
	return 0;
}

static const char *find2(const char *p, const char *end, const char *pat, size_t patn)
{
	if ((size_t)(end - p) < patn)
		return NULL;
	return memmem(p, (size_t)(end - p), pat, patn);
}

static int compile(comp *c)
{
	const char *src = c->src, *end = src + c->n;
	size_t pos = 0;
	h_to_text(&c->h);
	while (pos < c->n) {
		const char *o = find2(src + pos, end, "{{", 2);
		size_t open = o ? (size_t)(o - src) : c->n;
		if (do_text(c, pos, open - pos) < 0)
			return -1;
		if (!o)
			break;
		const char *body = o + 2, *close;
		size_t skip = 2;
		if (end - body >= 3 && memcmp(body, "!--", 3) == 0) {
			close = find2(body + 3, end, "--}}", 4);
			skip = 4;
		} else {
			close = find2(body, end, "}}", 2);
		}
		if (!close)
			return cfail(c, open, "{{ is not closed");
		if (skip == 2 && do_tag(c, open, body, (size_t)(close - body)) < 0)
			return -1;
		pos = (size_t)(close - src) + skip;
	}
	if (c->nsec) {
		sec *s = &c->stack[c->nsec - 1];
		return cfail(c, c->n, "{{#%s}} opened at %u:%u is not closed", sec_names[s->kind],
		             s->line, s->col);
	}
	if (c->h.st != H_TEXT)
		return cfail(c, c->n, "template ends inside %s", h_name(&c->h));
	return 0;
}

static void tmpl_free_one(tmpl *t)
{
	if (!t)
		return;
	arena_free(t->ar);
	free(t->code);
	free(t->blocks);
	free(t->name);
	free(t);
}

/* ---------------------------------------------------------------------- */
/* Set                                                                     */

tmpl_set *tmpl_set_new(void)
{
	return calloc(1, sizeof(tmpl_set));
}

static void msgtab_free(msgtab *m)
{
	if (!m)
		return;
	arena_free(m->ar);
	free(m->slots);
	free(m->lang);
	free(m);
}

void tmpl_set_free(tmpl_set *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		tmpl_free_one(s->t[i]);
	for (size_t i = 0; i < s->nlang; i++)
		msgtab_free(s->langs[i]);
	free(s->t);
	free(s->sorted);
	free(s->langs);
	free(s);
}

static tmpl *find_linear(const tmpl_set *s, const char *name, size_t n)
{
	for (size_t i = 0; i < s->n; i++)
		if (word_is(name, n, s->t[i]->name))
			return s->t[i];
	return NULL;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp((*(tmpl *const *)a)->name, (*(tmpl *const *)b)->name);
}

static tmpl *find(const tmpl_set *s, const char *name)
{
	if (!s->linked || !s->sorted)
		return find_linear(s, name, strlen(name));
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = strcmp(name, s->sorted[mid]->name);
		if (r == 0)
			return s->sorted[mid];
		if (r < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

int tmpl_set_has(const tmpl_set *s, const char *name)
{
	return s && name && find(s, name) != NULL;
}

yz_status tmpl_set_add(tmpl_set *s, const char *name, const char *src, size_t n, yz_err *e)
{
	if (!s || !name || (!src && n))
		return yz_fail(e, YZ_EINVAL, "tmpl_set_add: missing argument");
	size_t nl = strlen(name);
	if (!template_name_ok(name, nl))
		return yz_fail(e, YZ_EINVAL, "malformed template name '%.60s'", name);
	if (n > TMPL_MAX_SRC)
		return yz_fail(e, YZ_ETOOBIG, "template %s is larger than %zu bytes", name,
		               TMPL_MAX_SRC);
	if (find_linear(s, name, nl))
		return yz_fail(e, YZ_EINVAL, "template %s added twice", name);
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		tmpl **p = realloc(s->t, cap * sizeof *p);
		if (!p)
			return yz_fail(e, YZ_ENOMEM, "out of memory");
		s->t = p;
		s->cap = cap;
	}
	tmpl *t = calloc(1, sizeof *t);
	if (!t)
		return yz_fail(e, YZ_ENOMEM, "out of memory");
	t->name = strdup(name);
	t->ar = arena_new(0);
	char *copy = t->ar ? arena_alloc(t->ar, n + 1) : NULL;
	if (!t->name || !copy) {
		tmpl_free_one(t);
		return yz_fail(e, YZ_ENOMEM, "out of memory");
	}
	if (n)
		memcpy(copy, src, n);
	copy[n] = '\0';
	comp *c = calloc(1, sizeof *c);
	if (!c) {
		tmpl_free_one(t);
		return yz_fail(e, YZ_ENOMEM, "out of memory");
	}
	c->t = t;
	c->src = copy;
	c->n = n;
	c->e = e;
	c->lc_line = c->lc_col = 1;
	int r = compile(c);
	free(c);
	if (r < 0) {
		tmpl_free_one(t);
		return e ? e->code : YZ_EINVAL;
	}
	s->t[s->n++] = t;
	s->linked = 0;
	return YZ_OK;
}

/* ---------------------------------------------------------------------- */
/* Directory loading                                                       */

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static yz_status read_file(const char *fpath, char **out, size_t *outn, yz_err *e)
{
	FILE *f = fopen(fpath, "rb");
	if (!f)
		return yz_fail(e, YZ_EIO, "cannot open %s: %s", fpath, strerror(errno));
	struct stat sb;
	if (fstat(fileno(f), &sb) != 0) {
		fclose(f);
		return yz_fail(e, YZ_EIO, "cannot stat %s: %s", fpath, strerror(errno));
	}
	if ((size_t)sb.st_size > TMPL_MAX_SRC) {
		fclose(f);
		return yz_fail(e, YZ_ETOOBIG, "template %s is larger than %zu bytes", fpath,
		               TMPL_MAX_SRC);
	}
	size_t cap = (size_t)sb.st_size + 1;
	char *p = malloc(cap);
	if (!p) {
		fclose(f);
		return yz_fail(e, YZ_ENOMEM, "out of memory reading %s", fpath);
	}
	size_t n = fread(p, 1, cap, f);
	bool bad = ferror(f) || n > TMPL_MAX_SRC;
	fclose(f);
	if (bad) {
		free(p);
		return yz_fail(e, YZ_EIO, "cannot read %s", fpath);
	}
	*out = p;
	*outn = n;
	return YZ_OK;
}

static yz_status load_rec(tmpl_set *s, const char *root, const char *rel, int depth, yz_err *e)
{
	char dpath[4096];
	if ((size_t)snprintf(dpath, sizeof dpath, "%s%s%s", root, *rel ? "/" : "", rel) >=
	    sizeof dpath)
		return yz_fail(e, YZ_EINVAL, "template path too long under %s", root);
	if (depth > TMPL_DIR_DEPTH)
		return yz_fail(e, YZ_EINVAL, "template directories nested deeper than %d at %s",
		               TMPL_DIR_DEPTH, dpath);
	DIR *d = opendir(dpath);
	if (!d)
		return yz_fail(e, YZ_EIO, "cannot open directory %s: %s", dpath, strerror(errno));
	char **names = NULL;
	size_t nn = 0, cap = 0;
	yz_status st = YZ_OK;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (nn == cap) {
			size_t nc = cap ? cap * 2 : 16;
			char **p = realloc(names, nc * sizeof *p);
			if (!p) {
				st = yz_fail(e, YZ_ENOMEM, "out of memory");
				break;
			}
			names = p;
			cap = nc;
		}
		if (!(names[nn] = strdup(de->d_name))) {
			st = yz_fail(e, YZ_ENOMEM, "out of memory");
			break;
		}
		nn++;
	}
	closedir(d);
	if (st == YZ_OK && nn)
		qsort(names, nn, sizeof *names, str_cmp);
	for (size_t i = 0; i < nn && st == YZ_OK; i++) {
		char crel[1024], full[4096];
		if ((size_t)snprintf(crel, sizeof crel, "%s%s%s", rel, *rel ? "/" : "", names[i]) >=
		        sizeof crel ||
		    (size_t)snprintf(full, sizeof full, "%s/%s", dpath, names[i]) >= sizeof full) {
			st = yz_fail(e, YZ_EINVAL, "template path too long: %s", names[i]);
			break;
		}
		struct stat sb;
		if (stat(full, &sb) != 0) {
			st = yz_fail(e, YZ_EIO, "cannot stat %s: %s", full, strerror(errno));
			break;
		}
		if (S_ISDIR(sb.st_mode)) {
			st = load_rec(s, root, crel, depth + 1, e);
			continue;
		}
		size_t cl = strlen(crel);
		if (!S_ISREG(sb.st_mode) || cl <= 5 || strcmp(crel + cl - 5, ".html") != 0)
			continue;
		crel[cl - 5] = '\0';
		char *src = NULL;
		size_t n = 0;
		st = read_file(full, &src, &n, e);
		if (st != YZ_OK)
			break;
		st = tmpl_set_add(s, crel, src, n, e);
		free(src);
	}
	for (size_t i = 0; i < nn; i++)
		free(names[i]);
	free(names);
	return st;
}

yz_status tmpl_set_load_dir(tmpl_set *s, const char *dir, yz_err *e)
{
	if (!s || !dir)
		return yz_fail(e, YZ_EINVAL, "tmpl_set_load_dir: missing argument");
	return load_rec(s, dir, "", 0, e);
}

/* ---------------------------------------------------------------------- */
/* Messages                                                                */

static int msg_put(msgtab *m, const char *key, size_t klen, const char *val, size_t vlen)
{
	if (m->n * 2 >= m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 64;
		msgent *ns = calloc(cap, sizeof *ns);
		if (!ns)
			return -1;
		for (size_t i = 0; i < m->cap; i++) {
			if (!m->slots[i].key)
				continue;
			size_t j = m->slots[i].hash & (cap - 1);
			while (ns[j].key)
				j = (j + 1) & (cap - 1);
			ns[j] = m->slots[i];
		}
		free(m->slots);
		m->slots = ns;
		m->cap = cap;
	}
	uint32_t h = hash_bytes(key, klen);
	size_t j = h & (m->cap - 1);
	while (m->slots[j].key) {
		if (m->slots[j].hash == h && m->slots[j].klen == klen &&
		    memcmp(m->slots[j].key, key, klen) == 0)
			break;
		j = (j + 1) & (m->cap - 1);
	}
	char *v = arena_strndup(m->ar, val, vlen);
	if (!v)
		return -1;
	if (!m->slots[j].key) {
		char *k = arena_strndup(m->ar, key, klen);
		if (!k)
			return -1;
		m->slots[j].key = k;
		m->slots[j].klen = klen;
		m->slots[j].hash = h;
		m->n++;
	}
	m->slots[j].val = v;
	return 0;
}

static const char *msg_get(const msgtab *m, const char *key, size_t klen)
{
	if (!m || !m->cap)
		return NULL;
	uint32_t h = hash_bytes(key, klen);
	size_t j = h & (m->cap - 1);
	while (m->slots[j].key) {
		if (m->slots[j].hash == h && m->slots[j].klen == klen &&
		    memcmp(m->slots[j].key, key, klen) == 0)
			return m->slots[j].val;
		j = (j + 1) & (m->cap - 1);
	}
	return NULL;
}

static yz_status flatten(msgtab *m, json_t *obj, char *prefix, size_t plen, int depth, yz_err *e)
{
	if (depth > 16)
		return yz_fail(e, YZ_EINVAL, "messages for %s nested deeper than 16", m->lang);
	const char *k;
	size_t kl;
	json_t *v;
	json_object_keylen_foreach(obj, k, kl, v)
	{
		size_t nl = plen + (plen ? 1 : 0) + kl;
		if (nl >= TMPL_MAX_KEY)
			return yz_fail(e, YZ_EINVAL, "message key longer than %d in %s",
			               TMPL_MAX_KEY - 1, m->lang);
		if (plen)
			prefix[plen] = '.';
		memcpy(prefix + plen + (plen ? 1 : 0), k, kl);
		prefix[nl] = '\0';
		if (json_is_object(v)) {
			yz_status st = flatten(m, v, prefix, nl, depth + 1, e);
			if (st != YZ_OK)
				return st;
		} else if (json_is_string(v)) {
			if (msg_put(m, prefix, nl, json_string_value(v), json_string_length(v)) < 0)
				return yz_fail(e, YZ_ENOMEM, "out of memory");
		} else {
			return yz_fail(e, YZ_EINVAL, "message %s in %s is not a string", prefix,
			               m->lang);
		}
	}
	prefix[plen] = '\0';
	return YZ_OK;
}

static msgtab *lang_find(const tmpl_set *s, const char *lang)
{
	if (!lang)
		return NULL;
	for (size_t i = 0; i < s->nlang; i++)
		if (strcmp(s->langs[i]->lang, lang) == 0)
			return s->langs[i];
	return NULL;
}

yz_status tmpl_set_messages(tmpl_set *s, const char *lang, json_t *table, yz_err *e)
{
	if (!s || !lang || !*lang || !json_is_object(table))
		return yz_fail(e, YZ_EINVAL, "messages need a language and an object");
	msgtab *m = calloc(1, sizeof *m);
	if (!m || !(m->lang = strdup(lang)) || !(m->ar = arena_new(0))) {
		msgtab_free(m);
		return yz_fail(e, YZ_ENOMEM, "out of memory");
	}
	char prefix[TMPL_MAX_KEY];
	prefix[0] = '\0';
	yz_status st = flatten(m, table, prefix, 0, 0, e);
	if (st != YZ_OK) {
		msgtab_free(m);
		return st;
	}
	for (size_t i = 0; i < s->nlang; i++) {
		if (strcmp(s->langs[i]->lang, lang) == 0) {
			msgtab_free(s->langs[i]);
			s->langs[i] = m;
			return YZ_OK;
		}
	}
	if (s->nlang == s->caplang) {
		size_t cap = s->caplang ? s->caplang * 2 : 4;
		msgtab **p = realloc(s->langs, cap * sizeof *p);
		if (!p) {
			msgtab_free(m);
			return yz_fail(e, YZ_ENOMEM, "out of memory");
		}
		s->langs = p;
		s->caplang = cap;
	}
	s->langs[s->nlang++] = m;
	return YZ_OK;
}

static const char *message_n(const msgtab *lang, const msgtab *first, const char *key, size_t klen)
{
	const char *v = msg_get(lang, key, klen);
	if (!v && first != lang)
		v = msg_get(first, key, klen);
	return v;
}

const char *tmpl_message(const tmpl_set *s, const char *lang, const char *key)
{
	if (!s || !key)
		return key ? key : "";
	const char *v =
	    message_n(lang_find(s, lang), s->nlang ? s->langs[0] : NULL, key, strlen(key));
	return v ? v : key;
}

/* ---------------------------------------------------------------------- */
/* Link                                                                    */

static bool reach_slot(tmpl_set *s, tmpl *t, const char *name)
{
	if (t->mark == s->mark)
		return false;
	t->mark = s->mark;
	for (size_t i = 0; i < t->ncode; i++) {
		const insn *in = &t->code[i];
		if (in->op == OP_SLOT && strcmp(in->u.s.p, name) == 0)
			return true;
		if (in->op == OP_PARTIAL && in->target && reach_slot(s, in->target, name))
			return true;
	}
	return false;
}

yz_status tmpl_set_link(tmpl_set *s, yz_err *e)
{
	if (!s)
		return yz_fail(e, YZ_EINVAL, "tmpl_set_link: no set");
	s->linked = 0;
	free(s->sorted);
	s->sorted = NULL;
	if (s->n) {
		s->sorted = malloc(s->n * sizeof *s->sorted);
		if (!s->sorted)
			return yz_fail(e, YZ_ENOMEM, "out of memory");
		memcpy(s->sorted, s->t, s->n * sizeof *s->sorted);
		qsort(s->sorted, s->n, sizeof *s->sorted, name_cmp);
	}
	s->linked = 1; /* lets find() use the index; cleared again on failure */
	yz_status st = YZ_OK;
	for (size_t i = 0; i < s->n && st == YZ_OK; i++) {
		tmpl *t = s->t[i];
		t->parent = NULL;
		if (t->extends && !(t->parent = find(s, t->extends)))
			st = yz_fail(e, YZ_EINVAL, "%s:%u:%u: unknown layout '%s'", t->name,
			             t->ext_line, t->ext_col, t->extends);
		for (size_t j = 0; j < t->ncode && st == YZ_OK; j++) {
			insn *in = &t->code[j];
			if (in->op != OP_PARTIAL)
				continue;
			in->target = find(s, in->u.s.p);
			if (!in->target)
				st = yz_fail(e, YZ_EINVAL, "%s:%u:%u: unknown partial '%s'",
				             t->name, in->line, in->col, in->u.s.p);
			else if (in->target->extends)
				st = yz_fail(e, YZ_EINVAL,
				             "%s:%u:%u: partial '%s' extends a layout and cannot "
				             "be included",
				             t->name, in->line, in->col, in->u.s.p);
		}
	}
	for (size_t i = 0; i < s->n && st == YZ_OK; i++) {
		tmpl *t = s->t[i];
		int depth = 0;
		for (tmpl *p = t->parent; p && st == YZ_OK; p = p->parent)
			if (++depth > TMPL_MAX_DEPTH)
				st = yz_fail(e, YZ_EINVAL,
				             "%s: layouts extend each other in a cycle or deeper "
				             "than %d",
				             t->name, TMPL_MAX_DEPTH);
	}
	for (size_t i = 0; i < s->n && st == YZ_OK; i++) {
		tmpl *t = s->t[i];
		for (size_t b = 0; b < t->nblocks && st == YZ_OK && t->parent; b++) {
			bool found = false;
			for (tmpl *p = t->parent; p && !found; p = p->parent) {
				s->mark++;
				found = reach_slot(s, p, t->blocks[b].name);
			}
			if (!found)
				st = yz_fail(e, YZ_EINVAL,
				             "%s:%u:%u: block \"%s\" has no {{ slot }} in layout "
				             "'%s'",
				             t->name, t->blocks[b].line, t->blocks[b].col,
				             t->blocks[b].name, t->extends);
		}
	}
	if (st != YZ_OK)
		s->linked = 0;
	return st;
}

/* ---------------------------------------------------------------------- */
/* Render                                                                  */

enum vkind { V_NONE, V_JSON, V_INT, V_BOOL, V_STR };

typedef struct val {
	uint8_t k;
	json_t *j;
	int64_t i;
	const char *s;
	size_t n;
} val;

typedef struct frame {
	json_t *v;    /* the context: with value or each item (NULL: none) */
	json_t *coll; /* each: the array or object */
	void *iter;   /* each over an object */
	size_t i, n;
	bool each;
} frame;

typedef struct slotent {
	const char *name;
	const char *p;
	size_t n;
} slotent;

typedef struct rstate {
	const msgtab *lang, *first;
	buf *out;
	const slotent *slots;
	size_t nslots;
	int depth;
	int nframes;
	size_t steps; /* instructions left before the render is refused */
	yz_err *e;
	const char *top; /* name of the template asked for, for messages */
	frame frames[TMPL_MAX_FRAMES];
} rstate;

static json_t *descend(json_t *v, const pseg *sg)
{
	if (json_is_object(v))
		return json_object_getn(v, sg->s, sg->n);
	if (json_is_array(v) && sg->idx >= 0)
		return json_array_get(v, (size_t)sg->idx);
	return NULL;
}

static const frame *near_each(const rstate *st)
{
	for (int i = st->nframes - 1; i > 0; i--)
		if (st->frames[i].each)
			return &st->frames[i];
	return NULL;
}

static val resolve(const rstate *st, const path *p)
{
	val r = {0};
	json_t *v = NULL;
	const frame *f;
	size_t from = 1;
	switch (p->kind) {
	case P_DOT:
		v = st->frames[st->nframes - 1].v;
		break;
	case P_ROOT:
		v = st->frames[0].v;
		from = 0;
		break;
	case P_LOOKUP:
		for (int i = st->nframes - 1; i >= 0 && !v; i--)
			v = descend(st->frames[i].v, &p->seg[0]);
		break;
	default:
		if (!(f = near_each(st)))
			return r;
		switch (p->kind) {
		case P_INDEX:
		case P_NUMBER:
			r.k = V_INT;
			r.i = (int64_t)f->i + (p->kind == P_NUMBER);
			return r;
		case P_FIRST:
		case P_LAST:
			r.k = V_BOOL;
			r.i = p->kind == P_FIRST ? f->i == 0 : f->i + 1 == f->n;
			return r;
		default:
			if (f->iter) {
				r.k = V_STR;
				r.s = json_object_iter_key(f->iter);
				r.n = json_object_iter_key_len(f->iter);
			}
			return r;
		}
	}
	for (size_t i = from; i < p->nseg && v; i++)
		v = descend(v, &p->seg[i]);
	if (v) {
		r.k = V_JSON;
		r.j = v;
	}
	return r;
}

static bool truthy(val v)
{
	switch (v.k) {
	case V_INT:
	case V_BOOL:
		return v.i != 0;
	case V_STR:
		return v.n != 0;
	case V_JSON:
		switch (json_typeof(v.j)) {
		case JSON_OBJECT:
			return json_object_size(v.j) != 0;
		case JSON_ARRAY:
			return json_array_size(v.j) != 0;
		case JSON_STRING:
			return json_string_length(v.j) != 0;
		case JSON_INTEGER:
			return json_integer_value(v.j) != 0;
		case JSON_REAL:
			return json_real_value(v.j) != 0.0;
		case JSON_TRUE:
			return true;
		default:
			return false;
		}
	default:
		return false;
	}
}

static size_t fmt_real(double d, char *out, size_t cap)
{
	int n;
	if (d == 0.0) {
		n = snprintf(out, cap, "0");
	} else if (d == floor(d) && fabs(d) < 1e21) {
		n = snprintf(out, cap, "%.0f", d);
	} else {
		n = 0;
		for (int prec = 15; prec <= 17; prec++) {
			n = snprintf(out, cap, "%.*g", prec, d);
			if (strtod(out, NULL) == d)
				break;
		}
	}
	return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

/* The text of a scalar; objects, arrays, null and missing give none. */
static bool val_text(val v, char *tmp, size_t cap, const char **p, size_t *n)
{
	switch (v.k) {
	case V_INT:
		*n = fmt_int(v.i, tmp);
		*p = tmp;
		return true;
	case V_BOOL:
		*p = v.i ? "true" : "false";
		*n = strlen(*p);
		return true;
	case V_STR:
		*p = v.s;
		*n = v.n;
		return true;
	case V_JSON:
		switch (json_typeof(v.j)) {
		case JSON_STRING:
			*p = json_string_value(v.j);
			*n = json_string_length(v.j);
			return true;
		case JSON_INTEGER:
			*n = (size_t)snprintf(tmp, cap, "%" JSON_INTEGER_FORMAT,
			                      json_integer_value(v.j));
			*p = tmp;
			return true;
		case JSON_REAL:
			*n = fmt_real(json_real_value(v.j), tmp, cap);
			*p = tmp;
			return true;
		case JSON_TRUE:
			*p = "true";
			*n = 4;
			return true;
		case JSON_FALSE:
			*p = "false";
			*n = 5;
			return true;
		default:
			return false;
		}
	default:
		return false;
	}
}

static yz_status emit_text(buf *out, uint8_t esc, const char *p, size_t n)
{
	switch (esc) {
	case ESC_NONE:
		return buf_append(out, p, n);
	case ESC_URL_START:
		if (!url_scheme_ok(p, n))
			return buf_puts(out, "#unsafe-url");
		return tmpl_escape_html(out, p, n);
	case ESC_URL_PART:
		return escape_url_part(out, p, n);
	default:
		return tmpl_escape_html(out, p, n);
	}
}

static yz_status rfail(rstate *st, yz_status code, const tmpl *t, const insn *in)
{
	if (code == YZ_ETOOBIG)
		return yz_fail(st->e, code, "rendering %s: output exceeds %zu bytes (%s:%u:%u)",
		               st->top, st->out->max, t->name, in ? in->line : 0, in ? in->col : 0);
	if (code == YZ_ENOMEM)
		return yz_fail(st->e, code, "rendering %s: out of memory", st->top);
	return yz_fail(st->e, code, "rendering %s: failed at %s:%u:%u", st->top, t->name,
	               in ? in->line : 0, in ? in->col : 0);
}

static yz_status push(rstate *st, const tmpl *t, const insn *in, frame f)
{
	if (st->nframes >= TMPL_MAX_FRAMES)
		return yz_fail(st->e, YZ_EINTERNAL, "rendering %s: context stack full at %s:%u:%u",
		               st->top, t->name, in->line, in->col);
	st->frames[st->nframes++] = f;
	return YZ_OK;
}

/* Instructions a render may execute: generous for any page whose output
 * fits the buffer, yet a bound on loops and recursion that write nothing
 * (nested each over large arrays, partials calling themselves many times). */
static size_t step_budget(size_t max)
{
	size_t base = (size_t)1 << 20;
	return max > (SIZE_MAX - base) / 16 ? SIZE_MAX : base + 16 * max;
}

static yz_status run(rstate *st, const tmpl *t, uint32_t pc, uint32_t end)
{
	char tmp[48];
	while (pc < end) {
		const insn *in = &t->code[pc];
		if (st->steps-- == 0)
			return yz_fail(st->e, YZ_ETOOBIG,
			               "rendering %s: step limit reached at %s:%u:%u (a loop or "
			               "recursion that writes nothing?)",
			               st->top, t->name, in->line, in->col);
		yz_status r = YZ_OK;
		switch (in->op) {
		case OP_TEXT:
			r = buf_append(st->out, in->u.s.p, in->u.s.n);
			pc++;
			break;
		case OP_VALUE: {
			const char *p;
			size_t n;
			if (val_text(resolve(st, in->u.path), tmp, sizeof tmp, &p, &n))
				r = emit_text(st->out, in->esc, p, n);
			pc++;
			break;
		}
		case OP_MSG_LIT:
		case OP_MSG_PATH: {
			const char *key = in->u.s.p, *m;
			size_t kn = in->u.s.n;
			if (in->op == OP_MSG_PATH) {
				val v = resolve(st, in->u.path);
				key = NULL;
				if (v.k == V_STR) {
					key = v.s;
					kn = v.n;
				} else if (v.k == V_JSON && json_is_string(v.j)) {
					key = json_string_value(v.j);
					kn = json_string_length(v.j);
				}
			}
			if (key) {
				m = message_n(st->lang, st->first, key, kn);
				r = m ? emit_text(st->out, in->esc, m, strlen(m))
				      : emit_text(st->out, in->esc, key, kn);
			}
			pc++;
			break;
		}
		case OP_IF:
		case OP_UNLESS:
			pc = truthy(resolve(st, in->u.path)) == (in->op == OP_IF) ? pc + 1
			                                                          : in->jump;
			break;
		case OP_JUMP:
			pc = in->jump;
			break;
		case OP_WITH: {
			val v = resolve(st, in->u.path);
			if (!truthy(v)) {
				pc = in->jump;
				break;
			}
			frame f = {.v = v.k == V_JSON ? v.j : NULL};
			if (push(st, t, in, f) != YZ_OK)
				return YZ_EINTERNAL;
			pc++;
			break;
		}
		case OP_WITH_END:
			st->nframes--;
			pc++;
			break;
		case OP_EACH: {
			val v = resolve(st, in->u.path);
			frame f = {.each = true};
			if (v.k == V_JSON && json_is_array(v.j) && json_array_size(v.j)) {
				f.coll = v.j;
				f.n = json_array_size(v.j);
				f.v = json_array_get(v.j, 0);
			} else if (v.k == V_JSON && json_is_object(v.j) && json_object_size(v.j)) {
				f.coll = v.j;
				f.n = json_object_size(v.j);
				f.iter = json_object_iter(v.j);
				f.v = json_object_iter_value(f.iter);
			} else {
				pc = in->jump;
				break;
			}
			if (push(st, t, in, f) != YZ_OK)
				return YZ_EINTERNAL;
			pc++;
			break;
		}
		case OP_EACH_NEXT: {
			frame *f = &st->frames[st->nframes - 1];
			if (++f->i < f->n) {
				if (f->iter) {
					f->iter = json_object_iter_next(f->coll, f->iter);
					f->v = f->iter ? json_object_iter_value(f->iter) : NULL;
					if (!f->iter)
						f->n =
						    f->i; /* cannot happen on an unchanged object */
				} else {
					f->v = json_array_get(f->coll, f->i);
				}
			}
			if (f->i < f->n) {
				pc = in->jump;
			} else {
				st->nframes--;
				pc++;
			}
			break;
		}
		case OP_PARTIAL:
			if (st->depth >= TMPL_MAX_DEPTH)
				return yz_fail(st->e, YZ_ETOOBIG,
				               "rendering %s: partials nested deeper than %d at "
				               "%s:%u:%u",
				               st->top, TMPL_MAX_DEPTH, t->name, in->line, in->col);
			st->depth++;
			r = run(st, in->target, 0, (uint32_t)in->target->ncode);
			st->depth--;
			if (r != YZ_OK)
				return r; /* already described */
			pc++;
			break;
		case OP_SLOT:
			for (size_t i = 0; i < st->nslots; i++)
				if (strcmp(st->slots[i].name, in->u.s.p) == 0) {
					r = buf_append(st->out, st->slots[i].p, st->slots[i].n);
					break;
				}
			pc++;
			break;
		default:
			return rfail(st, YZ_EINTERNAL, t, in);
		}
		if (r != YZ_OK)
			return rfail(st, r, t, in);
	}
	return YZ_OK;
}

/* Render a template that extends: each level's blocks are rendered with the
 * slots of the level below, then override same-named entries; the last
 * layout (one that extends nothing) is rendered into out with them. */
static yz_status run_layouts(rstate *st, const tmpl *page)
{
	size_t total = 0;
	const tmpl *t;
	for (t = page; t->parent; t = t->parent)
		total += t->nblocks;
	const tmpl *root = t;
	buf lv[TMPL_MAX_DEPTH + 1];
	slotent *map = calloc(2 * total + 1, sizeof *map);
	if (!map)
		return yz_fail(st->e, YZ_ENOMEM, "rendering %s: out of memory", page->name);
	slotent *cur = map, *next = map + total;
	size_t ncur = 0;
	buf *out = st->out;
	size_t room = out->max - out->len;
	yz_status r = YZ_OK;
	int nlv = 0;
	for (t = page; t->parent && r == YZ_OK; t = t->parent) {
		buf *b = &lv[nlv++];
		buf_init(b, room);
		size_t *offs = calloc(t->nblocks + 1, 2 * sizeof *offs);
		if (!offs) {
			r = yz_fail(st->e, YZ_ENOMEM, "rendering %s: out of memory", page->name);
			break;
		}
		st->out = b;
		st->slots = cur;
		st->nslots = ncur;
		for (size_t i = 0; i < t->nblocks && r == YZ_OK; i++) {
			st->nframes = 1;
			st->depth = 0;
			offs[2 * i] = b->len;
			r = run(st, t, t->blocks[i].start, t->blocks[i].end);
			offs[2 * i + 1] = b->len - offs[2 * i];
		}
		if (r == YZ_OK) {
			size_t nn = 0;
			for (size_t i = 0; i < t->nblocks; i++)
				next[nn++] =
				    (slotent){t->blocks[i].name, b->p ? b->p + offs[2 * i] : "",
				              offs[2 * i + 1]};
			for (size_t i = 0; i < ncur; i++) {
				bool over = false;
				for (size_t j = 0; j < t->nblocks && !over; j++)
					over = strcmp(cur[i].name, t->blocks[j].name) == 0;
				if (!over)
					next[nn++] = cur[i];
			}
			slotent *sw = cur;
			cur = next;
			next = sw;
			ncur = nn;
		}
		free(offs);
	}
	st->out = out;
	if (r == YZ_OK) {
		st->slots = cur;
		st->nslots = ncur;
		st->nframes = 1;
		st->depth = 0;
		r = run(st, root, 0, (uint32_t)root->ncode);
	}
	for (int i = 0; i < nlv; i++)
		buf_free(&lv[i]);
	free(map);
	return r;
}

yz_status tmpl_render(const tmpl_set *s, const char *name, json_t *data, const char *lang, buf *out,
                      yz_err *e)
{
	if (!s || !name || !out)
		return yz_fail(e, YZ_EINVAL, "tmpl_render: missing argument");
	if (!s->linked)
		return yz_fail(e, YZ_EINVAL, "tmpl_render: template set is not linked");
	const tmpl *t = find(s, name);
	if (!t)
		return yz_fail(e, YZ_EINVAL, "no template named '%.100s'", name);
	/* about 14 KiB of context stack: on the caller's stack, no malloc */
	rstate rs;
	rstate *st = &rs;
	st->first = s->nlang ? s->langs[0] : NULL;
	st->lang = lang_find(s, lang);
	if (!st->lang)
		st->lang = st->first;
	st->out = out;
	st->slots = NULL;
	st->nslots = 0;
	st->depth = 0;
	st->e = e;
	st->top = t->name;
	st->frames[0] = (frame){.v = data};
	st->nframes = 1;
	st->steps = step_budget(out->max);
	size_t start = out->len;
	yz_status r = t->parent ? run_layouts(st, t) : run(st, t, 0, (uint32_t)t->ncode);
	if (r != YZ_OK && out->len > start) {
		out->len = start;
		out->p[start] = '\0';
	}
	return r;
}
