-- Complaint tickets' clock and history, the transactional outbox, and webhook subscriptions.
-- Times are BIGINT ms since the epoch (UTC); flags BIGINT 0/1; ids TEXT.

-- What the ticket clock needs beyond the initial table: who answered first and when, the
-- overdue flag, the rung reached, the next deadline (for the sweep) and a version for
-- optimistic concurrency between API writes and the sweep (possibly on other nodes).
ALTER TABLE tickets ADD COLUMN first_response_at BIGINT;
ALTER TABLE tickets ADD COLUMN overdue BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tickets ADD COLUMN escalated_to TEXT;
ALTER TABLE tickets ADD COLUMN escalated_at BIGINT;
ALTER TABLE tickets ADD COLUMN resolved_at BIGINT;
ALTER TABLE tickets ADD COLUMN next_check_at BIGINT;
ALTER TABLE tickets ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
CREATE INDEX tickets_next_check ON tickets (next_check_at);

-- Every step of a ticket, in order: created, taken, overdue, escalated, resolved, ...
CREATE TABLE ticket_events (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    ticket_id   TEXT NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    seq         BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    actor       TEXT,                       -- user id, or NULL for the ticket clock
    detail      TEXT NOT NULL DEFAULT '{}', -- JSON object
    at          BIGINT NOT NULL,
    UNIQUE (ticket_id, seq)
);
CREATE INDEX ticket_events_ticket ON ticket_events (tenant_id, ticket_id, seq);

-- Transactional outbox: written in the same transaction as the change it announces, delivered
-- to webhook subscriptions by the worker, at least once.
CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,       -- also the Idempotency-Key receivers see
    tenant_id       TEXT NOT NULL REFERENCES tenants(id),
    event_type      TEXT NOT NULL,
    payload         TEXT NOT NULL,          -- JSON
    created_at      BIGINT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    delivered_at    BIGINT,
    last_error      TEXT
);
CREATE INDEX outbox_due ON outbox (delivered_at, next_attempt_at);

CREATE TABLE webhook_subscriptions (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    url         TEXT NOT NULL,
    secret      TEXT NOT NULL,              -- HMAC key; needed in clear to sign, shown once
    event_types TEXT NOT NULL DEFAULT '["*"]', -- JSON list: "ticket.created", "ticket.*", "*"
    active      BIGINT NOT NULL DEFAULT 1,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX webhook_subscriptions_tenant ON webhook_subscriptions (tenant_id, active);

-- Which subscriptions already have an event, so a retry after a partial failure resends only
-- to the ones that did not answer 2xx.
CREATE TABLE webhook_deliveries (
    event_id        TEXT NOT NULL REFERENCES outbox(id) ON DELETE CASCADE,
    subscription_id TEXT NOT NULL REFERENCES webhook_subscriptions(id) ON DELETE CASCADE,
    delivered_at    BIGINT NOT NULL,
    PRIMARY KEY (event_id, subscription_id)
);
