/*
 * oidc_http.h — what iam's HTTP files (oidc_api.c, oidc_pages.c, pages.c)
 * share about the OpenID Connect provider. Not for other modules.
 */
#ifndef YZ_IAM_OIDC_HTTP_H
#define YZ_IAM_OIDC_HTTP_H

#include "app.h"
#include "iam/oidc.h"

/* The issuer: --public-url when set (without a trailing slash), otherwise
 * http://<listen host>:<port the server got>. */
void iam_oidc_issuer(http_req *r, char *out, size_t cap);

/* A 302 to an absolute URL of a registered client (redirect_uri or
 * post_logout_redirect_uri, already checked) with query parameters added:
 * params is NULL-terminated name, value pairs; NULL values are left out. */
void iam_oidc_redirect(http_req *r, const char *base, const char *const *params);

yz_status iam_oidc_api_routes(yz_app *app, yz_err *e);
yz_status iam_oidc_page_routes(yz_app *app, yz_err *e);

#endif
