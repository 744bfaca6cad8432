//! The merge's promises, checked on generated pairs: small tables whose keys
//! come from a small domain (so rows collide), values from a small domain
//! with NULL beside `""`, a base, and independent edits, inserts and deletes
//! on each side, under every direction, policy and delete policy.

use std::collections::{HashMap, HashSet};

use proptest::prelude::*;

use super::tests::{apply, apply_base, schema_of};
use super::*;

const CASES: u32 = 3000;

#[derive(Debug, Clone)]
struct Scenario {
    schema: TableSchema,
    settings: MergeSettings,
    base: Snapshot,
    table: Snapshot,
    sheet: Snapshot,
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        Just(Value::Text(String::new())),
        Just(Value::Text("a".into())),
        Just(Value::Text("b".into())),
        Just(Value::Int(1)),
        Just(Value::Int(2)),
    ]
}

/// What one side did to one key: with a base row, 0 keeps it, 1 and 2 edit
/// it, 3 deletes it; without, 0 and 1 leave the key absent, 2 and 3 insert it.
fn side_edit(values: usize) -> impl Strategy<Value = (u8, Vec<Option<Value>>)> {
    (0u8..4, prop::collection::vec(prop::option::weighted(0.4, value()), values))
}

fn policy() -> impl Strategy<Value = ConflictPolicy> {
    prop_oneof![Just(ConflictPolicy::TableWins), Just(ConflictPolicy::SheetWins), Just(ConflictPolicy::Flag)]
}

fn settings(values: usize) -> impl Strategy<Value = MergeSettings> {
    (
        prop_oneof![Just(Direction::Both), Just(Direction::ToSheet), Just(Direction::ToTable)],
        policy(),
        prop_oneof![Just(DeletePolicy::Propagate), Just(DeletePolicy::Ignore), Just(DeletePolicy::Hold)],
        prop::collection::vec(prop::option::weighted(0.3, policy()), values),
    )
        .prop_map(|(direction, conflicts, deletes, overrides)| {
            let mut s = MergeSettings::new(direction, conflicts, deletes);
            for (i, p) in overrides.into_iter().enumerate() {
                if let Some(p) = p {
                    s = s.with_column(&format!("c{i}"), p);
                }
            }
            s
        })
}

fn scenario_with(
    settings_: BoxedStrategy<MergeSettings>,
    keys: usize,
    values: usize,
) -> impl Strategy<Value = Scenario> {
    // Keys: 0..6 for one key column, 0..3 × 0..2 for two.
    let domain: Vec<Vec<Value>> = if keys == 1 {
        (0..6).map(|i| vec![Value::Int(i)]).collect()
    } else {
        (0..3).flat_map(|i| (0..2).map(move |j| vec![Value::Int(i), Value::Int(j)])).collect()
    };
    let per_key = (
        prop::bool::weighted(0.6),
        prop::collection::vec(value(), values),
        side_edit(values),
        side_edit(values),
    );
    (settings_, prop::collection::vec(per_key, domain.len())).prop_map(move |(settings, per_key)| {
        let schema = schema_of(keys, values);
        let (mut base, mut table, mut sheet) = (Snapshot::new(), Snapshot::new(), Snapshot::new());
        for (k, (in_base, common, t_edit, s_edit)) in domain.iter().zip(per_key) {
            let key = Key(k.clone());
            let row: Vec<Value> = k.iter().cloned().chain(common).collect();
            let side = |(action, edits): (u8, Vec<Option<Value>>)| {
                let present = if in_base { action != 3 } else { action >= 2 };
                let edited = !in_base || action == 1 || action == 2;
                present.then(|| {
                    let mut r = row.clone();
                    if edited {
                        for (i, e) in edits.into_iter().enumerate() {
                            if let Some(v) = e {
                                r[keys + i] = v;
                            }
                        }
                    }
                    r
                })
            };
            if let Some(r) = side(t_edit) {
                table.insert(key.clone(), r);
            }
            if let Some(r) = side(s_edit) {
                sheet.insert(key.clone(), r);
            }
            if in_base {
                base.insert(key, row);
            }
        }
        Scenario { schema, settings, base, table, sheet }
    })
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (1usize..=2, 1usize..=3)
        .prop_flat_map(|(keys, values)| scenario_with(settings(values).boxed(), keys, values))
}

impl Scenario {
    fn merge(&self) -> MergePlan {
        merge(&self.schema, &self.settings, &self.base, &self.table, &self.sheet)
            .expect("rows fit the schema")
    }

    /// The three snapshots once `plan` is applied.
    fn applied(&self, plan: &MergePlan) -> (Snapshot, Snapshot, Snapshot) {
        let (mut base, mut table, mut sheet) = (self.base.clone(), self.table.clone(), self.sheet.clone());
        apply(&self.schema, &mut table, &plan.to_table, "table");
        apply(&self.schema, &mut sheet, &plan.to_sheet, "sheet");
        apply_base(&mut base, &plan.base);
        (base, table, sheet)
    }

    fn values(&self) -> std::ops::Range<usize> {
        self.schema.key_indices().len()..self.schema.columns.len()
    }
}

fn union<'a>(maps: &[&'a Snapshot]) -> Vec<&'a Key> {
    let mut keys: Vec<&Key> =
        maps.iter().flat_map(|m| m.keys()).collect::<HashSet<_>>().into_iter().collect();
    keys.sort_by(|a, b| cmp_keys(a, b));
    keys
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// Applying `to_table` and `to_sheet` makes both sides hold the same rows,
    /// except exactly the open conflicts and the held and ignored deletions
    /// reported, and the new base holds that result.
    #[test]
    fn applying_the_plan_makes_both_sides_agree_except_what_is_reported(sc in scenario()) {
        let plan = sc.merge();
        let (base, table, sheet) = sc.applied(&plan);
        let open_cells: HashSet<(&Key, usize)> = plan
            .open_conflicts()
            .filter_map(|c| c.column().map(|col| (&c.key, col)))
            .collect();
        let open_rows: HashSet<&Key> =
            plan.open_conflicts().filter(|c| c.column().is_none()).map(|c| &c.key).collect();
        let apart: HashMap<&Key, Side> = plan
            .held_deletes
            .iter()
            .map(|h| (&h.key, h.deleted_on))
            .chain(plan.ignored_deletes.iter().map(|i| (&i.key, i.deleted_on)))
            .collect();
        prop_assert_eq!(apart.len(), plan.held_deletes.len() + plan.ignored_deletes.len());
        if sc.settings.direction != Direction::Both || sc.settings.conflicts == ConflictPolicy::TableWins
            && sc.settings.column_conflicts.values().all(|p| *p == ConflictPolicy::TableWins)
        {
            prop_assert!(open_cells.is_empty() && open_rows.is_empty());
        }
        if sc.settings.deletes == DeletePolicy::Propagate {
            prop_assert!(apart.is_empty());
        }
        for k in union(&[&table, &sheet, &base]) {
            match (table.get(k), sheet.get(k)) {
                (Some(t), Some(s)) => {
                    prop_assert!(!open_rows.contains(k) && !apart.contains_key(k), "key {k}");
                    let mut open_here = false;
                    for c in sc.values() {
                        let open = open_cells.contains(&(k, c));
                        open_here |= open;
                        prop_assert_eq!(t[c] != s[c], open, "key {} column {}: table {}, sheet {}", k, c, &t[c], &s[c]);
                    }
                    match (base.get(k), sc.base.get(k)) {
                        (Some(b), old) => {
                            for c in 0..t.len() {
                                let expected = if open_cells.contains(&(k, c)) {
                                    &old.expect("an open cell of a base row")[c]
                                } else {
                                    &t[c]
                                };
                                prop_assert_eq!(&b[c], expected, "base of key {} column {}", k, c);
                            }
                        }
                        (None, old) => prop_assert!(open_here && old.is_none(), "key {k} has no base row"),
                    }
                }
                (Some(row), None) | (None, Some(row)) => {
                    let missing = if table.contains_key(k) { Side::Sheet } else { Side::Table };
                    if open_rows.contains(k) {
                        prop_assert!(!apart.contains_key(k));
                        prop_assert_eq!(base.get(k), sc.base.get(k), "open row {} keeps its base", k);
                    } else {
                        prop_assert_eq!(apart.get(k), Some(&missing), "key {} is only on one side", k);
                        prop_assert_eq!(base.get(k), Some(row), "base of held or ignored key {}", k);
                    }
                }
                (None, None) => {
                    prop_assert!(!base.contains_key(k), "key {k} is on neither side but in the base");
                    prop_assert!(!open_rows.contains(k) && !apart.contains_key(k));
                }
            }
        }
        for (k, _) in &open_cells {
            prop_assert!(table.contains_key(*k) && sheet.contains_key(*k));
        }
    }

    /// A second merge with the new base and the sides as written changes
    /// nothing; only what is still open, held or ignored is reported again.
    /// Giving the merge the rows instead of lending them changes nothing in the plan.
    #[test]
    fn the_owning_merge_makes_the_same_plan(sc in scenario()) {
        let owned = merge_owned(&sc.schema, &sc.settings, &sc.base, sc.table.clone(), sc.sheet.clone())
            .expect("rows fit the schema");
        prop_assert_eq!(owned, sc.merge());
    }

    #[test]
    fn merging_twice_changes_nothing(sc in scenario()) {
        let plan = sc.merge();
        let (base, table, sheet) = sc.applied(&plan);
        let again = Scenario { base, table, sheet, ..sc.clone() }.merge();
        prop_assert!(again.is_empty(), "second plan: {:?}", again);
        let open: Vec<_> = plan.open_conflicts().cloned().collect();
        prop_assert_eq!(again.conflicts, open);
        prop_assert_eq!(again.held_deletes, plan.held_deletes);
        prop_assert_eq!(again.ignored_deletes, plan.ignored_deletes);
    }

    /// Swapping table and sheet, with the mirrored settings, swaps the outputs.
    #[test]
    fn swapping_the_sides_mirrors_the_plan(sc in scenario()) {
        let plan = sc.merge();
        let swapped = Scenario {
            settings: sc.settings.mirrored(),
            table: sc.sheet.clone(),
            sheet: sc.table.clone(),
            ..sc.clone()
        }
        .merge();
        prop_assert_eq!(&swapped.to_table, &plan.to_sheet);
        prop_assert_eq!(&swapped.to_sheet, &plan.to_table);
        prop_assert_eq!(&swapped.base, &plan.base);
        let mirrored: Vec<_> = plan.conflicts.iter().map(MergeConflict::mirrored).collect();
        prop_assert_eq!(&swapped.conflicts, &mirrored);
        let flip = |h: &HeldDelete| HeldDelete { deleted_on: h.deleted_on.other(), ..h.clone() };
        prop_assert_eq!(&swapped.held_deletes, &plan.held_deletes.iter().map(flip).collect::<Vec<_>>());
        let flip = |i: &IgnoredDelete| IgnoredDelete { deleted_on: i.deleted_on.other(), ..i.clone() };
        prop_assert_eq!(&swapped.ignored_deletes, &plan.ignored_deletes.iter().map(flip).collect::<Vec<_>>());
        prop_assert_eq!(swapped.counts, plan.counts);
    }

    /// A cell changed on one side only, and a row inserted on one side only,
    /// reach the other side; where a one-way pair overwrites one instead, the
    /// edit is reported.
    #[test]
    fn a_change_on_one_side_only_is_never_lost(sc in scenario()) {
        let plan = sc.merge();
        let (_, table, sheet) = sc.applied(&plan);
        let overwritten = |k: &Key, col: Option<usize>| {
            plan.conflicts.iter().any(|c| &c.key == k && c.kind == ConflictKind::Overwritten && c.column() == col)
        };
        let source = sc.settings.direction.source();
        for k in union(&[&sc.table, &sc.sheet, &sc.base]) {
            match (sc.base.get(k), sc.table.get(k), sc.sheet.get(k)) {
                (Some(b), Some(t), Some(s)) => {
                    for c in sc.values() {
                        let (side, v) = match (t[c] != b[c], s[c] != b[c]) {
                            (true, false) => (Side::Table, &t[c]),
                            (false, true) => (Side::Sheet, &s[c]),
                            _ => continue,
                        };
                        if source.is_none_or(|src| src == side) {
                            prop_assert_eq!(&table[k][c], v, "table, key {} column {}", k, c);
                            prop_assert_eq!(&sheet[k][c], v, "sheet, key {} column {}", k, c);
                        } else {
                            prop_assert!(overwritten(k, Some(c)), "key {k} column {c}: edit lost, not reported");
                        }
                    }
                }
                (None, Some(row), None) | (None, None, Some(row)) => {
                    let side = if sc.table.contains_key(k) { Side::Table } else { Side::Sheet };
                    if source.is_none_or(|src| src == side) {
                        prop_assert_eq!(table.get(k), Some(row), "inserted key {} on the table", k);
                        prop_assert_eq!(sheet.get(k), Some(row), "inserted key {} on the sheet", k);
                    } else {
                        let reported = overwritten(k, None)
                            || plan.held_deletes.iter().any(|h| &h.key == k)
                            || plan.ignored_deletes.iter().any(|i| &i.key == k);
                        prop_assert!(reported, "key {k}: insert lost, not reported");
                    }
                }
                _ => {}
            }
        }
    }

    /// Every cell the two sides changed differently (or that differs with no
    /// base) is reported exactly once, and no other cell is reported as such.
    #[test]
    fn every_cell_changed_differently_on_both_sides_is_one_conflict(sc in scenario()) {
        let plan = sc.merge();
        let mut expected = Vec::new();
        for k in union(&[&sc.table, &sc.sheet]) {
            if let (Some(t), Some(s)) = (sc.table.get(k), sc.sheet.get(k)) {
                let b = sc.base.get(k);
                for c in sc.values() {
                    if t[c] != s[c] && b.is_none_or(|b| b[c] != t[c] && b[c] != s[c]) {
                        let kind = if b.is_some() { ConflictKind::BothChanged } else { ConflictKind::NoBase };
                        expected.push((k.clone(), c, kind));
                    }
                }
            }
        }
        let reported: Vec<_> = plan
            .conflicts
            .iter()
            .filter(|c| matches!(c.kind, ConflictKind::BothChanged | ConflictKind::NoBase))
            .map(|c| (c.key.clone(), c.column().expect("a cell conflict"), c.kind))
            .collect();
        prop_assert_eq!(reported, expected);
    }

    /// With a first sync (no base at all), nothing is deleted.
    #[test]
    fn a_first_sync_under_both_deletes_nothing(sc in scenario()) {
        let sc = Scenario { base: Snapshot::new(), settings: MergeSettings { direction: Direction::Both, ..sc.settings.clone() }, ..sc };
        let plan = sc.merge();
        prop_assert!(plan.to_table.deletes.is_empty() && plan.to_sheet.deletes.is_empty());
        prop_assert!(plan.held_deletes.is_empty() && plan.ignored_deletes.is_empty());
    }
}
