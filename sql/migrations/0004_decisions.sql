-- A person's decisions (`sheetbridge resolve`) are carried out by the next
-- sync of the pair: a conflict settled for a side, a held deletion approved
-- or rejected. `applied_at` says the sync has done it.

ALTER TABLE sheetbridge.conflict
    ADD COLUMN settled_by text CHECK (settled_by IN ('policy', 'person')),
    ADD COLUMN applied_at timestamptz;

-- Conflicts settled by a pair's policy are applied by the run that found them.
UPDATE sheetbridge.conflict SET settled_by = 'policy', applied_at = resolved_at
WHERE resolved_at IS NOT NULL;

ALTER TABLE sheetbridge.held_delete ADD COLUMN applied_at timestamptz;

CREATE INDEX conflict_decided_idx ON sheetbridge.conflict (pair)
    WHERE settled_by = 'person' AND applied_at IS NULL;
CREATE INDEX held_delete_decided_idx ON sheetbridge.held_delete (pair)
    WHERE decided_at IS NOT NULL AND applied_at IS NULL;
