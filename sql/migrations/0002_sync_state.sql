-- Two-way sync state, per pair: the base (the last values both sides agreed
-- on) as one row per synced row, and deletions held for approval. The
-- per-cell `sheetbridge.base` of 0001 was never written by a release; the
-- per-row form is what a sync reads and writes in bulk.

DROP TABLE IF EXISTS sheetbridge.base;

-- `key` is the row's key as a JSON array of texts (sheetbridge's text form of
-- each key value); `row` maps each synced column to its text form, or null.
CREATE TABLE sheetbridge.base_row (
    pair       text NOT NULL,
    key        jsonb NOT NULL,
    row        jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (pair, key)
);

-- A row deleted on one side whose deletion waits for `sheetbridge resolve`.
CREATE TABLE sheetbridge.held_delete (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pair        text NOT NULL,
    run_id      bigint REFERENCES sheetbridge.run (id) ON DELETE SET NULL,
    key         jsonb NOT NULL,
    deleted_on  text NOT NULL CHECK (deleted_on IN ('table', 'sheet')),
    row         jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    decided_at  timestamptz,
    decision    text CHECK (decision IN ('approved', 'rejected')),
    CHECK ((decided_at IS NULL) = (decision IS NULL))
);

-- One open hold per pair and key.
CREATE UNIQUE INDEX held_delete_open_idx ON sheetbridge.held_delete (pair, key) WHERE decided_at IS NULL;
CREATE UNIQUE INDEX conflict_open_idx ON sheetbridge.conflict (pair, key, "column") WHERE resolved_at IS NULL;
