//! Each rule of the merge, by example.

use super::*;
use crate::schema::RelationKind;
use crate::{Column, ColumnType, TableName};

// --- helpers shared with the property tests ---

/// A table `t` of key columns (`k0`, `k1`, ...) then value columns (`c0`, `c1`, ...).
pub(super) fn schema_of(keys: usize, values: usize) -> TableSchema {
    let mut columns = Vec::new();
    for i in 0..keys {
        let mut c = Column::new(&format!("k{i}"), ColumnType::Int64, "int8");
        c.key = true;
        c.nullable = false;
        columns.push(c);
    }
    for i in 0..values {
        columns.push(Column::new(&format!("c{i}"), ColumnType::Text, "text"));
    }
    TableSchema { name: TableName::new(None, "t"), kind: RelationKind::Table, columns }
}

pub(super) fn snapshot(schema: &TableSchema, rows: &[Vec<Value>]) -> Snapshot {
    rows.iter().map(|r| (schema.key_of(r), r.clone())).collect()
}

/// Applies `changes` to `side` as a guarded target would, panicking where a
/// guard would not hold (the plan promised the values it read).
pub(super) fn apply(schema: &TableSchema, side: &mut Snapshot, changes: &ChangeSet, name: &str) {
    for row in &changes.inserts {
        let key = schema.key_of(row);
        assert!(!side.contains_key(&key), "{name}: insert of key {key}, which the {name} already has");
        side.insert(key, row.clone());
    }
    for u in &changes.updates {
        let Some(row) = side.get_mut(&u.key) else { panic!("{name}: update of missing key {}", u.key) };
        for cell in &u.cells {
            assert_eq!(
                row[cell.column], cell.old,
                "{name}: update of key {} column {}: old",
                u.key, cell.column
            );
            row[cell.column] = cell.new.clone();
        }
    }
    for d in &changes.deletes {
        let row = side.remove(&d.key);
        assert_eq!(row.as_ref(), d.old.as_ref(), "{name}: delete of key {}: the row read", d.key);
    }
}

pub(super) fn apply_base(base: &mut Snapshot, changes: &BaseChanges) {
    for (k, row) in &changes.set {
        base.insert(k.clone(), row.clone());
    }
    for k in &changes.drop {
        assert!(base.remove(k).is_some(), "base: drop of key {k}, which it does not hold");
    }
}

// --- the examples ---

fn t(s: &str) -> Value {
    Value::Text(s.into())
}

fn key(id: i64) -> Key {
    Key(vec![Value::Int(id)])
}

/// A row of the schema `k0, c0, c1`.
fn row(id: i64, c0: &str, c1: &str) -> Vec<Value> {
    vec![Value::Int(id), t(c0), t(c1)]
}

struct Case {
    schema: TableSchema,
    base: Snapshot,
    table: Snapshot,
    sheet: Snapshot,
}

fn case(base: &[Vec<Value>], table: &[Vec<Value>], sheet: &[Vec<Value>]) -> Case {
    let schema = schema_of(1, 2);
    Case {
        base: snapshot(&schema, base),
        table: snapshot(&schema, table),
        sheet: snapshot(&schema, sheet),
        schema,
    }
}

fn settings(conflicts: ConflictPolicy) -> MergeSettings {
    MergeSettings::new(Direction::Both, conflicts, DeletePolicy::Propagate)
}

impl Case {
    fn merge(&self, settings: &MergeSettings) -> MergePlan {
        merge(&self.schema, settings, &self.base, &self.table, &self.sheet).expect("rows fit the schema")
    }

    /// Applies `plan`, then merges again: the second plan must write nothing.
    fn settles(mut self, settings: &MergeSettings, plan: &MergePlan) -> Case {
        apply(&self.schema, &mut self.table, &plan.to_table, "table");
        apply(&self.schema, &mut self.sheet, &plan.to_sheet, "sheet");
        apply_base(&mut self.base, &plan.base);
        let again = self.merge(settings);
        assert!(again.is_empty(), "a second merge still writes: {again:#?}");
        self
    }
}

fn update(id: i64, cells: &[(usize, &str, &str)]) -> Update {
    Update {
        key: key(id),
        cells: cells
            .iter()
            .map(|&(column, old, new)| CellChange { column, old: t(old), new: t(new) })
            .collect(),
    }
}

fn cell_conflict(
    id: i64,
    kind: ConflictKind,
    column: usize,
    base: Option<&str>,
    table: &str,
    sheet: &str,
    resolution: Resolution,
) -> MergeConflict {
    MergeConflict {
        key: key(id),
        kind,
        values: Conflicted::Cell { column, base: base.map(t), table: t(table), sheet: t(sheet) },
        resolution,
    }
}

#[test]
fn rows_equal_on_all_three_sides_need_nothing() {
    let c = case(&[row(1, "a", "b")], &[row(1, "a", "b")], &[row(1, "a", "b")]);
    let plan = c.merge(&settings(ConflictPolicy::Flag));
    assert!(plan.is_empty());
    assert!(plan.conflicts.is_empty());
    assert_eq!(plan.counts, MergeCounts { keys: 1, unchanged_rows: 1, ..MergeCounts::default() });
}

#[test]
fn a_cell_changed_on_the_table_only_goes_to_the_sheet() {
    let c = case(&[row(1, "a", "b")], &[row(1, "A", "b")], &[row(1, "a", "b")]);
    let s = settings(ConflictPolicy::SheetWins);
    let plan = c.merge(&s);
    assert!(plan.to_table.is_empty());
    assert_eq!(plan.to_sheet.updates, [update(1, &[(1, "a", "A")])]);
    assert_eq!(plan.base.set, [(key(1), row(1, "A", "b"))]);
    assert!(plan.conflicts.is_empty());
    c.settles(&s, &plan);
}

#[test]
fn a_cell_changed_on_the_sheet_only_goes_to_the_table() {
    let c = case(&[row(1, "a", "b")], &[row(1, "a", "b")], &[row(1, "a", "B")]);
    let s = settings(ConflictPolicy::TableWins);
    let plan = c.merge(&s);
    assert_eq!(plan.to_table.updates, [update(1, &[(2, "b", "B")])]);
    assert!(plan.to_sheet.is_empty());
    assert!(plan.conflicts.is_empty());
    c.settles(&s, &plan);
}

#[test]
fn different_cells_of_one_row_changed_on_each_side_both_survive() {
    let c = case(&[row(1, "a", "b")], &[row(1, "A", "b")], &[row(1, "a", "B")]);
    let s = settings(ConflictPolicy::Flag);
    let plan = c.merge(&s);
    assert_eq!(plan.to_table.updates, [update(1, &[(2, "b", "B")])]);
    assert_eq!(plan.to_sheet.updates, [update(1, &[(1, "a", "A")])]);
    assert_eq!(plan.base.set, [(key(1), row(1, "A", "B"))]);
    assert!(plan.conflicts.is_empty());
    c.settles(&s, &plan);
}

#[test]
fn a_cell_changed_alike_on_both_sides_is_agreement_and_moves_the_base() {
    let c = case(&[row(1, "a", "b")], &[row(1, "x", "b")], &[row(1, "x", "b")]);
    let plan = c.merge(&settings(ConflictPolicy::Flag));
    assert!(plan.to_table.is_empty() && plan.to_sheet.is_empty());
    assert_eq!(plan.base.set, [(key(1), row(1, "x", "b"))]);
    assert!(plan.conflicts.is_empty());
    assert_eq!(plan.counts.agreed_cells, 1);
}

#[test]
fn a_cell_changed_differently_on_both_sides_follows_table_wins_and_is_recorded() {
    let c = case(&[row(1, "a", "b")], &[row(1, "T", "b")], &[row(1, "S", "b")]);
    let s = settings(ConflictPolicy::TableWins);
    let plan = c.merge(&s);
    assert!(plan.to_table.is_empty());
    assert_eq!(plan.to_sheet.updates, [update(1, &[(1, "S", "T")])]);
    assert_eq!(
        plan.conflicts,
        [cell_conflict(1, ConflictKind::BothChanged, 1, Some("a"), "T", "S", Resolution::TableWon)]
    );
    assert_eq!(plan.base.set, [(key(1), row(1, "T", "b"))]);
    c.settles(&s, &plan);
}

#[test]
fn a_cell_changed_differently_on_both_sides_follows_sheet_wins_and_is_recorded() {
    let c = case(&[row(1, "a", "b")], &[row(1, "T", "b")], &[row(1, "S", "b")]);
    let s = settings(ConflictPolicy::SheetWins);
    let plan = c.merge(&s);
    assert_eq!(plan.to_table.updates, [update(1, &[(1, "T", "S")])]);
    assert!(plan.to_sheet.is_empty());
    assert_eq!(plan.conflicts[0].resolution, Resolution::SheetWon);
    assert_eq!(plan.base.set, [(key(1), row(1, "S", "b"))]);
    c.settles(&s, &plan);
}

#[test]
fn flag_changes_neither_side_keeps_the_old_base_and_finds_the_conflict_again() {
    let c = case(&[row(1, "a", "b")], &[row(1, "T", "B")], &[row(1, "S", "b")]);
    let s = settings(ConflictPolicy::Flag);
    let plan = c.merge(&s);
    // The other cell of the row still merges.
    assert_eq!(plan.to_sheet.updates, [update(1, &[(2, "b", "B")])]);
    assert!(plan.to_table.is_empty());
    let open = cell_conflict(1, ConflictKind::BothChanged, 1, Some("a"), "T", "S", Resolution::Open);
    assert_eq!(plan.conflicts, std::slice::from_ref(&open));
    assert_eq!(plan.counts.open_conflicts, 1);
    // The base keeps the old value of the open cell.
    assert_eq!(plan.base.set, [(key(1), row(1, "a", "B"))]);
    let c = c.settles(&s, &plan);
    assert_eq!(c.merge(&s).conflicts, [open]);
}

#[test]
fn a_column_override_beats_the_pair_policy() {
    let c = case(&[row(1, "a", "b")], &[row(1, "T", "t")], &[row(1, "S", "s")]);
    let s = settings(ConflictPolicy::TableWins).with_column("c1", ConflictPolicy::SheetWins);
    let plan = c.merge(&s);
    assert_eq!(plan.to_sheet.updates, [update(1, &[(1, "S", "T")])]);
    assert_eq!(plan.to_table.updates, [update(1, &[(2, "t", "s")])]);
    let resolutions: Vec<_> = plan.conflicts.iter().map(|c| (c.column(), c.resolution)).collect();
    assert_eq!(resolutions, [(Some(1), Resolution::TableWon), (Some(2), Resolution::SheetWon)]);
    c.settles(&s, &plan);
}

#[test]
fn null_and_empty_text_are_different_values() {
    let mut base = row(1, "", "b");
    let mut sheet = base.clone();
    base[1] = Value::Null;
    sheet[1] = t("");
    let c = case(&[base.clone()], &[base], &[sheet]);
    let plan = c.merge(&settings(ConflictPolicy::Flag));
    assert_eq!(
        plan.to_table.updates,
        [Update { key: key(1), cells: vec![CellChange { column: 1, old: Value::Null, new: t("") }] }]
    );
}

#[test]
fn first_sync_agrees_on_equal_cells_and_settles_differing_ones_by_the_policy() {
    let c = case(&[], &[row(1, "a", "T"), row(2, "x", "y")], &[row(1, "a", "S"), row(2, "x", "y")]);
    let s = settings(ConflictPolicy::SheetWins);
    let plan = c.merge(&s);
    assert_eq!(plan.to_table.updates, [update(1, &[(2, "T", "S")])]);
    assert!(plan.to_sheet.is_empty());
    assert_eq!(
        plan.conflicts,
        [cell_conflict(1, ConflictKind::NoBase, 2, None, "T", "S", Resolution::SheetWon)]
    );
    assert_eq!(plan.base.set, [(key(1), row(1, "a", "S")), (key(2), row(2, "x", "y"))]);
    c.settles(&s, &plan);
}

#[test]
fn first_sync_with_flag_writes_no_base_row_for_a_row_with_an_open_conflict() {
    let c = case(&[], &[row(1, "a", "T")], &[row(1, "a", "S")]);
    let s = settings(ConflictPolicy::Flag);
    let plan = c.merge(&s);
    assert!(plan.to_table.is_empty() && plan.to_sheet.is_empty());
    assert!(plan.base.is_empty(), "no old value to keep, so no base row: {:?}", plan.base);
    assert_eq!(plan.conflicts, [cell_conflict(1, ConflictKind::NoBase, 2, None, "T", "S", Resolution::Open)]);
}

#[test]
fn a_row_inserted_on_one_side_is_inserted_on_the_other() {
    let c = case(&[], &[row(1, "a", "b")], &[row(2, "c", "d")]);
    let s = settings(ConflictPolicy::Flag);
    let plan = c.merge(&s);
    assert_eq!(plan.to_sheet.inserts, [row(1, "a", "b")]);
    assert_eq!(plan.to_table.inserts, [row(2, "c", "d")]);
    assert_eq!(plan.base.set, [(key(1), row(1, "a", "b")), (key(2), row(2, "c", "d"))]);
    c.settles(&s, &plan);
}

#[test]
fn a_row_deleted_on_one_side_is_deleted_on_the_other_under_propagate() {
    let c = case(
        &[row(1, "a", "b"), row(2, "c", "d")],
        &[row(2, "c", "d")],
        &[row(1, "a", "b"), row(2, "c", "d")],
    );
    let s = settings(ConflictPolicy::TableWins);
    let plan = c.merge(&s);
    assert_eq!(plan.to_sheet.deletes, [Delete { key: key(1), old: Some(row(1, "a", "b")) }]);
    assert_eq!(plan.base.drop, [key(1)]);
    assert!(plan.conflicts.is_empty());
    c.settles(&s, &plan);
}

#[test]
fn a_row_deleted_on_both_sides_is_forgotten() {
    let c = case(&[row(1, "a", "b")], &[], &[]);
    let plan = c.merge(&settings(ConflictPolicy::Flag));
    assert!(plan.to_table.is_empty() && plan.to_sheet.is_empty());
    assert_eq!(plan.base.drop, [key(1)]);
}

#[test]
fn hold_reports_the_deletion_applies_nothing_and_reports_it_again_next_run() {
    let c = case(&[row(1, "a", "b")], &[row(1, "a", "b")], &[]);
    let s = MergeSettings::new(Direction::Both, ConflictPolicy::Flag, DeletePolicy::Hold);
    let plan = c.merge(&s);
    assert!(plan.to_table.is_empty() && plan.to_sheet.is_empty() && plan.base.is_empty());
    let held = HeldDelete { deleted_on: Side::Sheet, key: key(1), row: row(1, "a", "b") };
    assert_eq!(plan.held_deletes, std::slice::from_ref(&held));
    assert_eq!(held.delete(), Delete { key: key(1), old: Some(row(1, "a", "b")) });
    let c = c.settles(&s, &plan);
    assert_eq!(c.merge(&s).held_deletes, [held]);
}

#[test]
fn ignore_leaves_the_row_on_the_other_side_and_never_reinserts_it() {
    let c = case(&[row(1, "a", "b")], &[], &[row(1, "a", "b")]);
    let s = MergeSettings::new(Direction::Both, ConflictPolicy::SheetWins, DeletePolicy::Ignore);
    let plan = c.merge(&s);
    assert!(plan.is_empty(), "{plan:?}");
    assert_eq!(plan.ignored_deletes, [IgnoredDelete { deleted_on: Side::Table, key: key(1) }]);
    // The base keeps the row: forgetting it would make the row an insert next run.
    let c = c.settles(&s, &plan);
    assert!(c.base.contains_key(&key(1)));
}

#[test]
fn delete_vs_edit_the_edit_wins_and_the_row_goes_back() {
    let c = case(&[row(1, "a", "b")], &[], &[row(1, "a", "EDIT")]);
    let s = MergeSettings::new(Direction::Both, ConflictPolicy::SheetWins, DeletePolicy::Propagate);
    let plan = c.merge(&s);
    assert_eq!(plan.to_table.inserts, [row(1, "a", "EDIT")]);
    assert_eq!(
        plan.conflicts,
        [MergeConflict {
            key: key(1),
            kind: ConflictKind::DeleteVsEdit,
            values: Conflicted::Row {
                base: Some(row(1, "a", "b")),
                table: None,
                sheet: Some(row(1, "a", "EDIT"))
            },
            resolution: Resolution::SheetWon,
        }]
    );
    assert_eq!(plan.conflicts[0].column(), None);
    assert_eq!(plan.base.set, [(key(1), row(1, "a", "EDIT"))]);
    c.settles(&s, &plan);
}

#[test]
fn delete_vs_edit_the_delete_wins_and_goes_through_the_delete_policy() {
    let c = case(&[row(1, "a", "b")], &[], &[row(1, "a", "EDIT")]);
    let s = MergeSettings::new(Direction::Both, ConflictPolicy::TableWins, DeletePolicy::Propagate);
    let plan = c.merge(&s);
    assert_eq!(plan.to_sheet.deletes, [Delete { key: key(1), old: Some(row(1, "a", "EDIT")) }]);
    assert_eq!(plan.conflicts[0].resolution, Resolution::TableWon);
    assert_eq!(plan.base.drop, [key(1)]);
    c.settles(&s, &plan);

    let c = case(&[row(1, "a", "b")], &[], &[row(1, "a", "EDIT")]);
    let s = MergeSettings::new(Direction::Both, ConflictPolicy::TableWins, DeletePolicy::Hold);
    let plan = c.merge(&s);
    assert!(plan.to_sheet.is_empty());
    assert_eq!(plan.held_deletes.len(), 1);
    // The base takes the edited row: the conflict is recorded once, the hold every run.
    assert_eq!(plan.base.set, [(key(1), row(1, "a", "EDIT"))]);
    let again = c.settles(&s, &plan).merge(&s);
    assert!(again.conflicts.is_empty());
    assert_eq!(again.held_deletes, plan.held_deletes);
}

#[test]
fn delete_vs_edit_under_flag_changes_nothing_and_stays_open() {
    let c = case(&[row(1, "a", "b")], &[row(1, "EDIT", "b")], &[]);
    let s = settings(ConflictPolicy::Flag);
    let plan = c.merge(&s);
    assert!(plan.is_empty());
    assert_eq!(plan.conflicts.len(), 1);
    assert_eq!(
        (plan.conflicts[0].kind, plan.conflicts[0].resolution),
        (ConflictKind::DeleteVsEdit, Resolution::Open)
    );
    assert_eq!(c.settles(&s, &plan).merge(&s).conflicts, plan.conflicts);
}

#[test]
fn to_sheet_overwrites_sheet_edits_and_reports_them() {
    let c = case(&[row(1, "a", "b")], &[row(1, "T", "b")], &[row(1, "S", "s")]);
    let s = MergeSettings::new(Direction::ToSheet, ConflictPolicy::SheetWins, DeletePolicy::Propagate);
    let plan = c.merge(&s);
    assert!(plan.to_table.is_empty());
    assert_eq!(plan.to_sheet.updates, [update(1, &[(1, "S", "T"), (2, "s", "b")])]);
    assert_eq!(
        plan.conflicts,
        [
            cell_conflict(1, ConflictKind::BothChanged, 1, Some("a"), "T", "S", Resolution::TableWon),
            cell_conflict(1, ConflictKind::Overwritten, 2, Some("b"), "b", "s", Resolution::TableWon),
        ]
    );
    c.settles(&s, &plan);
}

#[test]
fn to_sheet_puts_back_a_row_deleted_on_the_sheet_whatever_the_delete_policy() {
    for deletes in [DeletePolicy::Propagate, DeletePolicy::Hold, DeletePolicy::Ignore] {
        let c = case(&[row(1, "a", "b")], &[row(1, "a", "b")], &[]);
        let s = MergeSettings::new(Direction::ToSheet, ConflictPolicy::Flag, deletes);
        let plan = c.merge(&s);
        assert_eq!(plan.to_sheet.inserts, [row(1, "a", "b")], "{deletes:?}");
        assert_eq!(plan.conflicts[0].kind, ConflictKind::Overwritten);
        c.settles(&s, &plan);
    }
}

#[test]
fn to_sheet_deletes_a_row_only_the_sheet_has_and_reports_it() {
    let c = case(&[], &[], &[row(1, "typed", "in")]);
    let s = MergeSettings::new(Direction::ToSheet, ConflictPolicy::Flag, DeletePolicy::Propagate);
    let plan = c.merge(&s);
    assert_eq!(plan.to_sheet.deletes, [Delete { key: key(1), old: Some(row(1, "typed", "in")) }]);
    assert!(plan.to_table.is_empty());
    assert_eq!(
        (plan.conflicts[0].kind, plan.conflicts[0].resolution),
        (ConflictKind::Overwritten, Resolution::TableWon)
    );
    c.settles(&s, &plan);
}

#[test]
fn to_table_mirrors_to_sheet() {
    let c = case(&[row(1, "a", "b")], &[row(1, "T", "t")], &[row(1, "S", "b")]);
    let s = MergeSettings::new(Direction::ToTable, ConflictPolicy::TableWins, DeletePolicy::Propagate);
    let plan = c.merge(&s);
    assert!(plan.to_sheet.is_empty());
    assert_eq!(plan.to_table.updates, [update(1, &[(1, "T", "S"), (2, "t", "b")])]);
    assert!(plan.conflicts.iter().all(|c| c.resolution == Resolution::SheetWon));
    c.settles(&s, &plan);
}

#[test]
fn a_read_only_column_is_never_written_to_the_table() {
    let mut c = case(&[row(1, "a", "b")], &[row(1, "a", "b")], &[row(1, "S", "b")]);
    c.schema.columns[1].read_only = true;
    let s = settings(ConflictPolicy::SheetWins);
    let plan = c.merge(&s);
    assert!(plan.to_table.is_empty());
    assert_eq!(plan.to_sheet.updates, [update(1, &[(1, "S", "a")])]);
    assert_eq!(plan.conflicts[0].kind, ConflictKind::Overwritten);
    let c = c.settles(&s, &plan);

    // Under ToTable the column is not synced at all.
    let c = Case { sheet: snapshot(&c.schema, &[row(1, "S", "b")]), ..c };
    let plan =
        c.merge(&MergeSettings::new(Direction::ToTable, ConflictPolicy::Flag, DeletePolicy::Propagate));
    assert!(plan.is_empty() && plan.conflicts.is_empty(), "{plan:?}");
}

#[test]
fn the_plan_is_in_key_order() {
    let rows: Vec<_> = [5, 3, 9, 1, 7].map(|i| row(i, "a", "b")).into();
    let c = case(&[], &rows, &[]);
    let plan = c.merge(&settings(ConflictPolicy::Flag));
    let ids: Vec<_> = plan.to_sheet.inserts.iter().map(|r| r[0].clone()).collect();
    assert_eq!(ids, [1, 3, 5, 7, 9].map(Value::Int));
    let mut keys =
        vec![Key(vec![t("b")]), Key(vec![Value::Null]), Key(vec![Value::Int(2)]), Key(vec![t("a")])];
    keys.sort_by(cmp_keys);
    assert_eq!(
        keys,
        [Key(vec![Value::Null]), Key(vec![Value::Int(2)]), Key(vec![t("a")]), Key(vec![t("b")])]
    );
}

#[test]
fn rows_that_do_not_fit_the_schema_are_an_error_naming_them() {
    let mut c = case(&[], &[row(1, "a", "b")], &[]);
    c.sheet.insert(key(2), vec![Value::Int(2), t("a")]);
    c.sheet.insert(key(3), row(4, "a", "b"));
    let e = merge(&c.schema, &settings(ConflictPolicy::Flag), &c.base, &c.table, &c.sheet).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::InvalidInput);
    let text = e.to_string();
    assert!(text.contains("sheet row of key 2 has 2 values, the schema has 3 columns"), "{text}");
    assert!(text.contains("sheet row stored under key 3 holds key 4"), "{text}");
}

#[test]
fn a_policy_for_a_column_the_schema_lacks_is_an_error() {
    let c = case(&[], &[], &[]);
    let s = settings(ConflictPolicy::Flag).with_column("qty", ConflictPolicy::TableWins);
    let e = merge(&c.schema, &s, &c.base, &c.table, &c.sheet).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::SchemaMismatch);
    assert_eq!(e.to_string(), "merge `t`: a conflict policy names a column no synced column has: `qty`");
}

#[test]
fn conflicts_describe_themselves_for_a_person() {
    let c = case(&[row(1, "a", "b")], &[row(1, "T", "b")], &[row(1, "S", "b")]);
    let plan = c.merge(&settings(ConflictPolicy::TableWins));
    assert_eq!(
        plan.conflicts[0].describe(&c.schema).to_string(),
        r#"key 1 column `c0` (changed on both sides): base "a", table "T", sheet "S"; table won"#
    );
    let c = case(&[row(1, "a", "b")], &[row(1, "T", "b")], &[]);
    let plan = c.merge(&settings(ConflictPolicy::Flag));
    assert_eq!(
        plan.conflicts[0].describe(&c.schema).to_string(),
        "key 1 (deleted on one side, edited on the other): table has the row, sheet has none; open"
    );
}

#[test]
fn policies_read_from_config_words() {
    let p: ConflictPolicy = serde_json::from_str("\"keep_both\"").unwrap();
    assert_eq!(p, ConflictPolicy::Flag);
    let d: Direction = serde_json::from_str("\"to_sheet\"").unwrap();
    assert_eq!(d, Direction::ToSheet);
    let d: DeletePolicy = serde_json::from_str("\"hold\"").unwrap();
    assert_eq!(d, DeletePolicy::Hold);
}

#[test]
fn to_sheet_a_table_delete_beats_a_sheet_edit_and_goes_through_the_delete_policy() {
    let c = case(&[row(1, "a", "b")], &[], &[row(1, "a", "EDIT")]);
    let s = MergeSettings::new(Direction::ToSheet, ConflictPolicy::SheetWins, DeletePolicy::Propagate);
    let plan = c.merge(&s);
    assert_eq!(plan.to_sheet.deletes, [Delete { key: key(1), old: Some(row(1, "a", "EDIT")) }]);
    assert!(plan.to_table.is_empty());
    assert_eq!(
        (plan.conflicts[0].kind, plan.conflicts[0].resolution),
        (ConflictKind::DeleteVsEdit, Resolution::TableWon)
    );
    c.settles(&s, &plan);
}

#[test]
fn to_table_holds_a_row_only_the_table_has_instead_of_deleting_it() {
    let c = case(&[], &[row(1, "app", "row")], &[]);
    let s = MergeSettings::new(Direction::ToTable, ConflictPolicy::Flag, DeletePolicy::Hold);
    let plan = c.merge(&s);
    assert!(plan.to_table.is_empty() && plan.to_sheet.is_empty());
    assert_eq!(
        plan.held_deletes,
        [HeldDelete { deleted_on: Side::Sheet, key: key(1), row: row(1, "app", "row") }]
    );
    let again = c.settles(&s, &plan).merge(&s);
    assert_eq!(again.held_deletes, plan.held_deletes);
}
