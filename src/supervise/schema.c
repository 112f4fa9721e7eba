/*
 * schema.c — the supervision module's tables.
 *
 * supervise_ruleset: every version of the rules document, never changed.
 * supervise_card: one row per card, written once (what, where, when, until
 * when a response is due, who supervises); never changed.
 * supervise_card_event: what happened to a card (issued, responded,
 * corrected, escalated), at most one of each kind per card; never changed.
 * supervise_pending: a work queue, not history: the cards whose response is
 * awaited, with the time at which they escalate; a row leaves the queue when
 * the unit responds or the card is escalated.
 */
#include "supervise/supervise.h"

const store_migration supervise_migrations[] = {
    {1, "CREATE TABLE supervise_ruleset ("
        " version BIGINT PRIMARY KEY,"
        " doc TEXT NOT NULL,"
        " digest TEXT NOT NULL,"
        " created_at BIGINT NOT NULL,"
        " created_by TEXT NOT NULL);"
        "CREATE TABLE supervise_card ("
        " id {{id}},"
        " card_key TEXT NOT NULL UNIQUE,"
        " colour TEXT NOT NULL,"
        " rule_code TEXT NOT NULL,"
        " rule_name TEXT NOT NULL,"
        " rule_version BIGINT NOT NULL,"
        " event TEXT NOT NULL,"
        " instance_id BIGINT NOT NULL,"
        " token_id BIGINT,"
        " flow_key TEXT NOT NULL,"
        " flow_name TEXT NOT NULL,"
        " title TEXT NOT NULL,"
        " step TEXT,"
        " step_name TEXT,"
        " org_path TEXT NOT NULL,"
        " unit_path TEXT NOT NULL,"
        " unit_name TEXT NOT NULL,"
        " issued_at BIGINT NOT NULL,"
        " due_at BIGINT,"
        " respond_by BIGINT,"
        " escalate_to TEXT,"
        " escalate_path TEXT,"
        " detail TEXT NOT NULL);"
        "CREATE INDEX supervise_card_unit ON supervise_card (unit_path, id);"
        "CREATE INDEX supervise_card_issued ON supervise_card (issued_at);"
        "CREATE INDEX supervise_card_instance ON supervise_card (instance_id);"
        "CREATE TABLE supervise_card_event ("
        " id {{id}},"
        " card_id BIGINT NOT NULL REFERENCES supervise_card (id),"
        " kind TEXT NOT NULL,"
        " at BIGINT NOT NULL,"
        " actor_id BIGINT,"
        " actor TEXT NOT NULL,"
        " actor_name TEXT NOT NULL,"
        " text TEXT NOT NULL,"
        " UNIQUE (card_id, kind));"
        "CREATE TABLE supervise_pending ("
        " card_id BIGINT PRIMARY KEY REFERENCES supervise_card (id),"
        " due_at BIGINT NOT NULL);"
        "CREATE INDEX supervise_pending_due ON supervise_pending (due_at);"},
};
const int supervise_nmigrations = 1;
