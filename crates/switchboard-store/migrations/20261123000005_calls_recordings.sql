-- Call detail records and recording rows, in the shape the call engine writes them.
-- Times are BIGINT ms since the epoch (UTC); ids TEXT.
--
-- The initial schema had placeholder `calls`, `call_legs` and `recordings` tables that nothing
-- ever wrote, so they are replaced rather than altered: altering would keep columns we no longer
-- want (a `queue_id` foreign key SQLite cannot drop) and the same SQL must run on both engines.
-- `call_legs` is recreated unchanged because it references `calls`.
DROP TABLE recordings;
DROP TABLE call_legs;
DROP TABLE calls;

-- One row per call, inserted at call start and updated as the call progresses, so a crash
-- leaves a row with ended_at NULL that the next start closes (close_open_calls).
-- No foreign keys on agent, queue or campaign: a CDR must be written whatever the state of the
-- rest of the configuration (a queue renamed, a user removed later).
CREATE TABLE calls (
    id            TEXT PRIMARY KEY,           -- our CallId, shared by both legs
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    direction     TEXT NOT NULL CHECK (direction IN ('inbound','outbound','internal')),
    caller        TEXT NOT NULL,              -- number or extension as presented
    callee        TEXT NOT NULL,              -- number dialled
    target        TEXT,                       -- routed to: 'extension:1001', 'queue:sales', 'trunk:main'
    agent_user_id TEXT,
    queue         TEXT,
    campaign_id   TEXT,
    sip_call_id_a TEXT NOT NULL,              -- Call-ID of the caller's leg
    sip_call_id_b TEXT,                       -- Call-ID of the answering leg
    started_at    BIGINT NOT NULL,
    ringing_at    BIGINT,
    answered_at   BIGINT,
    ended_at      BIGINT,
    state         TEXT NOT NULL DEFAULT 'setup' CHECK (state IN ('setup','ringing','answered','ended')),
    end_cause     TEXT,                       -- 'normal-clearing', 'busy', 'server-restart', ...
    sip_status    BIGINT,                     -- final status code the caller got
    hangup_by     TEXT CHECK (hangup_by IN ('caller','callee','system')),
    recording_id  TEXT,
    node          TEXT                        -- the node handling the call (multi-node)
);
-- A tenant's calls newest first, with (started_at, id) as the paging key.
CREATE INDEX calls_started ON calls (tenant_id, started_at, id);
CREATE INDEX calls_caller ON calls (tenant_id, caller, started_at);
CREATE INDEX calls_callee ON calls (tenant_id, callee, started_at);
CREATE INDEX calls_agent ON calls (tenant_id, agent_user_id, started_at);
-- Open calls only: what a restarting node closes.
CREATE INDEX calls_open ON calls (node) WHERE ended_at IS NULL;

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

-- One row per recording, inserted when recording starts (state 'recording') so that a crash
-- leaves a row pointing at the file to repair.
CREATE TABLE recordings (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    call_id     TEXT NOT NULL REFERENCES calls(id),
    path        TEXT NOT NULL,              -- relative to the recordings root
    started_at  BIGINT NOT NULL,
    duration_ms BIGINT NOT NULL DEFAULT 0,
    size_bytes  BIGINT NOT NULL DEFAULT 0,
    sha256      TEXT,                       -- of the finished file; NULL while recording
    channels    BIGINT NOT NULL,
    sample_rate BIGINT NOT NULL,
    paused_json TEXT NOT NULL DEFAULT '[]', -- JSON list of muted spans (card numbers read out)
    state       TEXT NOT NULL CHECK (state IN ('recording','complete','repaired')),
    created_at  BIGINT NOT NULL
);
CREATE INDEX recordings_call ON recordings (tenant_id, call_id);
CREATE INDEX recordings_started ON recordings (tenant_id, started_at, id);
CREATE INDEX recordings_state ON recordings (state);
