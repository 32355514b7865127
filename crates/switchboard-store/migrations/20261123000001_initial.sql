-- Switchboard initial schema, one text for SQLite and PostgreSQL. Times are BIGINT milliseconds
-- since the Unix epoch (UTC); flags are BIGINT 0/1 so the same queries run on both engines. Every row carries its
-- tenant_id and every query filters by it.

CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    username      TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin','supervisor','agent','qa','integrator')),
    password_hash TEXT NOT NULL,            -- Argon2id PHC string; never the password
    disabled      BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    UNIQUE (tenant_id, username)
);

-- Bearer tokens (people, after login) and API keys (integrators). Only a SHA-256 of the secret.
CREATE TABLE api_tokens (
    token_hash  TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    user_id     TEXT NOT NULL REFERENCES users(id),
    kind        TEXT NOT NULL CHECK (kind IN ('session','api_key')),
    label       TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT,
    revoked_at  BIGINT
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- SIP digest credentials: HA1 only (MD5 and SHA-256, RFC 8760), never the password.
CREATE TABLE sip_credentials (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    user_id     TEXT REFERENCES users(id),
    username    TEXT NOT NULL,
    realm       TEXT NOT NULL,
    extension   TEXT,
    ha1_md5     TEXT NOT NULL,
    ha1_sha256  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    UNIQUE (realm, username)
);

-- Registrar bindings, kept so a restart does not forget who is registered.
CREATE TABLE sip_bindings (
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    aor         TEXT NOT NULL,
    contact     TEXT NOT NULL,
    source      TEXT NOT NULL,              -- transport:address the REGISTER came from
    call_id     TEXT NOT NULL,
    cseq        BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    node        TEXT,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (aor, contact)
);

CREATE TABLE sites (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    name        TEXT NOT NULL,
    time_zone   TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    UNIQUE (tenant_id, name)
);

CREATE TABLE queues (
    id                TEXT PRIMARY KEY,
    tenant_id         TEXT NOT NULL REFERENCES tenants(id),
    name              TEXT NOT NULL,
    number            TEXT,                 -- dialled number routed to this queue
    strategy          TEXT NOT NULL DEFAULT 'longest_idle',
    ring_timeout_s    BIGINT NOT NULL DEFAULT 20,
    wrapup_s          BIGINT NOT NULL DEFAULT 30,
    wait_alert_s      BIGINT NOT NULL DEFAULT 60,
    max_wait_s        BIGINT,
    overflow_queue_id TEXT REFERENCES queues(id),
    record_calls      BIGINT NOT NULL DEFAULT 1,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    UNIQUE (tenant_id, name)
);

CREATE TABLE queue_members (
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    queue_id    TEXT NOT NULL REFERENCES queues(id) ON DELETE CASCADE,
    agent_id    TEXT NOT NULL REFERENCES users(id),
    site_id     TEXT REFERENCES sites(id),
    skills      TEXT NOT NULL DEFAULT '{}', -- JSON object skill -> level
    priority    BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (queue_id, agent_id)
);

CREATE TABLE agent_state_log (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    agent_id    TEXT NOT NULL REFERENCES users(id),
    state       TEXT NOT NULL,
    reason      TEXT,
    at          BIGINT NOT NULL
);
CREATE INDEX agent_state_log_agent ON agent_state_log (tenant_id, agent_id, at);

CREATE TABLE customers (
    id                    TEXT PRIMARY KEY,
    tenant_id             TEXT NOT NULL REFERENCES tenants(id),
    external_id           TEXT,             -- the CRM/ERP's own id, for upserts
    name                  TEXT NOT NULL,
    time_zone             TEXT NOT NULL,    -- IANA, e.g. Asia/Shanghai
    category              TEXT NOT NULL DEFAULT 'potential' CHECK (category IN ('potential','customer')),
    grade                 TEXT,
    key_customer          BIGINT NOT NULL DEFAULT 0,
    consent               BIGINT NOT NULL DEFAULT 1,
    do_not_call           BIGINT NOT NULL DEFAULT 0,
    estimated_value_cents BIGINT NOT NULL DEFAULT 0,
    tags                  TEXT NOT NULL DEFAULT '[]',
    custom_fields         TEXT NOT NULL DEFAULT '{}',
    version               BIGINT NOT NULL DEFAULT 1,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL
);
CREATE UNIQUE INDEX customers_external ON customers (tenant_id, external_id);
CREATE INDEX customers_updated ON customers (tenant_id, updated_at, id);

CREATE TABLE customer_phones (
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    customer_id TEXT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    phone       TEXT NOT NULL,              -- E.164
    label       TEXT NOT NULL DEFAULT '',
    position    BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (customer_id, phone)
);
CREATE INDEX customer_phones_lookup ON customer_phones (tenant_id, phone);

-- Call detail records: one row per call, one per leg.
CREATE TABLE calls (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    direction   TEXT NOT NULL CHECK (direction IN ('inbound','outbound','internal')),
    caller      TEXT NOT NULL,
    callee      TEXT NOT NULL,
    queue_id    TEXT REFERENCES queues(id),
    agent_id    TEXT REFERENCES users(id),
    customer_id TEXT REFERENCES customers(id),
    campaign_id TEXT,
    node        TEXT,
    started_at  BIGINT NOT NULL,
    answered_at BIGINT,
    ended_at    BIGINT,
    cause       TEXT,
    sip_code    BIGINT
);
CREATE INDEX calls_started ON calls (tenant_id, started_at);
CREATE INDEX calls_open ON calls (ended_at, node);

CREATE TABLE call_legs (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    call_id     TEXT NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
    leg         TEXT NOT NULL,              -- 'customer' or 'agent' side
    peer        TEXT NOT NULL,
    sip_call_id TEXT NOT NULL,
    started_at  BIGINT NOT NULL,
    answered_at BIGINT,
    ended_at    BIGINT,
    cause       TEXT,
    sip_code    BIGINT
);
CREATE INDEX call_legs_call ON call_legs (call_id);

CREATE TABLE recordings (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    call_id     TEXT NOT NULL REFERENCES calls(id),
    path        TEXT NOT NULL,              -- relative to the recordings root
    state       TEXT NOT NULL CHECK (state IN ('recording','complete','repaired','deleted')),
    started_at  BIGINT NOT NULL,
    duration_ms BIGINT NOT NULL DEFAULT 0,
    size_bytes  BIGINT NOT NULL DEFAULT 0,
    sha256      TEXT,
    paused      TEXT NOT NULL DEFAULT '[]', -- JSON list of paused segments (card numbers)
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX recordings_call ON recordings (call_id);

CREATE TABLE campaigns (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants(id),
    name         TEXT NOT NULL,
    kind         TEXT NOT NULL,
    priority     BIGINT NOT NULL DEFAULT 0,
    dial_mode    TEXT NOT NULL DEFAULT 'preview' CHECK (dial_mode IN ('preview','progressive','predictive')),
    max_attempts BIGINT NOT NULL DEFAULT 3,
    state        TEXT NOT NULL DEFAULT 'draft' CHECK (state IN ('draft','running','paused','stopped','finished')),
    starts_at    BIGINT,
    ends_at      BIGINT,
    settings     TEXT NOT NULL DEFAULT '{}',
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);

-- Work for agents: call-backs (回访), follow-up calls, reminders.
CREATE TABLE tasks (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL REFERENCES tenants(id),
    kind           TEXT NOT NULL,
    campaign_id    TEXT REFERENCES campaigns(id),
    customer_id    TEXT REFERENCES customers(id),
    phone          TEXT,
    owner_agent_id TEXT REFERENCES users(id),
    owner_queue_id TEXT REFERENCES queues(id),
    state          TEXT NOT NULL DEFAULT 'open',
    priority       BIGINT NOT NULL DEFAULT 0,
    trigger_at     BIGINT NOT NULL,
    due_at         BIGINT NOT NULL,
    booked_at      BIGINT,
    attempts       BIGINT NOT NULL DEFAULT 0,
    outcome        TEXT,
    note           TEXT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE INDEX tasks_due ON tasks (tenant_id, state, due_at);

-- Complaint tickets (工单).
CREATE TABLE tickets (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL REFERENCES tenants(id),
    customer_id      TEXT REFERENCES customers(id),
    owner_agent_id   TEXT REFERENCES users(id),
    subject          TEXT NOT NULL,
    body             TEXT NOT NULL DEFAULT '',
    emotion          TEXT NOT NULL DEFAULT 'calm' CHECK (emotion IN ('angry','anxious','sad','loud','calm')),
    state            TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open','in_progress','resolved','followed_up','closed')),
    stands           BIGINT,
    responsible_team TEXT,
    reply_due_at     BIGINT NOT NULL,
    escalation_level BIGINT NOT NULL DEFAULT 0,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX tickets_open ON tickets (tenant_id, state, created_at);

CREATE TABLE audit_log (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    actor       TEXT,                       -- user id, or NULL for the system
    action      TEXT NOT NULL,
    target      TEXT NOT NULL DEFAULT '',
    detail      TEXT NOT NULL DEFAULT '{}',
    at          BIGINT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (tenant_id, at);
