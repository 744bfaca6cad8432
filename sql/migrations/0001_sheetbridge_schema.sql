-- sheetbridge's own state: the run journal, the per-cell base of each pair,
-- and the conflicts found. Applied once by the migrations runner; never
-- edited after release (add a new numbered file instead).

CREATE SCHEMA IF NOT EXISTS sheetbridge;

-- One row per command run (sync of a pair, import, export).
CREATE TABLE sheetbridge.run (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pair        text NOT NULL,
    command     text NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    status      text NOT NULL DEFAULT 'running'
                CHECK (status IN ('running', 'success', 'partial', 'failed', 'skipped')),
    counts      jsonb NOT NULL DEFAULT '{}'::jsonb,
    error       text,
    CHECK ((status = 'running') = (finished_at IS NULL))
);

CREATE INDEX run_pair_started_idx ON sheetbridge.run (pair, started_at DESC);

-- The last value both sides agreed on, per pair, row key and column.
CREATE TABLE sheetbridge.base (
    pair       text NOT NULL,
    key        jsonb NOT NULL,
    "column"   text NOT NULL,
    value      jsonb,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (pair, key, "column")
);

-- Every conflict found: what the base was, what each side held, what won.
CREATE TABLE sheetbridge.conflict (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pair        text NOT NULL,
    run_id      bigint REFERENCES sheetbridge.run (id) ON DELETE SET NULL,
    key         jsonb NOT NULL,
    "column"    text,
    base        jsonb,
    table_value jsonb,
    sheet_value jsonb,
    resolution  text CHECK (resolution IN ('table', 'sheet', 'held', 'manual')),
    resolved_at timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX conflict_pair_open_idx ON sheetbridge.conflict (pair) WHERE resolved_at IS NULL;
