/*
 * flow_api.h — what the flow module's api.c and pages.c share, and what the
 * module table calls. Only for HTTP-side files and main.c.
 */
#ifndef YZ_FLOW_API_H
#define YZ_FLOW_API_H

#include "app.h"

yz_status flow_routes(yz_app *app, yz_err *e);
yz_status flow_api_routes(yz_app *app, yz_err *e);
/* The calendar's API and page (calendar_api.c). */
yz_status calendar_routes(yz_app *app, yz_err *e);
/* The request's actor with the flow.read scope when the caller holds it. */
yz_actor *flow_viewer(http_req *r);
/* The background job: fire due timers. */
yz_status flow_timer_job(yz_app *app, yz_err *e);
/* Load the flow definitions of a pack (the JSON files in flows/). */
yz_status flow_load_pack(yz_app *app, const char *dir, json_t *report, yz_err *e);

#endif
