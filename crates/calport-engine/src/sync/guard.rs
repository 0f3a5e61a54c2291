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
    /// How many items that side had at the last sync.
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
/// (a share, 0–1) of the items that side had at the last sync, or deletes anything there
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
        let other_now = match other {
            Side::A => present_now.0,
            Side::B => present_now.1,
        };
        let other_side_emptied = other_known > 0 && other_now == 0;
        let too_many = deletes as f64 > threshold * known.max(1) as f64;
        (too_many || other_side_emptied).then_some(GuardTrip {
            side,
            deletes,
            known,
            other_side_emptied,
        })
    })
}
