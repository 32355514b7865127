-- Customer file, second part: names beyond the display name, consent and interactions, and the
-- idempotency keys of inbound upserts. Times are BIGINT ms, flags BIGINT 0/1, ids TEXT.

ALTER TABLE customers ADD COLUMN given_name TEXT NOT NULL DEFAULT '';
ALTER TABLE customers ADD COLUMN family_name TEXT NOT NULL DEFAULT '';

-- Interactions on a customer's file: calls, chats, visits and notes (after-call notes among them).
CREATE TABLE customer_interactions (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    customer_id TEXT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('call','chat','visit','note')),
    body        TEXT NOT NULL DEFAULT '',
    agent_id    TEXT,
    call_id     TEXT,
    at          BIGINT NOT NULL
);
CREATE INDEX customer_interactions_customer ON customer_interactions (tenant_id, customer_id, at);

-- Inbound upserts with an Idempotency-Key: the first response is kept and replayed for the same
-- key and body; the same key with another body is refused.
CREATE TABLE idempotency_keys (
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    idem_key      TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    status        BIGINT NOT NULL,
    response      TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, idem_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
