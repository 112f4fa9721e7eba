/*
 * pki_pages.h — what the pki's page files (pages.c, kmc_pages.c,
 * seal_pages.c) share. Only page files include it (it brings in http).
 */
#ifndef YZ_PKI_PKI_PAGES_H
#define YZ_PKI_PKI_PAGES_H

#include "app.h"

/* o[key], an ISO time of a pki record, as "2026-11-23 10:00" for pages. */
void pki_page_human_time(json_t *o, const char *key);
/* tmpl with {label} and {got} replaced (NULL: empty) into out. */
void pki_page_fill(const char *tmpl, const char *label, const char *got, char *out, size_t cap);
/* A refusal that is no field's fault (a state or a rule that does not allow
 * the command) as an error summary linking to href: the message key's text
 * with {label}/{got} filled from got, and detail (may be NULL) beside it. */
json_t *pki_page_refusal(http_req *r, const char *key, const char *got, const char *detail,
                         const char *href);

#endif
