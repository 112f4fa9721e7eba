#include "core/jx.h"

#include <stdio.h>
#include <string.h>

#include "core/slice.h"

/* Depth of nesting outside strings; returns > max as soon as it is exceeded. */
static int scan_depth(const char *p, size_t n, int max, size_t *where)
{
	int depth = 0;
	bool in_str = false;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = false;
			continue;
		}
		if (c == '"') {
			in_str = true;
		} else if (c == '[' || c == '{') {
			if (++depth > max) {
				*where = i;
				return depth;
			}
		} else if (c == ']' || c == '}') {
			depth--;
		}
	}
	return depth;
}

static void line_col(const char *p, size_t off, int *line, int *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off; i++) {
		if (p[i] == '\n') {
			(*line)++;
			*col = 1;
		} else if (((unsigned char)p[i] & 0xC0) != 0x80) {
			(*col)++;
		}
	}
}

yz_status jx_parse(const char *p, size_t n, int max_depth, json_t **out, yz_err *e)
{
	*out = NULL;
	if (max_depth <= 0)
		max_depth = JX_MAX_DEPTH;
	size_t where = 0;
	if (scan_depth(p, n, max_depth, &where) > max_depth) {
		int line, col;
		line_col(p, where, &line, &col);
		yz_fail(e, YZ_EINVAL, "JSON nested deeper than %d levels at line %d, column %d",
		        max_depth, line, col);
		return YZ_EINVAL;
	}
	json_error_t je;
	json_t *v = json_loadb(p, n, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
	if (!v) {
		yz_fail(e, YZ_EINVAL, "malformed JSON at line %d, column %d: %s", je.line,
		        je.column, je.text);
		return YZ_EINVAL;
	}
	*out = v;
	return YZ_OK;
}

yz_status jx_parse_object(const char *p, size_t n, json_t **out, yz_err *e)
{
	yz_status s = jx_parse(p, n, 0, out, e);
	if (s != YZ_OK)
		return s;
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return yz_fail(e, YZ_EINVAL, "the request body must be a JSON object");
	}
	return YZ_OK;
}

static const char *type_name(jx_type t)
{
	switch (t) {
	case JX_STRING:
		return "string";
	case JX_INT:
		return "integer";
	case JX_BOOL:
		return "boolean";
	case JX_OBJECT:
		return "object";
	case JX_ARRAY:
		return "array";
	default:
		return "any";
	}
}

static const char *json_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "object";
	case JSON_ARRAY:
		return "array";
	case JSON_STRING:
		return "string";
	case JSON_INTEGER:
		return "integer";
	case JSON_REAL:
		return "number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "boolean";
	default:
		return "null";
	}
}

static bool type_ok(jx_type t, const json_t *v)
{
	switch (t) {
	case JX_STRING:
		return json_is_string(v);
	case JX_INT:
		return json_is_integer(v);
	case JX_BOOL:
		return json_is_boolean(v);
	case JX_OBJECT:
		return json_is_object(v);
	case JX_ARRAY:
		return json_is_array(v);
	default:
		return true;
	}
}

static void range_text(char *out, size_t cap, int64_t min, int64_t max, const char *unit)
{
	if (max > 0)
		snprintf(out, cap, "%lld..%lld%s", (long long)min, (long long)max, unit);
	else
		snprintf(out, cap, ">= %lld%s", (long long)min, unit);
}

yz_status jx_validate(json_t *obj, const jx_field *fields, yz_err *e)
{
	int before = e ? e->nfield : 0;
	bool bad = false;
	if (!json_is_object(obj))
		return yz_fail(e, YZ_EINVAL, "expected a JSON object");
	const char *key;
	json_t *val;
	json_object_foreach (obj, key, val) {
		const jx_field *f = fields;
		while (f->name && strcmp(f->name, key) != 0)
			f++;
		if (!f->name) {
			yz_field(e, key, "unknown-field", "no such field", NULL);
			bad = true;
		}
	}
	for (const jx_field *f = fields; f->name; f++) {
		json_t *v = json_object_get(obj, f->name);
		char exp[128], got[128];
		if (!v || json_is_null(v)) {
			if (f->required) {
				yz_field(e, f->name, "required", type_name(f->type), NULL);
				bad = true;
			}
			continue;
		}
		if (!type_ok(f->type, v)) {
			yz_field(e, f->name, "type", type_name(f->type), json_type_name(v));
			bad = true;
			continue;
		}
		if (f->type == JX_STRING) {
			const char *s = json_string_value(v);
			size_t n = json_string_length(v);
			if (!utf8_valid(s, n)) {
				yz_field(e, f->name, "utf8", "valid UTF-8 text", NULL);
				bad = true;
				continue;
			}
			int64_t chars = (int64_t)utf8_len(s, n);
			if (chars == 0 && f->required) {
				/* an empty form field is a missing answer, not a short one */
				yz_field(e, f->name, "required", type_name(f->type), NULL);
				bad = true;
				continue;
			}
			if ((f->min && chars < f->min) || (f->max && chars > f->max)) {
				range_text(exp, sizeof exp, f->min, f->max, " characters");
				snprintf(got, sizeof got, "%lld characters", (long long)chars);
				yz_field(e, f->name,
				         f->min && chars < f->min ? "min-length" : "max-length",
				         exp, got);
				bad = true;
				continue;
			}
		} else if (f->type == JX_INT && (f->min || f->max)) {
			int64_t x = json_integer_value(v);
			if (x < f->min || (f->max && x > f->max)) {
				range_text(exp, sizeof exp, f->min, f->max, "");
				snprintf(got, sizeof got, "%lld", (long long)x);
				yz_field(e, f->name, "range", exp, got);
				bad = true;
				continue;
			}
		} else if (f->type == JX_ARRAY && (f->min || f->max)) {
			int64_t c = (int64_t)json_array_size(v);
			if (c < f->min || (f->max && c > f->max)) {
				range_text(exp, sizeof exp, f->min, f->max, " items");
				snprintf(got, sizeof got, "%lld items", (long long)c);
				yz_field(e, f->name, "count", exp, got);
				bad = true;
				continue;
			}
		}
		if (f->check) {
			const char *rule = "format", *expected = NULL;
			if (!f->check(v, &rule, &expected)) {
				yz_field(e, f->name, rule, expected,
				         json_is_string(v) ? json_string_value(v) : NULL);
				bad = true;
			}
		}
	}
	if (bad) {
		if (e && e->nfield > before && !strcmp(e->msg, "invalid input"))
			yz_strlcpy(e->msg, "some fields are not valid", sizeof e->msg);
		return YZ_EINVAL;
	}
	return YZ_OK;
}

const char *jx_str(const json_t *obj, const char *key, const char *def)
{
	json_t *v = json_object_get(obj, key);
	return json_is_string(v) ? json_string_value(v) : def;
}

int64_t jx_int(const json_t *obj, const char *key, int64_t def)
{
	json_t *v = json_object_get(obj, key);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : def;
}

bool jx_bool(const json_t *obj, const char *key, bool def)
{
	json_t *v = json_object_get(obj, key);
	return json_is_boolean(v) ? json_is_true(v) : def;
}

static int dump_cb(const char *p, size_t n, void *data)
{
	return buf_append(data, p, n) == YZ_OK ? 0 : -1;
}

yz_status jx_dump(const json_t *v, buf *b)
{
	if (json_dump_callback(v, dump_cb, b, JSON_COMPACT | JSON_ENCODE_ANY) != 0)
		return YZ_ETOOBIG;
	return YZ_OK;
}

void jx_set_str(json_t *o, const char *key, const char *v)
{
	json_object_set_new(o, key, v ? json_string(v) : json_null());
}

void jx_set_label(json_t *o, const char *dst, const char *prefix, const char *src, const char *def)
{
	char key[96];
	snprintf(key, sizeof key, "%s.%s", prefix, jx_str(o, src, def));
	jx_set_str(o, dst, key);
}

void jx_set_int(json_t *o, const char *key, int64_t v)
{
	json_object_set_new(o, key, json_integer((json_int_t)v));
}

void jx_set_bool(json_t *o, const char *key, bool v)
{
	json_object_set_new(o, key, json_boolean(v));
}

json_t *jx_from_err(const yz_err *e)
{
	json_t *o = json_object();
	jx_set_str(o, "code", yz_status_name(e->code));
	jx_set_str(o, "message", e->msg);
	if (e->nfield) {
		json_t *arr = json_array();
		int n = e->nfield < YZ_ERR_MAX_FIELDS ? e->nfield : YZ_ERR_MAX_FIELDS;
		for (int i = 0; i < n; i++) {
			const yz_field_err *f = &e->fields[i];
			json_t *x = json_object();
			jx_set_str(x, "field", f->field);
			jx_set_str(x, "rule", f->rule);
			if (f->expected[0])
				jx_set_str(x, "expected", f->expected);
			if (f->got[0])
				jx_set_str(x, "got", f->got);
			json_array_append_new(arr, x);
		}
		json_object_set_new(o, "errors", arr);
	}
	return o;
}
