/*
 * flow_form.c — forms declared in definitions (fields, types, rules) and the
 * decision rules over an instance's data.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/jx.h"
#include "core/slice.h"
#include "flow/flow_int.h"

static const char *const field_types[] = {"string",  "text", "integer", "number",
                                          "boolean", "date", "enum",    NULL};

static bool type_known(const char *t)
{
	for (int i = 0; field_types[i]; i++)
		if (!strcmp(field_types[i], t))
			return true;
	return false;
}

yz_status flow_form_check_def(json_t *fields, const char *path, yz_err *e)
{
	int before = e ? e->nfield : 0;
	if (!json_is_array(fields) || json_array_size(fields) > 100) {
		yz_field(e, path, "type", "an array of up to 100 fields", NULL);
		return YZ_EINVAL;
	}
	size_t i;
	json_t *f;
	json_array_foreach (fields, i, f) {
		char p[200];
		snprintf(p, sizeof p, "%s[%zu]", path, i);
		static const char *const keys[] = {"name", "label", "type",    "required",
		                                   "min",  "max",   "options", NULL};
		if (!json_is_object(f)) {
			yz_field(e, p, "type", "{name, type, ...}", NULL);
			continue;
		}
		const char *k;
		json_t *v;
		json_object_foreach (f, k, v) {
			bool ok = false;
			for (int x = 0; keys[x] && !ok; x++)
				ok = !strcmp(keys[x], k);
			if (!ok) {
				char kp[240];
				snprintf(kp, sizeof kp, "%s.%s", p, k);
				yz_field(e, kp, "unknown-field",
				         "name, label, type, required, min, max, options", NULL);
			}
		}
		const char *name = jx_str(f, "name", NULL);
		if (!name || !*name || strlen(name) > 48)
			yz_field(e, p, "name", "a field name of 1..48 characters", NULL);
		for (size_t j = 0; name && j < i; j++)
			if (!strcmp(jx_str(json_array_get(fields, j), "name", ""), name))
				yz_field(e, p, "unique", "a name no other field has", name);
		const char *type = jx_str(f, "type", "string");
		if (!type_known(type))
			yz_field(e, p, "type",
			         "string, text, integer, number, boolean, date or enum", type);
		if (!strcmp(type, "enum") && (!json_is_array(json_object_get(f, "options")) ||
		                              json_array_size(json_object_get(f, "options")) < 1))
			yz_field(e, p, "options", "an enum field lists its options", NULL);
	}
	return e && e->nfield > before ? YZ_EINVAL : YZ_OK;
}

static void field_fault(yz_err *e, const char *name, const char *rule, const char *expected,
                        const char *got)
{
	char p[80];
	snprintf(p, sizeof p, "data.%s", name);
	yz_field(e, p, rule, expected, got);
}

yz_status flow_form_validate(json_t *fields, json_t *data, bool partial, yz_err *e)
{
	int before = e ? e->nfield : 0;
	if (data && !json_is_object(data))
		return yz_field(e, "data", "type", "an object", NULL);
	/* members the form does not know */
	const char *k;
	json_t *v;
	json_object_foreach (data, k, v) {
		bool known = false;
		size_t i;
		json_t *f;
		json_array_foreach (fields, i, f)
			if (!strcmp(jx_str(f, "name", ""), k))
				known = true;
		if (!known)
			field_fault(e, k, "unknown-field", "a field of the form", NULL);
	}
	size_t i;
	json_t *f;
	json_array_foreach (fields, i, f) {
		const char *name = jx_str(f, "name", "");
		const char *type = jx_str(f, "type", "string");
		json_t *val = data ? json_object_get(data, name) : NULL;
		bool empty = !val || json_is_null(val) ||
		             (json_is_string(val) && json_string_length(val) == 0);
		if (empty) {
			if (jx_bool(f, "required", false) && !partial)
				field_fault(e, name, "required", type, NULL);
			continue;
		}
		char exp[96], got[64];
		json_t *min = json_object_get(f, "min"), *max = json_object_get(f, "max");
		if (!strcmp(type, "string") || !strcmp(type, "text")) {
			if (!json_is_string(val)) {
				field_fault(e, name, "type", "text", NULL);
				continue;
			}
			const char *s = json_string_value(val);
			size_t n = json_string_length(val);
			int64_t chars = (int64_t)utf8_len(s, n);
			int64_t lo = json_is_integer(min) ? json_integer_value(min) : 0;
			int64_t hi = json_is_integer(max) ? json_integer_value(max)
			                                  : (!strcmp(type, "string") ? 200 : 10000);
			if (!utf8_valid(s, n)) {
				field_fault(e, name, "utf8", "valid UTF-8 text", NULL);
			} else if (chars < lo || chars > hi) {
				snprintf(exp, sizeof exp, "%lld..%lld characters", (long long)lo,
				         (long long)hi);
				snprintf(got, sizeof got, "%lld characters", (long long)chars);
				field_fault(e, name, chars < lo ? "min-length" : "max-length", exp,
				            got);
			}
		} else if (!strcmp(type, "integer") || !strcmp(type, "number")) {
			bool isint = !strcmp(type, "integer");
			if (isint ? !json_is_integer(val) : !json_is_number(val)) {
				field_fault(e, name, "type", isint ? "a whole number" : "a number",
				            NULL);
				continue;
			}
			double x = json_number_value(val);
			if ((json_is_number(min) && x < json_number_value(min)) ||
			    (json_is_number(max) && x > json_number_value(max))) {
				snprintf(exp, sizeof exp, "%g..%g",
				         json_is_number(min) ? json_number_value(min) : -INFINITY,
				         json_is_number(max) ? json_number_value(max) : INFINITY);
				snprintf(got, sizeof got, "%g", x);
				field_fault(e, name, "range", exp, got);
			}
		} else if (!strcmp(type, "boolean")) {
			if (!json_is_boolean(val))
				field_fault(e, name, "type", "true or false", NULL);
		} else if (!strcmp(type, "date")) {
			int64_t ms;
			if (!json_is_string(val) || json_string_length(val) != 10 ||
			    clock_parse_iso(json_string_value(val), &ms) != YZ_OK)
				field_fault(e, name, "date", "a date YYYY-MM-DD",
				            json_is_string(val) ? json_string_value(val) : NULL);
		} else if (!strcmp(type, "enum")) {
			bool ok = false;
			size_t j;
			json_t *o;
			json_array_foreach (json_object_get(f, "options"), j, o)
				if (json_equal(o, val))
					ok = true;
			if (!ok)
				field_fault(e, name, "enum", "one of the listed options",
				            json_is_string(val) ? json_string_value(val) : NULL);
		}
	}
	if (e && e->nfield > before) {
		if (!strcmp(e->msg, "invalid input") || !e->msg[0])
			yz_strlcpy(e->msg, "the form has errors", sizeof e->msg);
		return YZ_EINVAL;
	}
	return YZ_OK;
}

/* ---- decision rules ---- */

static const char *const ops[] = {"eq", "ne", "gt", "ge", "lt", "le", "in", "exists", NULL};

yz_status flow_rule_check(json_t *rule, const char *path, yz_err *e)
{
	if (!json_is_object(rule))
		return yz_field(e, path, "type", "a rule object", NULL);
	json_t *all = json_object_get(rule, "all"), *any = json_object_get(rule, "any"),
	       *not = json_object_get(rule, "not");
	if (all || any) {
		json_t *list = all ? all : any;
		if (!json_is_array(list) || json_array_size(list) < 1 ||
		    json_object_size(rule) != 1)
			return yz_field(e, path, "rule", "{\"all\"|\"any\": [rules]}", NULL);
		size_t i;
		json_t *r;
		yz_status st = YZ_OK;
		json_array_foreach (list, i, r) {
			char p[240];
			snprintf(p, sizeof p, "%s.%s[%zu]", path, all ? "all" : "any", i);
			if (flow_rule_check(r, p, e) != YZ_OK)
				st = YZ_EINVAL;
		}
		return st;
	}
	if (not ) {
		char p[240];
		snprintf(p, sizeof p, "%s.not", path);
		if (json_object_size(rule) != 1)
			return yz_field(e, path, "rule", "{\"not\": rule}", NULL);
		return flow_rule_check(not, p, e);
	}
	const char *field = jx_str(rule, "field", NULL), *op = jx_str(rule, "op", "eq");
	bool known = false;
	for (int i = 0; ops[i] && !known; i++)
		known = !strcmp(ops[i], op);
	if (!field || !known)
		return yz_field(e, path, "rule",
		                "{field, op: eq|ne|gt|ge|lt|le|in|exists, value} or all/any/not",
		                op);
	if (strcmp(op, "exists") != 0 && !json_object_get(rule, "value"))
		return yz_field(e, path, "rule", "a value to compare with", NULL);
	if (!strcmp(op, "in") && !json_is_array(json_object_get(rule, "value")))
		return yz_field(e, path, "rule", "an array of values for op in", NULL);
	return YZ_OK;
}

static int compare(json_t *a, json_t *b, bool *ok)
{
	*ok = true;
	if (json_is_number(a) && json_is_number(b)) {
		double x = json_number_value(a), y = json_number_value(b);
		return x < y ? -1 : x > y;
	}
	if (json_is_string(a) && json_is_string(b))
		return strcmp(json_string_value(a), json_string_value(b));
	*ok = false;
	return 0;
}

bool flow_rule_matches(json_t *rule, json_t *data)
{
	json_t *list;
	if ((list = json_object_get(rule, "all")) != NULL) {
		size_t i;
		json_t *r;
		json_array_foreach (list, i, r)
			if (!flow_rule_matches(r, data))
				return false;
		return true;
	}
	if ((list = json_object_get(rule, "any")) != NULL) {
		size_t i;
		json_t *r;
		json_array_foreach (list, i, r)
			if (flow_rule_matches(r, data))
				return true;
		return false;
	}
	if ((list = json_object_get(rule, "not")) != NULL)
		return !flow_rule_matches(list, data);
	json_t *v = json_object_get(data, jx_str(rule, "field", ""));
	json_t *want = json_object_get(rule, "value");
	const char *op = jx_str(rule, "op", "eq");
	if (!strcmp(op, "exists"))
		return v && !json_is_null(v);
	if (!v)
		return false;
	if (!strcmp(op, "in")) {
		size_t i;
		json_t *x;
		json_array_foreach (want, i, x)
			if (json_equal(x, v))
				return true;
		return false;
	}
	bool equal = json_equal(v, want) || (json_is_number(v) && json_is_number(want) &&
	                                     json_number_value(v) == json_number_value(want));
	if (!strcmp(op, "eq"))
		return equal;
	if (!strcmp(op, "ne"))
		return !equal;
	bool ok;
	int c = compare(v, want, &ok);
	if (!ok)
		return false;
	if (!strcmp(op, "gt"))
		return c > 0;
	if (!strcmp(op, "ge"))
		return c >= 0;
	if (!strcmp(op, "lt"))
		return c < 0;
	return c <= 0;
}
