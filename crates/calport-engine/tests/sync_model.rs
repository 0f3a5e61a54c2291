//! Property tests of the sync planner on random histories of edits on both sides.
//!
//! Two in-memory "stores" (UID → etag + content) and a status table are driven through
//! the real planner ([`plan_item`]); a small executor here applies its decisions the way
//! the engine does (writes land with a fresh etag; the status row records both sides).
//! Runs can be cut after any number of writes, optionally with the last write landed
//! but its status not committed (a `kill -9` between the PUT and the database commit).

use std::collections::{BTreeMap, BTreeSet};

use calport_core::{Etag, ItemRef};
use calport_engine::sync::plan::{
    Decision, ItemInput, Known, Observed, Parked, Stamp, Version, Write, plan_item,
};
use calport_engine::sync::{ConflictPolicy, Direction, ModifyDelete, Policy, Side, TargetPolicy};
use proptest::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq)]
struct Content {
    value: u8,
    /// Clock tick of the edit: LAST-MODIFIED.
    modified: u32,
}

impl Content {
    fn hash(&self) -> String {
        format!("{}@{}", self.value, self.modified)
    }
}

/// A status row: each side's (etag, hash) at the last sync.
type Row = (Option<(u64, String)>, Option<(u64, String)>);

#[derive(Clone, Debug, Default)]
struct World {
    a: BTreeMap<String, (u64, Content)>,
    b: BTreeMap<String, (u64, Content)>,
    status: BTreeMap<String, Row>,
    parked: BTreeMap<String, Parked>,
    etags: u64,
    clock: u32,
}

#[derive(Clone, Debug)]
enum Edit {
    Put {
        side: Side,
        uid: u8,
        value: u8,
    },
    Delete {
        side: Side,
        uid: u8,
    },
    /// The server rewrites the item (new etag, same meaning).
    Touch {
        side: Side,
        uid: u8,
    },
}

fn edit_strategy() -> impl Strategy<Value = Edit> {
    let side = prop_oneof![Just(Side::A), Just(Side::B)];
    prop_oneof![
        4 => (side.clone(), 0u8..6, any::<u8>()).prop_map(|(side, uid, value)| Edit::Put { side, uid, value }),
        2 => (side.clone(), 0u8..6).prop_map(|(side, uid)| Edit::Delete { side, uid }),
        1 => (side, 0u8..6).prop_map(|(side, uid)| Edit::Touch { side, uid }),
    ]
}

fn policy_strategy() -> impl Strategy<Value = Policy> {
    (
        prop_oneof![
            Just(Direction::Both),
            Just(Direction::AToB),
            Just(Direction::BToA)
        ],
        prop_oneof![Just(TargetPolicy::Keep), Just(TargetPolicy::Mirror)],
        prop_oneof![
            Just(ConflictPolicy::NewestWins),
            Just(ConflictPolicy::AWins),
            Just(ConflictPolicy::BWins),
            Just(ConflictPolicy::KeepBoth),
            Just(ConflictPolicy::Manual)
        ],
        prop_oneof![
            Just(ModifyDelete::ModifyWins),
            Just(ModifyDelete::DeleteWins)
        ],
    )
        .prop_map(|(direction, target, conflict, modify_delete)| Policy {
            direction,
            target,
            conflict,
            modify_delete,
        })
}

impl World {
    fn store(&mut self, side: Side) -> &mut BTreeMap<String, (u64, Content)> {
        match side {
            Side::A => &mut self.a,
            Side::B => &mut self.b,
        }
    }

    fn view(&self, side: Side) -> &BTreeMap<String, (u64, Content)> {
        match side {
            Side::A => &self.a,
            Side::B => &self.b,
        }
    }

    fn next_etag(&mut self) -> u64 {
        self.etags += 1;
        self.etags
    }

    fn edit(&mut self, edit: &Edit) {
        self.clock += 1;
        let clock = self.clock;
        let etag = self.next_etag();
        match edit {
            Edit::Put { side, uid, value } => {
                self.store(*side).insert(
                    format!("u{uid}"),
                    (
                        etag,
                        Content {
                            value: *value,
                            modified: clock,
                        },
                    ),
                );
            }
            Edit::Delete { side, uid } => {
                self.store(*side).remove(&format!("u{uid}"));
            }
            Edit::Touch { side, uid } => {
                if let Some(entry) = self.store(*side).get_mut(&format!("u{uid}")) {
                    entry.0 = etag;
                }
            }
        }
    }

    fn contents(&self, side: Side) -> BTreeMap<String, Content> {
        self.view(side)
            .iter()
            .map(|(k, (_, c))| (k.clone(), c.clone()))
            .collect()
    }

    fn observed(&self, side: Side, uid: &str) -> Observed {
        let base = match side {
            Side::A => self.status.get(uid).and_then(|r| r.0.clone()),
            Side::B => self.status.get(uid).and_then(|r| r.1.clone()),
        };
        match self.view(side).get(uid) {
            None => Observed::Absent,
            Some((etag, _)) if base.as_ref().is_some_and(|(e, _)| e == etag) => Observed::Unchanged,
            Some((etag, content)) => Observed::Read(Version {
                href: ItemRef::new(format!("/{}/{uid}", side.as_str())),
                etag: Etag::new(etag.to_string()),
                hash: content.hash(),
                stamp: Stamp {
                    last_modified: Some(format!("{:010}", content.modified)),
                    sequence: 0,
                    dtstamp: None,
                },
            }),
        }
    }

    fn input(&self, uid: &str) -> ItemInput {
        let known = |side: Side, row: Option<(u64, String)>| {
            row.map(|(etag, hash)| Known {
                href: ItemRef::new(format!("/{}/{uid}", side.as_str())),
                etag: Some(Etag::new(etag.to_string())),
                hash,
            })
        };
        let row = self.status.get(uid).cloned().unwrap_or((None, None));
        let a = self.observed(Side::A, uid);
        let b = self.observed(Side::B, uid);
        let same_content =
            matches!((&a, &b), (Observed::Read(x), Observed::Read(y)) if x.hash == y.hash);
        ItemInput {
            uid: uid.to_owned(),
            base_a: known(Side::A, row.0),
            base_b: known(Side::B, row.1),
            a,
            b,
            same_content,
            in_window: true,
            parked: self.parked.get(uid).cloned(),
        }
    }

    fn uids(&self) -> BTreeSet<String> {
        self.status
            .keys()
            .chain(self.a.keys())
            .chain(self.b.keys())
            .cloned()
            .collect()
    }

    fn plan(&self, policy: &Policy) -> Vec<(ItemInput, Decision)> {
        self.uids()
            .into_iter()
            .map(|uid| {
                let input = self.input(&uid);
                let decision = plan_item(&input, policy);
                (input, decision)
            })
            .collect()
    }

    /// The status row of `uid` as both sides are now.
    fn row_now(&self, uid: &str) -> Row {
        let side = |s: Side| self.view(s).get(uid).map(|(e, c)| (*e, c.hash()));
        (side(Side::A), side(Side::B))
    }

    fn commit_now(&mut self, uid: &str) {
        let row = self.row_now(uid);
        if row.0.is_none() && row.1.is_none() {
            self.status.remove(uid);
        } else {
            self.status.insert(uid.to_owned(), row);
        }
    }

    fn content_of(&self, side: Side, uid: &str) -> Content {
        self.view(side)
            .get(uid)
            .map(|(_, c)| c.clone())
            .expect("the planner copies only present versions")
    }

    fn write(&mut self, side: Side, uid: &str, content: Content, write: &Write) {
        if let Write::Update {
            etag: Some(expected),
            ..
        } = write
        {
            let current = self.view(side).get(uid).map(|(e, _)| e.to_string());
            assert_eq!(
                current.as_deref(),
                Some(expected.as_str()),
                "an update's precondition must hold in this world"
            );
        }
        let etag = self.next_etag();
        self.store(side).insert(uid.to_owned(), (etag, content));
    }

    /// Runs one sync. `cut`: stop after this many writing decisions; `torn`: the last of
    /// them lands on the store but its status is not committed. Returns the plan.
    fn run(
        &mut self,
        policy: &Policy,
        cut: Option<usize>,
        torn: bool,
    ) -> Vec<(ItemInput, Decision)> {
        let plan = self.plan(policy);
        let mut writes = 0;
        for (input, decision) in &plan {
            let uid = input.uid.as_str();
            let is_write = decision.writes();
            if is_write {
                if cut.is_some_and(|c| writes >= c) {
                    break;
                }
                writes += 1;
            }
            let commit = !(torn && is_write && cut == Some(writes));
            match decision {
                Decision::Nothing | Decision::Skip { .. } => {}
                Decision::Adopt => {
                    if commit {
                        self.commit_now(uid);
                    }
                }
                Decision::Forget => {
                    if commit {
                        self.status.remove(uid);
                    }
                }
                Decision::Park { .. } => {
                    self.parked.insert(
                        uid.to_owned(),
                        Parked {
                            a_etag: etag_of(&input.a, input.base_a.as_ref()),
                            b_etag: etag_of(&input.b, input.base_b.as_ref()),
                            resolution: None,
                        },
                    );
                }
                Decision::Copy { from, write, .. } => {
                    let content = self.content_of(*from, uid);
                    self.write(from.other(), uid, content, write);
                    if commit {
                        self.commit_now(uid);
                    }
                }
                Decision::Delete { on, .. } => {
                    self.store(*on).remove(uid);
                    if commit {
                        self.status.remove(uid);
                    }
                }
                Decision::KeepBoth {
                    keeper,
                    write,
                    copy_sides,
                } => {
                    let loser = self.content_of(keeper.other(), uid);
                    let new_uid = format!("{uid}~{}", loser.hash());
                    for side in copy_sides {
                        let etag = self.next_etag();
                        self.store(*side)
                            .insert(new_uid.clone(), (etag, loser.clone()));
                    }
                    let kept = self.content_of(*keeper, uid);
                    self.write(keeper.other(), uid, kept, write);
                    if commit {
                        // One-way: the copy is the target's own item, not tracked.
                        if copy_sides.len() == 2 {
                            self.commit_now(&new_uid);
                        }
                        self.commit_now(uid);
                    }
                }
            }
            if !matches!(decision, Decision::Park { .. }) && commit {
                self.parked.remove(uid);
            }
        }
        plan
    }
}

fn etag_of(observed: &Observed, base: Option<&Known>) -> Option<Etag> {
    match observed {
        Observed::Read(v) => Some(v.etag.clone()),
        Observed::Unchanged => base.and_then(|k| k.etag.clone()),
        _ => None,
    }
}

/// A world whose two sides were synced once (two-way, newest wins), then edited.
fn world_from(initial: &[Edit], later: &[Edit]) -> World {
    let mut world = World::default();
    for e in initial {
        world.edit(e);
    }
    world.run(&Policy::default(), None, false);
    for e in later {
        world.edit(e);
    }
    world
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]

    #[test]
    fn a_second_run_plans_no_writes(
        initial in prop::collection::vec(edit_strategy(), 0..10),
        later in prop::collection::vec(edit_strategy(), 0..10),
        policy in policy_strategy(),
    ) {
        let mut world = world_from(&initial, &later);
        world.run(&policy, None, false);
        let again = world.plan(&policy);
        for (input, decision) in &again {
            prop_assert!(!decision.writes(), "second run writes {decision:?} for {input:?}");
            if policy.conflict != ConflictPolicy::Manual {
                prop_assert!(
                    matches!(decision, Decision::Nothing),
                    "second run plans {decision:?} for {input:?}"
                );
            }
        }
    }

    #[test]
    fn after_a_two_way_sync_both_sides_are_equal(
        initial in prop::collection::vec(edit_strategy(), 0..10),
        later in prop::collection::vec(edit_strategy(), 0..12),
        conflict in prop_oneof![
            Just(ConflictPolicy::NewestWins),
            Just(ConflictPolicy::AWins),
            Just(ConflictPolicy::BWins),
            Just(ConflictPolicy::KeepBoth)
        ],
        modify_delete in prop_oneof![Just(ModifyDelete::ModifyWins), Just(ModifyDelete::DeleteWins)],
    ) {
        let policy = Policy { conflict, modify_delete, ..Policy::default() };
        let mut world = world_from(&initial, &later);
        world.run(&policy, None, false);
        prop_assert_eq!(world.contents(Side::A), world.contents(Side::B));
    }

    #[test]
    fn no_item_changed_since_the_last_sync_is_deleted_by_default(
        initial in prop::collection::vec(edit_strategy(), 0..10),
        later in prop::collection::vec(edit_strategy(), 0..12),
    ) {
        let mut world = world_from(&initial, &later);
        let mut edited: Vec<(Side, String)> = Vec::new();
        for side in [Side::A, Side::B] {
            for (uid, (_, content)) in world.view(side) {
                let base = world.status.get(uid).and_then(|r| match side {
                    Side::A => r.0.clone(),
                    Side::B => r.1.clone(),
                });
                if base.is_none_or(|(_, hash)| hash != content.hash()) {
                    edited.push((side, uid.clone()));
                }
            }
        }
        world.run(&Policy::default(), None, false);
        for (side, uid) in edited {
            prop_assert!(world.view(side).contains_key(&uid), "{uid} edited on {side} was deleted");
        }
    }

    #[test]
    fn an_interrupted_run_converges_to_the_uninterrupted_result(
        initial in prop::collection::vec(edit_strategy(), 0..10),
        later in prop::collection::vec(edit_strategy(), 0..12),
        policy in policy_strategy(),
        cut in 0usize..8,
        torn in any::<bool>(),
    ) {
        let start = world_from(&initial, &later);
        let mut straight = start.clone();
        straight.run(&policy, None, false);
        let mut interrupted = start.clone();
        interrupted.run(&policy, Some(cut), torn);
        interrupted.run(&policy, None, false);
        // A torn write may leave a conflict the straight run did not have; a manual job
        // parks it instead of resolving, so only compare where the policy decides.
        if policy.conflict != ConflictPolicy::Manual {
            prop_assert_eq!(straight.contents(Side::A), interrupted.contents(Side::A));
            prop_assert_eq!(straight.contents(Side::B), interrupted.contents(Side::B));
        }
        // And it settles: nothing more to write.
        for (input, decision) in interrupted.plan(&policy) {
            prop_assert!(!decision.writes(), "{decision:?} for {input:?} after convergence");
        }
    }

    #[test]
    fn one_way_jobs_never_touch_the_source_and_mirrors_equal_it(
        initial in prop::collection::vec(edit_strategy(), 0..10),
        later in prop::collection::vec(edit_strategy(), 0..12),
        policy in policy_strategy().prop_filter("one-way", |p| p.direction != Direction::Both),
    ) {
        let mut world = world_from(&initial, &later);
        let (source, target) = policy.direction.one_way().unwrap_or((Side::A, Side::B));
        let before = world.contents(source);
        world.run(&policy, None, false);
        prop_assert_eq!(&before, &world.contents(source));
        if policy.target == TargetPolicy::Mirror {
            prop_assert_eq!(world.contents(source), world.contents(target));
        }
    }

    #[test]
    fn a_resolved_manual_conflict_converges(
        value_a in any::<u8>(),
        value_b in any::<u8>(),
        keep in prop_oneof![
            Just(calport_engine::sync::Keep::A),
            Just(calport_engine::sync::Keep::B),
            Just(calport_engine::sync::Keep::Both)
        ],
    ) {
        prop_assume!(value_a != value_b);
        let policy = Policy { conflict: ConflictPolicy::Manual, ..Policy::default() };
        let mut world = world_from(
            &[Edit::Put { side: Side::A, uid: 1, value: 0 }],
            &[
                Edit::Put { side: Side::A, uid: 1, value: value_a },
                Edit::Put { side: Side::B, uid: 1, value: value_b },
            ],
        );
        let a_before = world.content_of(Side::A, "u1");
        let b_before = world.content_of(Side::B, "u1");
        world.run(&policy, None, false);
        prop_assert!(world.parked.contains_key("u1"), "parked");
        prop_assert_eq!(world.content_of(Side::A, "u1"), a_before.clone(), "nothing written while parked");
        world.run(&policy, None, false);
        prop_assert!(world.parked.contains_key("u1"), "still parked on the next run");
        if let Some(p) = world.parked.get_mut("u1") {
            p.resolution = Some(keep);
        }
        world.run(&policy, None, false);
        prop_assert!(!world.parked.contains_key("u1"), "resolved");
        prop_assert_eq!(world.contents(Side::A), world.contents(Side::B));
        let expected = match keep {
            calport_engine::sync::Keep::A => a_before,
            calport_engine::sync::Keep::B => b_before,
            // The newer (B, edited last) keeps the UID; A's version lives on as a copy.
            calport_engine::sync::Keep::Both => b_before,
        };
        prop_assert_eq!(world.content_of(Side::A, "u1"), expected);
        if keep == calport_engine::sync::Keep::Both {
            prop_assert_eq!(world.a.len(), 2, "both versions kept");
        }
    }
}
