//! The mass-deletion guard (pure): stop a collection pair before it deletes too much.

use serde::Serialize;

use super::plan::{Decision, ItemInput, known_on};
use super::policy::Side;

/// Why a collection pair was stopped before deleting anything.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GuardTrip {
    /// The side that would lose items.
    pub side: Side,
    /// How many items the plan deletes there.
    pub deletes: usize,
    /// How many items that side holds (or held at the last sync, if more).
    pub known: usize,
    /// Whether the other side, which had items, is now empty.
    pub other_side_emptied: bool,
}

impl std::fmt::Display for GuardTrip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the plan deletes {} of {} items on side {}",
            self.deletes, self.known, self.side
        )?;
        if self.other_side_emptied {
            write!(f, " because side {} is now empty", self.side.other())?;
        }
        f.write_str("; nothing was written for this collection pair (run with --force-delete if this is intended)")
    }
}

/// Checks a pair's plan: it trips when the plan deletes on a side more than `threshold`
/// (a share, 0–1) of the items that side holds, or deletes anything there
/// because the other side, which had items, is now empty. `present_now` counts the
/// items each side holds now (A, B).
pub fn check(
    plan: &[(ItemInput, Decision)],
    threshold: f64,
    present_now: (usize, usize),
) -> Option<GuardTrip> {
    [Side::A, Side::B].into_iter().find_map(|side| {
        let deletes = plan
            .iter()
            .filter(|(_, d)| d.deletes_on() == Some(side))
            .count();
        if deletes == 0 {
            return None;
        }
        let known = plan.iter().filter(|(i, _)| known_on(i, side)).count();
        let other = side.other();
        let other_known = plan.iter().filter(|(i, _)| known_on(i, other)).count();
        let (this_now, other_now) = match side {
            Side::A => (present_now.0, present_now.1),
            Side::B => (present_now.1, present_now.0),
        };
        let other_side_emptied = other_known > 0 && other_now == 0;
        // The collection's size: what the side holds now (or held at the last sync,
        // whichever is larger).
        let size = known.max(this_now).max(1);
        let too_many = deletes as f64 > threshold * size as f64;
        (too_many || other_side_emptied).then_some(GuardTrip {
            side,
            deletes,
            known: size,
            other_side_emptied,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::plan::{Known, Observed};
    use calport_core::{Etag, ItemRef};

    fn synced(uid: &str, b_now: Observed) -> ItemInput {
        let known = |side: &str| Known {
            href: ItemRef::new(format!("/{side}/{uid}")),
            etag: Some(Etag::new("\"e\"")),
            hash: "h".into(),
        };
        ItemInput {
            uid: uid.into(),
            base_a: Some(known("a")),
            base_b: Some(known("b")),
            a: Observed::Unchanged,
            b: b_now,
            same_content: false,
            in_window: true,
            parked: None,
        }
    }

    fn delete_on_a(uid: &str) -> Decision {
        Decision::Delete {
            on: Side::A,
            href: ItemRef::new(format!("/a/{uid}")),
            etag: None,
            why: "deleted on B",
        }
    }

    #[test]
    fn trips_above_the_share_and_when_a_side_was_emptied() {
        let plan: Vec<(ItemInput, Decision)> = (0..10)
            .map(|i| {
                let uid = format!("u{i}");
                if i < 6 {
                    (synced(&uid, Observed::Absent), delete_on_a(&uid))
                } else {
                    (synced(&uid, Observed::Unchanged), Decision::Nothing)
                }
            })
            .collect();
        let trip = check(&plan, 0.5, (10, 4)).expect("6 of 10 is more than half");
        assert_eq!((trip.side, trip.deletes, trip.known), (Side::A, 6, 10));
        assert!(!trip.other_side_emptied);
        assert!(
            check(&plan, 0.6, (10, 4)).is_none(),
            "6 of 10 is not more than 60 %"
        );
        // B emptied: any deletion on A trips, whatever the share.
        let one = vec![(synced("u0", Observed::Absent), delete_on_a("u0"))];
        let trip = check(&one, 1.0, (1, 0)).expect("B is empty now");
        assert!(trip.other_side_emptied);
        assert!(trip.to_string().contains("side B is now empty"));
    }

    #[test]
    fn a_plan_without_deletions_never_trips() {
        let plan = vec![(synced("u", Observed::Absent), Decision::Nothing)];
        assert!(check(&plan, 0.0, (1, 0)).is_none());
    }
}
