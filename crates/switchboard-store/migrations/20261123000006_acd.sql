-- ACD persistence: queues and their members, each agent's current state with the append-only
-- state log, and call-back tasks (回访) the ACD creates.
-- Times are BIGINT ms since the epoch (UTC); ids TEXT. The store keeps plain rows (strings and
-- JSON text); switchboard-acd's types are converted by the server.
--
-- The initial schema's placeholder `queues`, `queue_members` and `agent_state_log` were never
-- written. Queues now have per-tenant ids ("sales" in two tenants), so they are replaced.
-- `queue_members` and `agent_state_log` are referenced by nothing and are dropped. `queues`
-- cannot be: `tasks.owner_queue_id` references it, PostgreSQL refuses to drop a referenced
-- table, and SQLite would leave `tasks` pointing at a key that no longer exists (every insert
-- into `tasks` would then fail with "foreign key mismatch"). Renaming carries the reference
-- along on both engines, so the placeholder lives on, empty, as `queues_unused`; the next
-- rebuild of `tasks` can drop both. Nothing reads or writes it.
DROP TABLE queue_members;
DROP TABLE agent_state_log;
ALTER TABLE queues RENAME TO queues_unused;

-- Index-backed constraints below are named explicitly: on PostgreSQL the renamed placeholder
-- still owns `queues_pkey`, and index names are unique per schema.

-- One row per queue. `config_json` is switchboard-acd's QueueConfig as JSON (strategy, ring
-- timeout, wrap-up, ...); the server validates it before writing.
CREATE TABLE queues (
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    id          TEXT NOT NULL,              -- chosen by the tenant: 'sales', 'care'
    name        TEXT NOT NULL,
    number      TEXT,                       -- dialled number routed to the queue
    config_json TEXT NOT NULL DEFAULT '{}',
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    CONSTRAINT queues_key PRIMARY KEY (tenant_id, id)
);
-- A dialled number routes to one queue of a tenant (NULLs, queues without a number, are
-- distinct on both engines).
CREATE UNIQUE INDEX queues_tenant_number ON queues (tenant_id, number);

-- Which agents serve which queue. No foreign key to users: the ACD's agent ids are user ids,
-- but membership is configuration the server keeps in step with the users it manages.
-- The foreign key to queues (no cascade) is what stops a queue with members being deleted.
CREATE TABLE queue_members (
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    queue_id      TEXT NOT NULL,
    agent_user_id TEXT NOT NULL,
    skills_json   TEXT NOT NULL DEFAULT '{}', -- JSON object skill -> level
    level         BIGINT NOT NULL DEFAULT 0,  -- the member's overall level (seniority)
    priority      BIGINT NOT NULL DEFAULT 0,  -- tier: lower is offered calls first
    site          TEXT NOT NULL,
    CONSTRAINT queue_members_key PRIMARY KEY (tenant_id, queue_id, agent_user_id),
    CONSTRAINT queue_members_queue FOREIGN KEY (tenant_id, queue_id) REFERENCES queues (tenant_id, id)
);
-- The queues of one agent.
CREATE INDEX queue_members_agent ON queue_members (tenant_id, agent_user_id);

-- Each agent's current state: what a restarting node restores. Written in the same transaction
-- as the log row (record_agent_state).
CREATE TABLE agent_states (
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    agent_user_id TEXT NOT NULL,
    status        TEXT NOT NULL,            -- 'logged_out', 'ready', 'not_ready', 'ringing', 'on_call', 'wrap_up'
    reason        TEXT,                     -- not-ready reason: 'break', 'lunch', a tenant's own
    cause         TEXT,                     -- why the change happened: 'login', 'ring_timeout', ...
    since         BIGINT NOT NULL,
    call_id       TEXT,
    CONSTRAINT agent_states_key PRIMARY KEY (tenant_id, agent_user_id)
);

-- Every state change, append-only: the agents' time per state and the supervisors' audit.
CREATE TABLE agent_state_log (
    id            TEXT PRIMARY KEY,         -- UUID v7: time-ordered, breaks ties within one ms
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    agent_user_id TEXT NOT NULL,
    status        TEXT NOT NULL,
    reason        TEXT,
    cause         TEXT,
    at            BIGINT NOT NULL,
    call_id       TEXT
);
CREATE INDEX agent_state_log_agent ON agent_state_log (tenant_id, agent_user_id, at, id);

-- Call-back tasks (回访): created by the ACD for abandoned and dropped calls and accepted
-- call-back offers; the campaigns reuse them with their own reasons.
CREATE TABLE callback_tasks (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL REFERENCES tenants(id),
    call_id        TEXT,                    -- the call it came from, if any
    customer_phone TEXT NOT NULL,           -- E.164
    reason         TEXT NOT NULL,           -- 'abandoned_while_waiting', 'dropped_mid_call', 'requested', ...
    owner_kind     TEXT NOT NULL CHECK (owner_kind IN ('agent','queue')),
    owner_id       TEXT NOT NULL,           -- agent user id or queue id
    state          TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open','in_progress','done','cancelled')),
    due_at         BIGINT NOT NULL,         -- the SLA deadline
    claimed_by     TEXT,                    -- the agent who took it
    claimed_at     BIGINT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    done_at        BIGINT,
    result         TEXT,
    note           TEXT
);
-- The ACD may announce the same call-back twice after a restart: one task per call and reason.
-- Tasks without a call (campaigns) are not constrained, NULLs being distinct.
CREATE UNIQUE INDEX callback_tasks_call_reason ON callback_tasks (tenant_id, call_id, reason);
-- Work lists, most urgent first: by owner, and by state alone.
CREATE INDEX callback_tasks_owner ON callback_tasks (tenant_id, owner_kind, owner_id, state, due_at, id);
CREATE INDEX callback_tasks_due ON callback_tasks (tenant_id, state, due_at, id);
