/*
 * arena.h — region allocator: many small allocations, freed in one call.
 *
 * A request, a template render or a batch job gets one arena; everything it
 * allocates dies with arena_free(). Blocks grow geometrically up to a hard
 * cap given at creation, so a hostile request cannot exhaust memory through
 * one arena: once the cap is reached allocations return NULL. Not
 * thread-safe; one owner at a time.
 */
#ifndef YZ_CORE_ARENA_H
#define YZ_CORE_ARENA_H

#include <stdarg.h>
#include <stddef.h>

#include "core/status.h"

typedef struct arena arena;

/* cap: maximum total bytes this arena may hand out (0 = 64 MiB). */
arena *arena_new(size_t cap);
void arena_free(arena *a);
/* Drop every allocation but keep the first block for reuse. */
void arena_reset(arena *a);

/* 16-byte aligned; NULL when the cap would be exceeded. */
void *arena_alloc(arena *a, size_t n);
void *arena_zalloc(arena *a, size_t n);
char *arena_strdup(arena *a, const char *s);
char *arena_strndup(arena *a, const char *s, size_t n);
char *arena_printf(arena *a, const char *fmt, ...) YZ_PRINTF(2, 3);
char *arena_vprintf(arena *a, const char *fmt, va_list ap);
size_t arena_used(const arena *a);

#endif
