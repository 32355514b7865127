-- Campaigns (issue 9): the `campaigns` and `tasks` tables of the initial schema were laid out
-- for them; this fills in what the campaign crate's Campaign and Task need.
--
-- Campaign tasks live in `tasks`, not in `callback_tasks`: a campaign task carries the pure
-- Task's whole state (the customer's numbers with their 72 h blocks, the retry round, the
-- earliest next attempt, the booked slot, attempts against a per-campaign maximum, the
-- customer's zone) and its own life (open → done / exhausted / suppressed / cancelled), while
-- `callback_tasks` is the ACD's short open → in_progress → done list keyed by call. Sharing
-- one table would give every ACD row a dozen meaningless columns and every campaign query a
-- filter on kind. The ticket follow-up row that resolving a ticket writes into `tasks` becomes
-- a campaign task when the campaign driver fills it in (same trigger key, see below).

ALTER TABLE campaigns ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
-- Which customers: {"tags":[..],"grade":..,"key_customer":..,"category":..} (JSON).
ALTER TABLE campaigns ADD COLUMN target TEXT NOT NULL DEFAULT '{}';
-- Who calls: {"agents":[user ids]} or {"queue":"queue id"} (JSON).
ALTER TABLE campaigns ADD COLUMN assignees TEXT NOT NULL DEFAULT '{}';
ALTER TABLE campaigns ADD COLUMN language TEXT NOT NULL DEFAULT 'zh-CN';
-- Calling-window override: {"rest":["12:00-14:00",..],"holidays":["2026-10-01",..]}; NULL =
-- the default rest time.
ALTER TABLE campaigns ADD COLUMN calling TEXT;
-- Set on the campaigns the trigger driver keeps (one per tenant and trigger kind), NULL on
-- campaigns supervisors create.
ALTER TABLE campaigns ADD COLUMN trigger_kind TEXT;
ALTER TABLE campaigns ADD COLUMN created_by TEXT;
-- When the target list was resolved into tasks (the first start).
ALTER TABLE campaigns ADD COLUMN resolved_at BIGINT;
CREATE UNIQUE INDEX campaigns_trigger_kind ON campaigns (tenant_id, trigger_kind);
CREATE INDEX campaigns_list ON campaigns (tenant_id, created_at, id);

-- What created the task, unique per tenant: `campaign:<id>:<customer>`, `order:<id>:reminder`,
-- `order:<id>:warning`, `ticket:<id>:follow_up`. A restart or a second node resolving the same
-- trigger hits this index instead of creating a second task.
ALTER TABLE tasks ADD COLUMN trigger_key TEXT;
ALTER TABLE tasks ADD COLUMN time_zone TEXT;
ALTER TABLE tasks ADD COLUMN key_customer BIGINT NOT NULL DEFAULT 0;
-- [{"number":"+86..","blocked_until":ms|null,"dead":bool}, ..] in dialling order; NULL on rows
-- that are not (yet) campaign tasks.
ALTER TABLE tasks ADD COLUMN numbers TEXT;
ALTER TABLE tasks ADD COLUMN next_number BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN round_tried TEXT NOT NULL DEFAULT '[]';
-- No attempt before this instant (retry delays, booked slot).
ALTER TABLE tasks ADD COLUMN not_before BIGINT;
ALTER TABLE tasks ADD COLUMN max_attempts BIGINT NOT NULL DEFAULT 3;
ALTER TABLE tasks ADD COLUMN purpose TEXT NOT NULL DEFAULT '';
-- The agent working the task now, and until when the claim holds (a claim left behind by a
-- closed browser lapses).
ALTER TABLE tasks ADD COLUMN claimed_by TEXT;
ALTER TABLE tasks ADD COLUMN claim_until BIGINT;
ALTER TABLE tasks ADD COLUMN satisfaction TEXT;
ALTER TABLE tasks ADD COLUMN suggestion TEXT;
ALTER TABLE tasks ADD COLUMN effective BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN talk_seconds BIGINT;
ALTER TABLE tasks ADD COLUMN done_at BIGINT;
ALTER TABLE tasks ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
CREATE UNIQUE INDEX tasks_trigger_key ON tasks (tenant_id, trigger_key);
CREATE INDEX tasks_campaign ON tasks (tenant_id, campaign_id, state, not_before);

-- Every dial of a campaign task and what the agent recorded: the complete call-back record
-- ("every call-back is recorded completely") and the source of the quota figures.
CREATE TABLE task_attempts (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL REFERENCES tenants(id),
    task_id        TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    campaign_id    TEXT,
    agent_id       TEXT,
    number         TEXT NOT NULL,
    -- answered, no_answer, busy, abandoned, invalid_number, call_back_later
    result         TEXT NOT NULL,
    reached        BIGINT NOT NULL DEFAULT 0,
    talk_seconds   BIGINT NOT NULL DEFAULT 0,
    purpose_stated BIGINT NOT NULL DEFAULT 0,
    effective      BIGINT NOT NULL DEFAULT 0,
    satisfaction   TEXT,
    suggestion     TEXT,
    booked_at      BIGINT,
    visit          TEXT,
    note           TEXT NOT NULL DEFAULT '',
    at             BIGINT NOT NULL
);
CREATE INDEX task_attempts_task ON task_attempts (task_id, at);
CREATE INDEX task_attempts_agent ON task_attempts (tenant_id, agent_id, at);
