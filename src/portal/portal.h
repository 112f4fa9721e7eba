/*
 * portal.h — the public portal. For now: the site settings every page shows
 * (the city's name, the portal's title), kept in the portal's own table and
 * set from a data pack's pack.json at init. Later issues add columns,
 * disclosure, mailboxes and search.
 */
#ifndef YZ_PORTAL_PORTAL_H
#define YZ_PORTAL_PORTAL_H

#include <jansson.h>

#include "core/actor.h"
#include "core/status.h"
#include "store/store.h"

extern const store_migration portal_migrations[];
extern const int portal_nmigrations;

/* Every setting as an object of strings (city_name, city_name_en,
 * portal_title, division_code, pack). New reference. */
YZ_MUST_USE yz_status portal_settings(store *s, json_t **out, yz_err *e);
/* Set settings from an object of strings (audited). */
YZ_MUST_USE yz_status portal_settings_set(store *s, const yz_actor *who, json_t *in, yz_err *e);

#endif
