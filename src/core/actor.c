#include "core/actor.h"

#include <stdio.h>
#include <string.h>

#include "core/status.h"

yz_actor actor_system(const char *what)
{
	yz_actor a;
	memset(&a, 0, sizeof a);
	snprintf(a.login, sizeof a.login, "system:%s", what ? what : "job");
	yz_strlcpy(a.name, a.login, sizeof a.name);
	a.scope.all = true;
	return a;
}
