/*
 * actor.h — who is acting, carried into every state change so the audit
 * chain can record actor and request id, and the data scope the actor holds
 * for what they are doing now. The HTTP layer fills one per request from the
 * session and the route's permission; the CLI and background jobs use
 * actor_system(), whose scope is everything.
 */
#ifndef YZ_CORE_ACTOR_H
#define YZ_CORE_ACTOR_H

#include <stdbool.h>
#include <stdint.h>

/* A data scope: the organisation subtrees (by root org id) an actor may see
 * or change for one permission. `all` means no restriction. An empty scope
 * (all == false, n == 0) allows nothing. Paths let a module that stores an
 * org path beside its rows filter by prefix without asking iam. */
typedef struct yz_scope {
	bool all;
	int n;
	const int64_t *orgs;      /* subtree roots; borrowed, live as long as the request */
	const char *const *paths; /* their materialised paths ("/1/4/"), same order */
} yz_scope;

typedef struct yz_actor {
	int64_t user_id; /* 0 for the system itself */
	int64_t org_id;  /* the actor's own organisation, 0 if none */
	int kind;        /* iam user kind, 0 for the system */
	char login[64];
	char name[64];
	char request_id[48];
	char ip[48];
	yz_scope scope; /* for the permission of the current route */
} yz_actor;

/* An actor for the CLI or a background job: login "system:<what>", scope all. */
yz_actor actor_system(const char *what);

#endif
