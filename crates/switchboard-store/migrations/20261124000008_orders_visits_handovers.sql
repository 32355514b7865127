-- The rest of the customer file (orders and visits) and the shift hand-over.
-- Times are BIGINT ms since the epoch (UTC); ids TEXT; money in the currency's minor unit.

-- Purchases: placed → paid, or cancelled. The first paid order turns a potential customer into a
-- customer; the agent credited with it counts it in their conversions and revenue.
CREATE TABLE orders (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    customer_id   TEXT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    external_ref  TEXT,                     -- the shop's own order number, unique per tenant
    description   TEXT NOT NULL DEFAULT '',
    amount_minor  BIGINT NOT NULL CHECK (amount_minor >= 0),
    currency      TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('placed','paid','cancelled')),
    agent_id      TEXT,                     -- the agent credited with the sale
    placed_at     BIGINT NOT NULL,
    paid_at       BIGINT,
    cancelled_at  BIGINT,
    version       BIGINT NOT NULL DEFAULT 1,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE UNIQUE INDEX orders_external_ref ON orders (tenant_id, external_ref);
CREATE INDEX orders_customer ON orders (tenant_id, customer_id, placed_at);
CREATE INDEX orders_state ON orders (tenant_id, state, placed_at);
CREATE INDEX orders_updated ON orders (tenant_id, updated_at, id);
CREATE INDEX orders_agent_paid ON orders (tenant_id, agent_id, paid_at);

-- Visits to the shop, school or clinic: booked → attended, no-show or cancelled. `source` says
-- which monthly visit quota an attended visit counts for (call-back list or other lists).
CREATE TABLE visits (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    customer_id   TEXT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    state         TEXT NOT NULL CHECK (state IN ('booked','attended','no_show','cancelled')),
    scheduled_at  BIGINT NOT NULL,
    source        TEXT NOT NULL CHECK (source IN ('call_back','other')),
    invited_by    TEXT,                     -- the agent who invited the customer
    campaign_id   TEXT,
    note          TEXT NOT NULL DEFAULT '',
    closed_at     BIGINT,                   -- when it was marked attended, no-show or cancelled
    version       BIGINT NOT NULL DEFAULT 1,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX visits_customer ON visits (tenant_id, customer_id, scheduled_at);
CREATE INDEX visits_scheduled ON visits (tenant_id, scheduled_at, id);
CREATE INDEX visits_inviter ON visits (tenant_id, invited_by, closed_at);

-- Shift hand-over (交接班): what one shift passes on to the next.
CREATE TABLE handovers (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    shift       TEXT NOT NULL,              -- the pattern name of the shift handing over
    shift_date  TEXT NOT NULL,              -- YYYY-MM-DD, the local date that shift started
    author_id   TEXT NOT NULL,
    note        TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL
);
CREATE INDEX handovers_created ON handovers (tenant_id, created_at, id);

CREATE TABLE handover_items (
    handover_id TEXT NOT NULL REFERENCES handovers(id) ON DELETE CASCADE,
    position    BIGINT NOT NULL,
    customer_id TEXT NOT NULL,              -- no FK: the note outlives a deleted customer
    kind        TEXT NOT NULL CHECK (kind IN ('urgent','prospect','follow_up')),
    what        TEXT NOT NULL,
    done_at     BIGINT,
    done_by     TEXT,
    PRIMARY KEY (handover_id, position)
);

-- Who of the next shift has read a hand-over (shown on login until read).
CREATE TABLE handover_reads (
    handover_id TEXT NOT NULL REFERENCES handovers(id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL,
    read_at     BIGINT NOT NULL,
    PRIMARY KEY (handover_id, user_id)
);
