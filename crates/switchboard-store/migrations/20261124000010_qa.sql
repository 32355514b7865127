-- QA (issue 11): comments pinned to moments of a recording, the tenant's scorecard, scores of
-- recordings, and the per-tenant retention of recordings. Same SQL on SQLite and PostgreSQL.

-- Set when the retention job deleted the file: the row stays (the call's history, its score
-- and comments) but the audio is gone. NULL while the file is kept.
ALTER TABLE recordings ADD COLUMN deleted_at BIGINT;
-- What the daily retention job scans: a tenant's recordings still on disk, oldest first.
CREATE INDEX recordings_kept ON recordings (tenant_id, started_at) WHERE deleted_at IS NULL;

CREATE TABLE recording_comments (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants(id),
    recording_id TEXT NOT NULL REFERENCES recordings(id),
    offset_ms    BIGINT NOT NULL,            -- the moment of the recording it is pinned to
    author_id    TEXT NOT NULL,
    body         TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX recording_comments_recording ON recording_comments (tenant_id, recording_id, offset_ms);

-- The tenant's scorecard as JSON (criteria, weights, sub-items, banned phrases); no row means
-- the built-in default (the seeds' card).
CREATE TABLE qa_scorecards (
    tenant_id  TEXT PRIMARY KEY REFERENCES tenants(id),
    card_json  TEXT NOT NULL,
    updated_by TEXT,
    updated_at BIGINT NOT NULL
);

-- One score per recording (scoring again replaces it). The agent and the call's start are
-- copied from the call when scored, so the per-agent report needs no join; the card scored
-- against is kept so a later change of the card does not change past totals.
CREATE TABLE recording_scores (
    recording_id    TEXT PRIMARY KEY REFERENCES recordings(id),
    tenant_id       TEXT NOT NULL REFERENCES tenants(id),
    call_id         TEXT NOT NULL,
    agent_user_id   TEXT,
    call_started_at BIGINT NOT NULL,
    total_centi     BIGINT NOT NULL,         -- total score × 100 (0-10000)
    values_json     TEXT NOT NULL,           -- {item key: 0-100}
    banned_json     TEXT NOT NULL,           -- banned phrases heard (ticked)
    card_json       TEXT NOT NULL,
    note            TEXT NOT NULL DEFAULT '',
    scorer_id       TEXT NOT NULL,
    scored_at       BIGINT NOT NULL
);
CREATE INDEX recording_scores_agent ON recording_scores (tenant_id, agent_user_id, call_started_at);

-- How long a tenant keeps recordings; no row means the default (30 days).
CREATE TABLE qa_retention (
    tenant_id      TEXT PRIMARY KEY REFERENCES tenants(id),
    recording_days BIGINT NOT NULL,
    updated_by     TEXT,
    updated_at     BIGINT NOT NULL
);
