-- Outbound dialer (issue 10). Kept across restarts so the abandonment limits hold over a
-- restart: live-answered and abandoned counts per campaign and campaign day (the budget: 3 % per
-- day and over 30 days), and every abandoned call (the log, and the 72 h no-redial rule, which
-- applies whichever campaign dials the number again).
CREATE TABLE dialer_days (
    tenant_id TEXT NOT NULL,
    campaign_id TEXT NOT NULL,
    -- days since 1970-01-01 in the dialer's day (UTC offset applied)
    day BIGINT NOT NULL,
    live_answered BIGINT NOT NULL DEFAULT 0,
    abandoned BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, campaign_id, day)
);

CREATE TABLE dialer_abandons (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    campaign_id TEXT NOT NULL,
    task_id TEXT NOT NULL,
    call_id TEXT NOT NULL,
    number TEXT NOT NULL,
    answered_at BIGINT NOT NULL,
    abandoned_at BIGINT NOT NULL,
    -- 1 when the customer was still there and heard the recorded message
    message_played INTEGER NOT NULL
);

CREATE INDEX dialer_abandons_number ON dialer_abandons (tenant_id, number, abandoned_at);
CREATE INDEX dialer_abandons_campaign ON dialer_abandons (tenant_id, campaign_id, abandoned_at);
