/*
 * seal_http.h — what the seal and signature routes share (seal_api.c, the
 * JSON API; seal_pages.c, the pages): registration, and the scope a caller
 * sees seals in. Internal to the pki module's HTTP side.
 */
#ifndef YZ_PKI_SEAL_HTTP_H
#define YZ_PKI_SEAL_HTTP_H

#include "app.h"
#include "pki/pki_int.h" /* pki_seal_api_routes, pki_seal_page_routes */

/* The union of where the caller holds pki.seal.manage and pki.seal.use:
 * false when neither; *all when either is city-wide (then out is unset). */
bool pki_seal_scope(http_req *r, yz_scope *out, bool *all);
/* Hex text of exactly n bytes into out. */
bool pki_seal_unhex(const char *s, unsigned char *out, size_t n);
/* The file name of an upload as it may be recorded: its last path part,
 * at most 200 characters; "document" when empty. */
const char *pki_seal_file_name(http_req *r, const char *name);

#endif
