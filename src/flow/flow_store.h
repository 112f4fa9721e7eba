/*
 * flow_store.h — history of instances, one table per month (flow_store.c).
 * Internal to the flow module.
 */
#ifndef YZ_FLOW_STORE_H
#define YZ_FLOW_STORE_H

#include "flow/flow_int.h"

/* "flow_history_YYYYMM" for a time (the city's month). */
void flow_history_table(int64_t at, char out[32]);
/* Append an entry (creating the month's table on first use). */
YZ_MUST_USE yz_status flow_history_add(store_conn *tx, int64_t instance_id, int64_t at,
                                       const yz_actor *who, const char *command, const char *step,
                                       int64_t token_id, json_t *detail, yz_err *e);
/* Entries of one transaction, all at `at` by `who`, appended in order with
 * as few statements as possible (the engine buffers a command's entries). */
typedef struct flow_history_row {
	int64_t instance_id;
	const char *command, *step; /* step may be NULL */
	int64_t token_id;           /* 0: none */
	json_t *detail;             /* may be NULL */
} flow_history_row;
YZ_MUST_USE yz_status flow_history_add_rows(store_conn *tx, int64_t at, const yz_actor *who,
                                            const flow_history_row *rows, int n, yz_err *e);
/* Entries of an instance from the month of `from` on, oldest first. */
YZ_MUST_USE yz_status flow_history_list(store_conn *c, int64_t instance_id, int64_t from,
                                        json_t **out, yz_err *e);

#endif
