#include "core/arena.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct block {
	struct block *next;
	size_t size, used;
	_Alignas(16) unsigned char data[];
} block;

struct arena {
	block *head;   /* current block */
	block *first;  /* kept by arena_reset */
	size_t total;  /* bytes of block payload allocated */
	size_t handed; /* bytes handed out */
	size_t cap;
};

#define ARENA_FIRST 4096

static block *block_new(size_t size)
{
	block *b = malloc(sizeof *b + size);
	if (!b)
		return NULL;
	b->next = NULL;
	b->size = size;
	b->used = 0;
	return b;
}

arena *arena_new(size_t cap)
{
	arena *a = calloc(1, sizeof *a);
	if (!a)
		return NULL;
	a->cap = cap ? cap : (size_t)64 << 20;
	a->first = a->head = block_new(ARENA_FIRST);
	if (!a->head) {
		free(a);
		return NULL;
	}
	a->total = ARENA_FIRST;
	return a;
}

static void free_chain(block *b, block *stop)
{
	while (b && b != stop) {
		block *n = b->next;
		free(b);
		b = n;
	}
}

void arena_free(arena *a)
{
	if (!a)
		return;
	free_chain(a->head, NULL);
	free(a);
}

void arena_reset(arena *a)
{
	/* Blocks are linked newest-first; the first block is the tail. */
	free_chain(a->head, a->first);
	a->head = a->first;
	a->head->used = 0;
	a->total = a->first->size;
	a->handed = 0;
}

void *arena_alloc(arena *a, size_t n)
{
	if (!a)
		return NULL;
	size_t need = (n + 15) & ~(size_t)15;
	if (need < n || a->handed + need > a->cap)
		return NULL;
	block *b = a->head;
	if (b->size - b->used < need) {
		size_t size = b->size * 2;
		if (size < need)
			size = need;
		if (size > a->cap)
			size = need;
		block *nb = block_new(size);
		if (!nb)
			return NULL;
		nb->next = b;
		a->head = b = nb;
		a->total += size;
	}
	void *p = b->data + b->used;
	b->used += need;
	a->handed += need;
	return p;
}

void *arena_zalloc(arena *a, size_t n)
{
	void *p = arena_alloc(a, n);
	if (p)
		memset(p, 0, n);
	return p;
}

char *arena_strndup(arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);
	if (!p)
		return NULL;
	if (n)
		memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *arena_strdup(arena *a, const char *s)
{
	return s ? arena_strndup(a, s, strlen(s)) : NULL;
}

char *arena_vprintf(arena *a, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return NULL;
	char *p = arena_alloc(a, (size_t)n + 1);
	if (!p)
		return NULL;
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

char *arena_printf(arena *a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *p = arena_vprintf(a, fmt, ap);
	va_end(ap);
	return p;
}

size_t arena_used(const arena *a)
{
	return a ? a->handed : 0;
}
