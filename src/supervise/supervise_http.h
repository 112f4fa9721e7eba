/*
 * supervise_http.h — what the supervision module's api.c and pages.c share.
 * Only for HTTP-side files.
 */
#ifndef YZ_SUPERVISE_HTTP_H
#define YZ_SUPERVISE_HTTP_H

#include "app.h"
#include "supervise/supervise.h"

yz_status supervise_api_routes(yz_app *app, yz_err *e);

/* The viewer of a request: its scopes for supervise.read and
 * supervise.respond and its own org path (in the request arena). */
YZ_MUST_USE yz_status supervise_viewer_of(http_req *r, supervise_viewer *v, yz_err *e);

/* Filter from the query string (state, colour, org = org id, flow, from and
 * to = dates, escalated=1, before, limit); the org id becomes a path.
 * Field errors for what does not parse. */
YZ_MUST_USE yz_status supervise_filter_of(http_req *r, supervise_filter *f, yz_err *e);

#endif
