-- Customer CSV imports: one row per uploaded file with its progress, and the per-row error
-- report. Times are BIGINT ms, ids TEXT.

CREATE TABLE customer_imports (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id),
    state           TEXT NOT NULL CHECK (state IN ('running','done','failed')),
    -- Put on every customer the import creates or updates (a campaign's target list).
    tag             TEXT,
    file_name       TEXT,
    created_by      TEXT,
    rows_total      BIGINT NOT NULL,
    rows_processed  BIGINT NOT NULL DEFAULT 0,
    rows_created    BIGINT NOT NULL DEFAULT 0,
    rows_updated    BIGINT NOT NULL DEFAULT 0,
    rows_failed     BIGINT NOT NULL DEFAULT 0,
    -- Why a failed import stopped (server restart, database error).
    failure         TEXT,
    started_at      BIGINT NOT NULL,
    -- Stamped at every committed batch: a running import whose heartbeat stops was interrupted.
    heartbeat_at    BIGINT NOT NULL,
    finished_at     BIGINT
);
CREATE INDEX customer_imports_tenant ON customer_imports (tenant_id, started_at);
CREATE INDEX customer_imports_state ON customer_imports (state);

-- One error per rejected row (a row is all-or-nothing, so its first fault is the one reported).
-- `row_number` is the spreadsheet's: the header is row 1. `value` is masked for phones and names.
CREATE TABLE customer_import_errors (
    import_id   TEXT NOT NULL REFERENCES customer_imports(id) ON DELETE CASCADE,
    row_number  BIGINT NOT NULL,
    column_name TEXT,
    value       TEXT,
    message     TEXT NOT NULL,
    CONSTRAINT customer_import_errors_key PRIMARY KEY (import_id, row_number)
);
