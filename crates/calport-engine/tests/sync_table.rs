//! Table tests of the sync planner: every (state on A) × (state on B) × direction ×
//! target policy × conflict policy × modify/delete rule.
//!
//! Grids read row = A's state, column = B's state, in the order same, changed, gone,
//! new, missing. Codes: `-` nothing, `=` adopt (record, no write), `A>B` copy A's
//! version to B, `B>A`, `xA` delete on A, `xB`, `F` forget, `P` park, `KA` / `KB` keep
//! both with A's / B's version keeping the UID.

use calport_core::{Etag, ItemRef};
use calport_engine::sync::plan::{
    Decision, ItemInput, Known, Observed, Stamp, Version, Write, plan_item,
};
use calport_engine::sync::{ConflictPolicy, Direction, ModifyDelete, Policy, Side, TargetPolicy};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Same,
    Changed,
    Gone,
    New,
    Missing,
}

const STATES: [State; 5] = [
    State::Same,
    State::Changed,
    State::Gone,
    State::New,
    State::Missing,
];

fn version(side: &str, hash: &str, modified: &str) -> Version {
    Version {
        href: ItemRef::new(format!("/{side}/x.ics")),
        etag: Etag::new(format!("\"{side}-{hash}\"")),
        hash: hash.to_owned(),
        stamp: Stamp {
            last_modified: Some(modified.to_owned()),
            sequence: 0,
            dtstamp: None,
        },
    }
}

/// One side in `state`; `modified` orders the two sides' edits.
fn side(name: &str, state: State, modified: &str) -> (Option<Known>, Observed) {
    let base = Known {
        href: ItemRef::new(format!("/{name}/x.ics")),
        etag: Some(Etag::new(format!("\"{name}-old\""))),
        hash: "base".to_owned(),
    };
    match state {
        State::Same => (Some(base), Observed::Unchanged),
        State::Changed => (
            Some(base),
            Observed::Read(version(name, &format!("{name}-edit"), modified)),
        ),
        State::Gone => (Some(base), Observed::Absent),
        State::New => (
            None,
            Observed::Read(version(name, &format!("{name}-new"), modified)),
        ),
        State::Missing => (None, Observed::Absent),
    }
}

fn input(a: State, b: State, a_newer: bool) -> ItemInput {
    let (older, newer) = ("20250101T000000Z", "20250202T000000Z");
    let (a_mod, b_mod) = if a_newer {
        (newer, older)
    } else {
        (older, newer)
    };
    let (base_a, a) = side("a", a, a_mod);
    let (base_b, b) = side("b", b, b_mod);
    ItemInput {
        uid: "x".into(),
        base_a,
        base_b,
        a,
        b,
        same_content: false,
        in_window: true,
        parked: None,
    }
}

fn code(decision: &Decision) -> String {
    match decision {
        Decision::Nothing => "-".into(),
        Decision::Adopt => "=".into(),
        Decision::Copy { from, .. } => format!("{from}>{}", from.other()),
        Decision::Delete { on, .. } => format!("x{on}"),
        Decision::Forget => "F".into(),
        Decision::Park { .. } => "P".into(),
        Decision::KeepBoth { keeper, .. } => format!("K{keeper}"),
        Decision::Skip { .. } => "S".into(),
    }
}

fn grid(policy: Policy, a_newer: bool) -> Vec<Vec<String>> {
    STATES
        .iter()
        .map(|&a| {
            STATES
                .iter()
                .map(|&b| code(&plan_item(&input(a, b, a_newer), &policy)))
                .collect()
        })
        .collect()
}

fn parse(expected: &str) -> Vec<Vec<String>> {
    expected
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            l.split('|')
                .nth(1)
                .unwrap_or(l)
                .split_whitespace()
                .map(str::to_owned)
                .collect()
        })
        .collect()
}

fn assert_grid(policy: Policy, a_newer: bool, expected: &str) {
    let got = grid(policy, a_newer);
    let want = parse(expected);
    let names = ["same", "changed", "gone", "new", "missing"];
    let mut problems = Vec::new();
    for (i, row) in want.iter().enumerate() {
        for (j, cell) in row.iter().enumerate() {
            if got[i][j] != *cell {
                problems.push(format!(
                    "A {} × B {}: expected {cell}, planned {}",
                    names[i], names[j], got[i][j]
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{policy:?} (A newer: {a_newer}):\n{}",
        problems.join("\n")
    );
}

fn policy(
    direction: Direction,
    target: TargetPolicy,
    conflict: ConflictPolicy,
    md: ModifyDelete,
) -> Policy {
    Policy {
        direction,
        target,
        conflict,
        modify_delete: md,
    }
}

#[test]
fn two_way_newest_wins_modify_wins() {
    let p = Policy::default();
    assert_grid(
        p,
        true,
        "
        same    | -   B>A xA  B>A A>B
        changed | A>B A>B A>B A>B A>B
        gone    | xB  B>A F   B>A F
        new     | A>B A>B A>B A>B A>B
        missing | B>A B>A F   B>A -
        ",
    );
    assert_grid(
        p,
        false,
        "
        same    | -   B>A xA  B>A A>B
        changed | A>B B>A A>B B>A A>B
        gone    | xB  B>A F   B>A F
        new     | A>B B>A A>B B>A A>B
        missing | B>A B>A F   B>A -
        ",
    );
}

#[test]
fn two_way_delete_wins() {
    let p = Policy {
        modify_delete: ModifyDelete::DeleteWins,
        ..Policy::default()
    };
    assert_grid(
        p,
        true,
        "
        same    | -   B>A xA  B>A A>B
        changed | A>B A>B xA  A>B A>B
        gone    | xB  xB  F   xB  F
        new     | A>B A>B xA  A>B A>B
        missing | B>A B>A F   B>A -
        ",
    );
}

#[test]
fn conflict_policies_decide_only_the_both_changed_cells() {
    for (conflict, a_newer_cell, b_newer_cell) in [
        (ConflictPolicy::NewestWins, "A>B", "B>A"),
        (ConflictPolicy::AWins, "A>B", "A>B"),
        (ConflictPolicy::BWins, "B>A", "B>A"),
        (ConflictPolicy::KeepBoth, "KA", "KB"),
        (ConflictPolicy::Manual, "P", "P"),
    ] {
        let p = Policy {
            conflict,
            ..Policy::default()
        };
        for (a_newer, cell) in [(true, a_newer_cell), (false, b_newer_cell)] {
            for (a, b) in [
                (State::Changed, State::Changed),
                (State::Changed, State::New),
                (State::New, State::Changed),
                (State::New, State::New),
            ] {
                let got = code(&plan_item(&input(a, b, a_newer), &p));
                assert_eq!(
                    got, cell,
                    "{conflict:?}, A {a:?} × B {b:?}, A newer {a_newer}"
                );
            }
        }
        // Every other cell is the same as under newest-wins.
        for &a in &STATES {
            for &b in &STATES {
                let touched = |s| matches!(s, State::Changed | State::New);
                if touched(a) && touched(b) {
                    continue;
                }
                assert_eq!(
                    code(&plan_item(&input(a, b, true), &p)),
                    code(&plan_item(&input(a, b, true), &Policy::default())),
                    "{conflict:?} changed A {a:?} × B {b:?}"
                );
            }
        }
    }
}

#[test]
fn one_way_keep() {
    let p = policy(
        Direction::AToB,
        TargetPolicy::Keep,
        ConflictPolicy::NewestWins,
        ModifyDelete::ModifyWins,
    );
    assert_grid(
        p,
        true,
        "
        same    | -   =   =   =   -
        changed | A>B A>B A>B A>B A>B
        gone    | xB  F   F   F   F
        new     | A>B A>B A>B A>B A>B
        missing | F   F   F   -   -
        ",
    );
    // The target's newer edit wins a conflict: it stays where it is.
    assert_grid(
        p,
        false,
        "
        same    | -   =   =   =   -
        changed | A>B =   A>B =   A>B
        gone    | xB  F   F   F   F
        new     | A>B =   A>B =   A>B
        missing | F   F   F   -   -
        ",
    );
    let delete_wins = Policy {
        modify_delete: ModifyDelete::DeleteWins,
        ..p
    };
    assert_grid(
        delete_wins,
        true,
        "
        same    | -   =   =   =   -
        changed | A>B A>B =   A>B =
        gone    | xB  xB  F   xB  F
        new     | A>B A>B =   A>B A>B
        missing | F   F   F   -   -
        ",
    );
}

#[test]
fn one_way_mirror() {
    for conflict in [
        ConflictPolicy::NewestWins,
        ConflictPolicy::BWins,
        ConflictPolicy::Manual,
        ConflictPolicy::KeepBoth,
    ] {
        for md in [ModifyDelete::ModifyWins, ModifyDelete::DeleteWins] {
            let p = policy(Direction::AToB, TargetPolicy::Mirror, conflict, md);
            for a_newer in [true, false] {
                assert_grid(
                    p,
                    a_newer,
                    "
                    same    | -   A>B A>B A>B A>B
                    changed | A>B A>B A>B A>B A>B
                    gone    | xB  xB  F   xB  F
                    new     | A>B A>B A>B A>B A>B
                    missing | xB  xB  F   xB  -
                    ",
                );
            }
        }
    }
}

fn swap_side(s: Side) -> Side {
    s.other()
}

fn swap_input(i: &ItemInput) -> ItemInput {
    ItemInput {
        base_a: i.base_b.clone(),
        base_b: i.base_a.clone(),
        a: i.b.clone(),
        b: i.a.clone(),
        ..i.clone()
    }
}

fn swap_decision(d: &Decision) -> Decision {
    match d.clone() {
        Decision::Copy { from, write, why } => Decision::Copy {
            from: swap_side(from),
            write,
            why,
        },
        Decision::Delete {
            on,
            href,
            etag,
            why,
        } => Decision::Delete {
            on: swap_side(on),
            href,
            etag,
            why,
        },
        Decision::KeepBoth {
            keeper,
            write,
            copy_sides,
        } => Decision::KeepBoth {
            keeper: swap_side(keeper),
            write,
            copy_sides: copy_sides.into_iter().map(swap_side).rev().collect(),
        },
        other => other,
    }
}

/// Every combination, checked against rules that hold across the tables.
#[test]
fn every_combination_keeps_the_invariants() {
    let directions = [Direction::Both, Direction::AToB, Direction::BToA];
    let targets = [TargetPolicy::Keep, TargetPolicy::Mirror];
    let conflicts = [
        ConflictPolicy::NewestWins,
        ConflictPolicy::AWins,
        ConflictPolicy::BWins,
        ConflictPolicy::KeepBoth,
        ConflictPolicy::Manual,
    ];
    let mds = [ModifyDelete::ModifyWins, ModifyDelete::DeleteWins];
    let mut combinations = 0;
    for direction in directions {
        for target in targets {
            for conflict in conflicts {
                for md in mds {
                    let p = policy(direction, target, conflict, md);
                    for &a in &STATES {
                        for &b in &STATES {
                            for a_newer in [true, false] {
                                combinations += 1;
                                check_invariants(&p, &input(a, b, a_newer), (a, b));
                            }
                        }
                    }
                }
            }
        }
    }
    assert_eq!(combinations, 3 * 2 * 5 * 2 * 25 * 2);
}

fn check_invariants(p: &Policy, i: &ItemInput, states: (State, State)) {
    let d = plan_item(i, p);
    let ctx = format!("{p:?} {states:?}: {d:?}");
    // One-way jobs never write their source.
    if let Some((source, _)) = p.direction.one_way() {
        match &d {
            Decision::Copy { from, .. } => assert_eq!(*from, source, "{ctx}"),
            Decision::Delete { on, .. } => assert_ne!(*on, source, "{ctx}"),
            Decision::KeepBoth {
                keeper, copy_sides, ..
            } => {
                assert_eq!(*keeper, source, "{ctx}");
                assert!(!copy_sides.contains(&source), "{ctx}");
            }
            _ => {}
        }
    }
    // A copy goes over the target's resource when there is one, else creates.
    if let Decision::Copy { from, write, .. } = &d {
        let target_present = match from.other() {
            Side::A => !matches!(i.a, Observed::Absent),
            Side::B => !matches!(i.b, Observed::Absent),
        };
        assert_eq!(
            matches!(write, Write::Update { .. }),
            target_present,
            "{ctx}"
        );
    }
    // Manual never writes a conflicting item.
    let touched = |s| matches!(s, State::Changed | State::New);
    if p.conflict == ConflictPolicy::Manual
        && touched(states.0)
        && touched(states.1)
        && p.target == TargetPolicy::Keep
    {
        assert!(!d.writes(), "{ctx}");
    }
    // Equal content on both sides is adopted, never written.
    let mut same = i.clone();
    same.same_content = true;
    if touched(states.0) && touched(states.1) {
        assert_eq!(plan_item(&same, p), Decision::Adopt, "{ctx}");
    }
    // Unreadable on either side, or outside the window: nothing is decided.
    let mut unreadable = i.clone();
    unreadable.b = Observed::Unreadable("broken".into());
    assert!(
        matches!(plan_item(&unreadable, p), Decision::Skip { .. }),
        "{ctx}"
    );
    let mut outside = i.clone();
    outside.in_window = false;
    assert!(
        matches!(plan_item(&outside, p), Decision::Skip { .. }),
        "{ctx}"
    );
    // Two-way planning is symmetric: swapping the sides (and a-wins/b-wins) swaps the plan.
    if p.direction == Direction::Both {
        let swapped_policy = Policy {
            conflict: match p.conflict {
                ConflictPolicy::AWins => ConflictPolicy::BWins,
                ConflictPolicy::BWins => ConflictPolicy::AWins,
                other => other,
            },
            ..*p
        };
        assert_eq!(
            code(&plan_item(&swap_input(i), &swapped_policy)),
            code(&swap_decision(&d)),
            "{ctx} (swapped)"
        );
    }
    // a-to-b and b-to-a are mirror images.
    if let Some((source, _)) = p.direction.one_way() {
        let reverse = Policy {
            direction: if source == Side::A {
                Direction::BToA
            } else {
                Direction::AToB
            },
            conflict: match p.conflict {
                ConflictPolicy::AWins => ConflictPolicy::BWins,
                ConflictPolicy::BWins => ConflictPolicy::AWins,
                other => other,
            },
            ..*p
        };
        assert_eq!(
            code(&plan_item(&swap_input(i), &reverse)),
            code(&swap_decision(&d)),
            "{ctx} (reversed)"
        );
    }
}
