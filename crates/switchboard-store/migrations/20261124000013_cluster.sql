-- Several `serve` nodes on one PostgreSQL (issue 12). Each node says it is alive every second;
-- a survivor that sees a node silent past the timeout takes it over once (`reaped_by`), closes its
-- calls and frees its agents.
CREATE TABLE cluster_nodes (
    node TEXT PRIMARY KEY,
    started_at BIGINT NOT NULL,
    seen_at BIGINT NOT NULL,
    -- set by the survivor that cleaned up after this node; cleared when the node starts again
    reaped_by TEXT,
    reaped_at BIGINT
);

-- Which node has an agent (ringing, talking or wrapping up on one of its calls). An agent is
-- offered a call only by the node that wins this row, so two nodes never ring one agent at once.
CREATE TABLE agent_claims (
    agent_user_id TEXT PRIMARY KEY,
    node TEXT NOT NULL,
    call_id TEXT NOT NULL,
    claimed_at BIGINT NOT NULL
);

CREATE INDEX agent_claims_node ON agent_claims (node);
