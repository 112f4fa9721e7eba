/*
 * actor.h — who is acting, carried into every state change so the audit
 * chain can record actor and request id. The HTTP layer fills one per request
 * from the session; the CLI and background jobs use actor_system().
 */
#ifndef YZ_CORE_ACTOR_H
#define YZ_CORE_ACTOR_H

#include <stdint.h>

typedef struct yz_actor {
	int64_t user_id; /* 0 for the system itself */
	int64_t org_id;  /* the actor's own organisation, 0 if none */
	char login[64];
	char name[64];
	char request_id[48];
	char ip[48];
} yz_actor;

/* An actor for the CLI or a background job: login "system:<what>". */
yz_actor actor_system(const char *what);

#endif
