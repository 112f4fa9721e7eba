/*
 * jx.h — helpers over jansson: parsing outside input with limits and
 * located errors, declarative validation of objects with every fault
 * reported per field, and typed getters.
 *
 * The same validation serves the JSON API and HTML forms: a page handler
 * turns its form into a json object and calls the same domain function, which
 * validates with jx_validate and reports field errors through yz_err.
 */
#ifndef YZ_CORE_JX_H
#define YZ_CORE_JX_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/status.h"

#define JX_MAX_DEPTH 32

/* Parse a JSON document (any value) of n bytes. Fails with YZ_EINVAL and a
 * message naming line and column for malformed input, or when nesting
 * exceeds max_depth (0 = JX_MAX_DEPTH). *out receives a new reference. */
YZ_MUST_USE yz_status jx_parse(const char *p, size_t n, int max_depth, json_t **out, yz_err *e);
/* Like jx_parse but the document must be an object. */
YZ_MUST_USE yz_status jx_parse_object(const char *p, size_t n, json_t **out, yz_err *e);

typedef enum jx_type {
	JX_STRING,
	JX_INT,
	JX_BOOL,
	JX_OBJECT,
	JX_ARRAY,
	JX_ANY,
} jx_type;

/* One allowed member of an object. For strings min/max bound the length in
 * characters (code points); for integers the value; for arrays the element
 * count. min = max = 0 means unbounded. `check` is an optional extra rule:
 * return false and fill rule/expected to reject. */
typedef struct jx_field {
	const char *name;
	jx_type type;
	bool required;
	int64_t min, max;
	bool (*check)(json_t *value, const char **rule, const char **expected);
} jx_field;

/* Validate obj against fields (terminated by an entry with name == NULL):
 * unknown members, missing required members, wrong types, lengths and ranges
 * out of bounds, strings that are not valid UTF-8. Every fault is added to e
 * as a field error; returns YZ_EINVAL if there was any. */
YZ_MUST_USE yz_status jx_validate(json_t *obj, const jx_field *fields, yz_err *e);

/* Typed getters that tolerate absence: return def when the member is missing
 * or has another type. */
const char *jx_str(const json_t *obj, const char *key, const char *def);
int64_t jx_int(const json_t *obj, const char *key, int64_t def);
bool jx_bool(const json_t *obj, const char *key, bool def);

/* Compact serialisation appended to b. */
YZ_MUST_USE yz_status jx_dump(const json_t *v, buf *b);

/* Build an object with printf-like convenience: jx_set_str(o, "k", "v") etc.
 * These steal nothing and ignore NULL strings (the member is set to null). */
void jx_set_str(json_t *o, const char *key, const char *v);
void jx_set_int(json_t *o, const char *key, int64_t v);
void jx_set_bool(json_t *o, const char *key, bool v);
/* o[dst] = "<prefix>.<o[src] or def>": the i18n key that names a coded value
 * (status, kind, …) for a template's {{ t }}. */
void jx_set_label(json_t *o, const char *dst, const char *prefix, const char *src, const char *def);

/* The yz_err as a JSON value {"code","message","errors":[{field,rule,expected,got}]} */
json_t *jx_from_err(const yz_err *e);

#endif
