/*
 * tmpl.h — HTML templates with context-aware automatic escaping.
 *
 * A template set is compiled once at start from a directory (every *.html
 * file; the name is its path relative to the directory without ".html", e.g.
 * "pages/home", "layouts/base", "partials/header") and then rendered by many
 * threads at once: a compiled set is immutable.
 *
 * Syntax (inside {{ }}; whitespace after {{ and before }} is allowed):
 *   {{ a.b.c }}            value, escaped for where it stands (see below)
 *   {{ raw a.b }}          value inserted as is: the only way to skip escaping
 *   {{ t "msg.key" }}      message for the render language; {{ t a.b }} takes
 *                          the key from data. Missing keys render the key.
 *   {{# if a }} … {{ else }} … {{/ if }}
 *   {{# unless a }} … {{/ unless }}
 *   {{# each a }} … {{ else }} … {{/ each }}  arrays (and objects: values);
 *                          inside: `.` is the item, `@index` (0-based),
 *                          `@number` (1-based), `@first`, `@last`, `@key`
 *   {{# with a }} … {{/ with }}
 *   {{> partials/name }}   render another template with the current context
 *   {{ extends "layouts/base" }}  must come first; the template then consists
 *                          of {{# block "name" }} … {{/ block }} sections
 *   {{ slot "name" }}      in a layout: the rendered block of that name (or
 *                          nothing when the page did not define it)
 *   {{! comment }}
 * Names are looked up in the current context, then outward through the
 * enclosing contexts (each/with), then the root; `..` is not supported;
 * `.` is the current context itself; `@root.x` the root.
 * Truthiness: missing, null, false, 0, "", [] and {} are false.
 *
 * Escaping contexts, decided at compile time by following the HTML around
 * each value:
 *   - element text, and quoted attribute values: HTML-escaped (& < > " ').
 *   - URL attributes (href, src, action, formaction, poster, cite, srcset is
 *     refused): when the value starts the attribute, only http:, https:,
 *     mailto:, tel: and scheme-less URLs pass (anything else becomes
 *     "#unsafe-url"), then HTML-escaped; later in the attribute (e.g. after
 *     "?q=") the value is percent-encoded as a URL component.
 *   - compile errors (the template set does not load): a value inside a tag
 *     outside a quoted attribute value, in an unquoted attribute value, in an
 *     event-handler (on*) or style attribute, inside <script>, <style> or an
 *     HTML comment; unbalanced or mismatched sections; unknown partials or
 *     layouts; a block outside an extending template. `raw` is allowed in
 *     element text only.
 * Numbers render in decimal, true/false as "true"/"false", null and missing
 * as nothing; objects and arrays as nothing.
 *
 * Limits: a template ≤ 1 MiB, nesting ≤ 32 sections, partial/layout depth ≤ 8,
 * output bounded by the caller's buf maximum (YZ_ETOOBIG).
 *
 * Details pinned by the implementation:
 *   - {{!-- … --}} is a comment that may contain "}}". A numeric name part
 *     indexes an array (items.0.name). @key is empty for arrays.
 *   - URL attributes also include data, background, longdesc, manifest, ping,
 *     xlink:href, codebase, icon, usemap, profile, archive, classid; srcdoc
 *     and imagesrcset refuse values like srcset. A value directly after "<"
 *     is a value inside a tag.
 *   - {{> partial }} and {{ slot }} stand only in element text (or <title>/
 *     <textarea> text); a template and each block must end in element text.
 *   - Sections do not change the tracked context: every branch of a section
 *     must end in the context where the others end (an empty or missing
 *     {{ else }} ends where the section opened), and an each body must end
 *     where it starts. A branch may end inside or after an attribute name
 *     (<input {{#if c}}checked{{/if}}>) if the text after the section starts
 *     with white space, "/" or ">".
 *   - Layouts may extend layouts (≤ 8 levels): the blocks of each level are
 *     rendered with the slots of the level below and replace blocks of the
 *     same name. Link fails when a block has no {{ slot }} of its name
 *     anywhere in its layout chain (partials included), on extends cycles
 *     and when a partial names a template that extends.
 *   - A render fails with YZ_EINVAL for an unknown template or unlinked set
 *     and with YZ_ETOOBIG when the output would pass out->max, partials nest
 *     deeper than 8, or the render executes more than 2^20 + 16 × out->max
 *     instructions (loops that write nothing). On failure out keeps the
 *     length it had before the call.
 *   - Adding templates or messages is not thread-safe and must finish before
 *     rendering starts; tmpl_set_add after tmpl_set_link requires a new link.
 *     A duplicate template name is YZ_EINVAL.
 */
#ifndef YZ_HTTP_TMPL_H
#define YZ_HTTP_TMPL_H

#include <jansson.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/status.h"

typedef struct tmpl_set tmpl_set;

tmpl_set *tmpl_set_new(void);
void tmpl_set_free(tmpl_set *s);
/* Add one template from source. Compile errors name the template, line and
 * column. References to other templates are resolved by tmpl_set_link. */
YZ_MUST_USE yz_status tmpl_set_add(tmpl_set *s, const char *name, const char *src, size_t n,
                                   yz_err *e);
/* Load every *.html under dir (recursively) with tmpl_set_add. */
YZ_MUST_USE yz_status tmpl_set_load_dir(tmpl_set *s, const char *dir, yz_err *e);
/* Message table for a language: an object of key → string (nested objects
 * are flattened with dots: {"login":{"title":"…"}} gives "login.title"). Not
 * stolen. */
YZ_MUST_USE yz_status tmpl_set_messages(tmpl_set *s, const char *lang, json_t *table, yz_err *e);
/* Check that every partial, layout and block reference resolves. Call after
 * the last add; render refuses to run on an unlinked set. */
YZ_MUST_USE yz_status tmpl_set_link(tmpl_set *s, yz_err *e);
/* True if the set holds a template of that name. */
int tmpl_set_has(const tmpl_set *s, const char *name);
/* Render `name` with data (an object; not stolen) in language lang (falls back
 * to the first language whose table was added, then to the key itself). */
YZ_MUST_USE yz_status tmpl_render(const tmpl_set *s, const char *name, json_t *data,
                                  const char *lang, buf *out, yz_err *e);
/* Look up a message the same way {{ t }} does; never NULL (the key itself). */
const char *tmpl_message(const tmpl_set *s, const char *lang, const char *key);

/* HTML-escape (& < > " ') appending to out. */
YZ_MUST_USE yz_status tmpl_escape_html(buf *out, const char *s, size_t n);

#endif
