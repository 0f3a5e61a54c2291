//! What a sync job is told to do: direction, conflict policy, deletions, window, guard.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One of the two sides of a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Side {
    /// The job's account `a`.
    A,
    /// The job's account `b`.
    B,
}

impl Side {
    /// The other side.
    pub fn other(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }

    /// `a` or `b`.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::A => "a",
            Side::B => "b",
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::A => "A",
            Side::B => "B",
        })
    }
}

/// Which way changes flow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    /// A's changes go to B; B is never read for changes to copy and A is never written.
    #[serde(rename = "a-to-b")]
    AToB,
    /// B's changes go to A.
    #[serde(rename = "b-to-a")]
    BToA,
    /// Changes on either side go to the other.
    #[default]
    #[serde(rename = "both")]
    Both,
}

impl Direction {
    /// For one-way jobs: (source, target).
    pub fn one_way(self) -> Option<(Side, Side)> {
        match self {
            Direction::AToB => Some((Side::A, Side::B)),
            Direction::BToA => Some((Side::B, Side::A)),
            Direction::Both => None,
        }
    }

    /// Whether the job may write to `side`.
    pub fn writes_to(self, side: Side) -> bool {
        match self.one_way() {
            Some((_, target)) => target == side,
            None => true,
        }
    }
}

/// What a one-way job does with target items that did not come from its source, and with
/// changes made on the target.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetPolicy {
    /// Merge: the target's own items are never touched; edits and deletions made on the
    /// target to copies stay until the source changes the item again.
    #[default]
    Keep,
    /// The target becomes an exact copy: its own items are deleted and edits or deletions
    /// of copies are undone.
    Mirror,
}

/// Who wins when an item changed on both sides since the last sync.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConflictPolicy {
    /// The version with the later LAST-MODIFIED (then SEQUENCE, then DTSTAMP) wins;
    /// on a full tie side A (or a one-way job's source) wins.
    #[default]
    NewestWins,
    /// Side A's version wins.
    AWins,
    /// Side B's version wins.
    BWins,
    /// The newer version keeps the UID on both sides; the other one is kept too, as a new
    /// item with a derived UID, on both sides (one-way: on the target only).
    KeepBoth,
    /// Nothing is written for the item; it is parked with both versions until a person
    /// resolves it (`calport conflicts resolve`).
    Manual,
}

/// An item deleted on one side and changed on the other.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModifyDelete {
    /// The change wins: the item is restored where it was deleted.
    #[default]
    ModifyWins,
    /// The deletion wins: the changed item is deleted too.
    DeleteWins,
}

/// A person's decision for a parked conflict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Keep {
    /// Side A's version goes to both sides.
    A,
    /// Side B's version goes to both sides.
    B,
    /// Both versions are kept (B's as a new item).
    Both,
}

impl Keep {
    /// `a`, `b` or `both`, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Keep::A => "a",
            Keep::B => "b",
            Keep::Both => "both",
        }
    }

    /// Reads the stored form.
    pub fn parse(text: &str) -> Option<Keep> {
        match text {
            "a" => Some(Keep::A),
            "b" => Some(Keep::B),
            "both" => Some(Keep::Both),
            _ => None,
        }
    }
}

/// Everything the planner needs to know about a job's rules.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// Which way changes flow.
    pub direction: Direction,
    /// One-way jobs: what happens to target-only items and target edits.
    pub target: TargetPolicy,
    /// Who wins a conflict.
    pub conflict: ConflictPolicy,
    /// Deleted on one side, changed on the other.
    pub modify_delete: ModifyDelete,
}

/// Events whose occurrences all lie outside this range are left alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// Days before now.
    pub past_days: u32,
    /// Days after now.
    pub future_days: u32,
}

impl Window {
    /// The window as unix seconds `[from, to]` around `now`.
    pub fn range(&self, now: i64) -> (i64, i64) {
        (
            now - i64::from(self.past_days) * 86_400,
            now + i64::from(self.future_days) * 86_400,
        )
    }
}

/// Whether an item with the given spans (any side's current or last-known version) is in
/// the window. Items without a span (tasks, contacts, events without dates) always are.
pub fn in_window(spans: &[Option<(i64, Option<i64>)>], range: Option<(i64, i64)>) -> bool {
    let Some((from, to)) = range else { return true };
    if spans.iter().all(Option::is_none) {
        return true;
    }
    spans
        .iter()
        .flatten()
        .any(|&(start, end)| start <= to && end.is_none_or(|end| end >= from))
}
