//! The sync planner: a pure function from (last-known status, what each side holds now,
//! the job's policy) to one [`Decision`] per item.
//!
//! Each side's state is reduced to a [`Delta`] against the status ("the last sync"):
//! unchanged, changed, gone, new or missing. A side counts as changed only when its etag
//! moved **and** its normalized content hash differs from the status: a server that
//! rewrites DTSTAMP or reorders time zones changes nothing. The decision table is in
//! [`plan_item`]; `--dry-run` prints exactly these decisions and the executor runs them.

use calport_core::{Etag, ItemRef};

use super::policy::{ConflictPolicy, Direction, Keep, ModifyDelete, Policy, Side, TargetPolicy};

/// What the status says about an item on one side after the last sync.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Known {
    /// Where it lived.
    pub href: ItemRef,
    /// Its etag then (`None` if a write returned none).
    pub etag: Option<Etag>,
    /// Its normalized content hash then.
    pub hash: String,
}

/// Fields used to tell which of two versions is newer.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Stamp {
    /// LAST-MODIFIED (vCard: REV), as UTC `YYYYMMDDTHHMMSSZ` when known.
    pub last_modified: Option<String>,
    /// SEQUENCE (0 when absent).
    pub sequence: i64,
    /// DTSTAMP, as UTC `YYYYMMDDTHHMMSSZ` when known.
    pub dtstamp: Option<String>,
}

/// A version of an item read in this run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    /// Where it lives.
    pub href: ItemRef,
    /// Its etag.
    pub etag: Etag,
    /// Its normalized content hash.
    pub hash: String,
    /// What says how new it is.
    pub stamp: Stamp,
}

/// What one side holds now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Observed {
    /// Listed with the etag the status knows (or not listed by an incremental report):
    /// the same version as at the last sync, not fetched.
    Unchanged,
    /// Fetched in this run (new, or its etag moved).
    Read(Version),
    /// Not there.
    Absent,
    /// There, but it could not be read (fetch failed, malformed, several items in one
    /// resource): nothing is decided for the item in this run.
    Unreadable(String),
}

/// A conflict parked by an earlier run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parked {
    /// Side A's etag when parked (`None`: absent there).
    pub a_etag: Option<Etag>,
    /// Side B's etag when parked.
    pub b_etag: Option<Etag>,
    /// What a person chose, if anything.
    pub resolution: Option<Keep>,
}

/// Everything the planner looks at for one item (one UID).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemInput {
    /// The item's UID.
    pub uid: String,
    /// Side A at the last sync.
    pub base_a: Option<Known>,
    /// Side B at the last sync.
    pub base_b: Option<Known>,
    /// Side A now.
    pub a: Observed,
    /// Side B now.
    pub b: Observed,
    /// When both sides were read: whether the two versions mean the same (semantic
    /// comparison, forgiving server rewrites). Ignored otherwise.
    pub same_content: bool,
    /// Whether the item is inside the job's sync window (always true without a window).
    pub in_window: bool,
    /// A conflict parked for this item by an earlier run.
    pub parked: Option<Parked>,
}

/// How an item is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Write {
    /// As a new resource (named after the UID).
    Create,
    /// Over the resource at `href`, only if its etag is still `etag`.
    Update {
        /// The resource.
        href: ItemRef,
        /// Its current etag (`None`: unknown, look it up first).
        etag: Option<Etag>,
    },
}

/// What happens to one item in a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Nothing changed.
    Nothing,
    /// No write; record what each side holds now as the new status (contents equal, or
    /// only etags moved, or a change the policy leaves where it is).
    Adopt,
    /// Copy `from`'s version to the other side.
    Copy {
        /// Where the version comes from.
        from: Side,
        /// Create or update on the other side.
        write: Write,
        /// Why, in words.
        why: &'static str,
    },
    /// Delete the item on `on`.
    Delete {
        /// The side to delete on.
        on: Side,
        /// The resource.
        href: ItemRef,
        /// Its current etag (`None`: unknown).
        etag: Option<Etag>,
        /// Why, in words.
        why: &'static str,
    },
    /// Gone from the job's view on both sides (or left to the target): drop the status.
    Forget,
    /// Both sides changed and the policy says a person decides: park both versions.
    Park {
        /// Why, in words.
        why: &'static str,
    },
    /// Both sides changed: `keeper`'s version keeps the UID (copied over the other
    /// side's), the other version is kept as a new item with a derived UID, created on
    /// `copy_sides`.
    KeepBoth {
        /// Whose version keeps the UID.
        keeper: Side,
        /// Write of the keeper's version over the other side.
        write: Write,
        /// Where the other version is created under its new UID (both sides, or only a
        /// one-way job's target).
        copy_sides: Vec<Side>,
    },
    /// Nothing is decided for the item in this run.
    Skip {
        /// Why, in words.
        why: String,
    },
}

impl Decision {
    /// Whether the decision writes anything to a store.
    pub fn writes(&self) -> bool {
        matches!(
            self,
            Decision::Copy { .. } | Decision::Delete { .. } | Decision::KeepBoth { .. }
        )
    }

    /// The side a delete happens on, if it is one.
    pub fn deletes_on(&self) -> Option<Side> {
        match self {
            Decision::Delete { on, .. } => Some(*on),
            _ => None,
        }
    }
}

/// An item's state on one side relative to the last sync.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delta {
    /// There, as at the last sync (or only its etag moved).
    Same,
    /// There, with other content.
    Changed,
    /// Was there at the last sync, is gone now.
    Gone,
    /// There now, not at the last sync.
    New,
    /// Neither there now nor at the last sync.
    Missing,
}

/// Reduces a side to its [`Delta`]; `None` when it is unreadable.
pub fn delta(base: Option<&Known>, now: &Observed) -> Option<Delta> {
    Some(match (base, now) {
        (_, Observed::Unreadable(_)) => return None,
        (Some(_), Observed::Unchanged) => Delta::Same,
        (Some(known), Observed::Read(v)) if v.hash == known.hash => Delta::Same,
        (Some(_), Observed::Read(_)) => Delta::Changed,
        (Some(_), Observed::Absent) => Delta::Gone,
        (None, Observed::Read(_)) => Delta::New,
        // "Unchanged" without a status row cannot be produced by a listing; the item is
        // there, and nothing is known about it.
        (None, Observed::Unchanged) => Delta::Same,
        (None, Observed::Absent) => Delta::Missing,
    })
}

fn side_of(input: &ItemInput, side: Side) -> (&Option<Known>, &Observed) {
    match side {
        Side::A => (&input.base_a, &input.a),
        Side::B => (&input.base_b, &input.b),
    }
}

/// Where a write to `side` goes: over the current resource, or a new one.
fn write_to(input: &ItemInput, side: Side) -> Write {
    let (base, now) = side_of(input, side);
    match (now, base) {
        (Observed::Read(v), _) => Write::Update {
            href: v.href.clone(),
            etag: Some(v.etag.clone()),
        },
        (Observed::Unchanged, Some(known)) => Write::Update {
            href: known.href.clone(),
            etag: known.etag.clone(),
        },
        _ => Write::Create,
    }
}

fn delete_on(input: &ItemInput, side: Side, why: &'static str) -> Decision {
    let (base, now) = side_of(input, side);
    let (href, etag) = match (now, base) {
        (Observed::Read(v), _) => (v.href.clone(), Some(v.etag.clone())),
        (_, Some(known)) => (known.href.clone(), known.etag.clone()),
        // Nothing to delete: the caller only deletes present items.
        _ => return Decision::Forget,
    };
    Decision::Delete {
        on: side,
        href,
        etag,
        why,
    }
}

fn copy(input: &ItemInput, from: Side, why: &'static str) -> Decision {
    Decision::Copy {
        from,
        write: write_to(input, from.other()),
        why,
    }
}

/// Whether any side was re-read although nothing changed: the status must learn the new
/// etag.
fn refreshed(input: &ItemInput) -> bool {
    matches!(input.a, Observed::Read(_)) || matches!(input.b, Observed::Read(_))
}

fn stamp(observed: &Observed) -> Option<&Stamp> {
    match observed {
        Observed::Read(v) => Some(&v.stamp),
        _ => None,
    }
}

/// The newer of two versions by LAST-MODIFIED, then SEQUENCE, then DTSTAMP; `tie` wins
/// when nothing tells them apart.
pub fn newer(a: Option<&Stamp>, b: Option<&Stamp>, tie: Side) -> Side {
    let key =
        |s: Option<&Stamp>| s.map(|s| (s.last_modified.clone(), s.sequence, s.dtstamp.clone()));
    match key(a).cmp(&key(b)) {
        std::cmp::Ordering::Greater => Side::A,
        std::cmp::Ordering::Less => Side::B,
        std::cmp::Ordering::Equal => tie,
    }
}

/// Both sides changed (or both are new with different content).
fn conflict(input: &ItemInput, policy: &Policy) -> Decision {
    let one_way = policy.direction.one_way();
    if let Some((source, _)) = one_way
        && policy.target == TargetPolicy::Mirror
    {
        return copy(input, source, "the target mirrors the source");
    }
    let tie = one_way.map_or(Side::A, |(source, _)| source);
    let newest = newer(stamp(&input.a), stamp(&input.b), tie);
    let chosen = match &input.parked {
        Some(parked)
            if parked.a_etag.as_ref() == etag_now(&input.a, input.base_a.as_ref())
                && parked.b_etag.as_ref() == etag_now(&input.b, input.base_b.as_ref()) =>
        {
            parked.resolution
        }
        _ => None,
    };
    let (winner, both) = match (chosen, policy.conflict) {
        (Some(Keep::A), _) => (Side::A, false),
        (Some(Keep::B), _) => (Side::B, false),
        (Some(Keep::Both), _) => (newest, true),
        (None, ConflictPolicy::Manual) => {
            return Decision::Park {
                why: "changed on both sides; the job's policy is to ask",
            };
        }
        (None, ConflictPolicy::NewestWins) => (newest, false),
        (None, ConflictPolicy::AWins) => (Side::A, false),
        (None, ConflictPolicy::BWins) => (Side::B, false),
        (None, ConflictPolicy::KeepBoth) => (newest, true),
    };
    if both {
        let copy_sides = match one_way {
            Some((_, target)) => vec![target],
            None => vec![Side::A, Side::B],
        };
        // A one-way job never writes its source: the source's version keeps the UID.
        let keeper = one_way.map_or(winner, |(source, _)| source);
        return Decision::KeepBoth {
            keeper,
            write: write_to(input, keeper.other()),
            copy_sides,
        };
    }
    match one_way {
        // The target's version winning means: leave it there.
        Some((_, target)) if winner == target => Decision::Adopt,
        _ => copy(input, winner, "changed on both sides; this version wins"),
    }
}

fn etag_now<'a>(observed: &'a Observed, base: Option<&'a Known>) -> Option<&'a Etag> {
    match observed {
        Observed::Read(v) => Some(&v.etag),
        Observed::Unchanged => base.and_then(|k| k.etag.as_ref()),
        _ => None,
    }
}

/// Decides what happens to one item.
///
/// Two-way (`both`), by (A, B) relative to the last sync:
///
/// | A \ B        | same          | changed/new          | gone                  | missing     |
/// |--------------|---------------|----------------------|-----------------------|-------------|
/// | same         | nothing       | copy B→A             | delete on A           | copy A→B    |
/// | changed/new  | copy A→B      | equal? adopt : policy| modify-wins? copy A→B : delete on A | copy A→B |
/// | gone         | delete on B   | modify-wins? copy B→A : delete on B | forget | forget |
/// | missing      | copy B→A      | copy B→A             | forget                | nothing     |
///
/// One-way (source S, target T): S's changes, creations and deletions go to T. Under
/// `mirror` T's own items are deleted and T's edits and deletions of copies are undone;
/// under `keep` T's own items are left alone, T's edits of copies are accepted until S
/// changes the item again (both changed: the conflict policy decides, "T wins" leaves
/// T's version), T's deletions of copies stay unless S changes the item and modify wins.
pub fn plan_item(input: &ItemInput, policy: &Policy) -> Decision {
    let (Some(da), Some(db)) = (
        delta(input.base_a.as_ref(), &input.a),
        delta(input.base_b.as_ref(), &input.b),
    ) else {
        let why = [&input.a, &input.b]
            .into_iter()
            .find_map(|o| match o {
                Observed::Unreadable(why) => Some(why.clone()),
                _ => None,
            })
            .unwrap_or_default();
        return Decision::Skip { why };
    };
    if !input.in_window {
        return Decision::Skip {
            why: "outside the sync window".to_owned(),
        };
    }
    match policy.direction {
        Direction::Both => plan_two_way(input, policy, da, db),
        Direction::AToB => plan_one_way(input, policy, Side::A, da, db),
        Direction::BToA => plan_one_way(input, policy, Side::B, db, da),
    }
}

fn nothing_or_adopt(input: &ItemInput) -> Decision {
    if refreshed(input) {
        Decision::Adopt
    } else {
        Decision::Nothing
    }
}

fn plan_two_way(input: &ItemInput, policy: &Policy, da: Delta, db: Delta) -> Decision {
    use Delta::*;
    let modify_wins = policy.modify_delete == ModifyDelete::ModifyWins;
    match (da, db) {
        (Same, Same) => nothing_or_adopt(input),
        (Changed | New, Same) => copy(input, Side::A, "changed on A"),
        (Same, Changed | New) => copy(input, Side::B, "changed on B"),
        (Changed | New, Changed | New) => {
            if input.same_content {
                Decision::Adopt
            } else {
                conflict(input, policy)
            }
        }
        (Gone, Same) => delete_on(input, Side::B, "deleted on A"),
        (Same, Gone) => delete_on(input, Side::A, "deleted on B"),
        (Gone, Changed | New) if modify_wins => copy(
            input,
            Side::B,
            "deleted on A but changed on B: the change wins",
        ),
        (Gone, Changed | New) => delete_on(input, Side::B, "deleted on A: the deletion wins"),
        (Changed | New, Gone) if modify_wins => copy(
            input,
            Side::A,
            "deleted on B but changed on A: the change wins",
        ),
        (Changed | New, Gone) => delete_on(input, Side::A, "deleted on B: the deletion wins"),
        (Same | Changed | New, Missing) => copy(input, Side::A, "new on A"),
        (Missing, Same | Changed | New) => copy(input, Side::B, "new on B"),
        (Gone | Missing, Gone | Missing) => forget_or_nothing(input),
    }
}

fn forget_or_nothing(input: &ItemInput) -> Decision {
    if input.base_a.is_some() || input.base_b.is_some() {
        Decision::Forget
    } else {
        Decision::Nothing
    }
}

/// `ds` is the source's delta, `dt` the target's.
fn plan_one_way(
    input: &ItemInput,
    policy: &Policy,
    source: Side,
    ds: Delta,
    dt: Delta,
) -> Decision {
    use Delta::*;
    let target = source.other();
    let mirror = policy.target == TargetPolicy::Mirror;
    let modify_wins = policy.modify_delete == ModifyDelete::ModifyWins;
    match (ds, dt) {
        (Same, Same) => nothing_or_adopt(input),
        (Changed | New, Same) => copy(input, source, "changed on the source"),
        (Same, Changed | New) if mirror => copy(
            input,
            source,
            "changed on the target, which mirrors the source",
        ),
        (Same, Changed | New) => Decision::Adopt,
        (Changed | New, Changed | New) => {
            if input.same_content {
                Decision::Adopt
            } else {
                conflict(input, policy)
            }
        }
        (Gone, Same) => delete_on(input, target, "deleted on the source"),
        (Gone, Changed | New) if mirror || !modify_wins => {
            delete_on(input, target, "deleted on the source")
        }
        // The target's changed copy stays, as the target's own item.
        (Gone, Changed | New) => Decision::Forget,
        (Same, Gone) if mirror => copy(
            input,
            source,
            "deleted on the target, which mirrors the source",
        ),
        // Deleted on the target: it stays deleted (the status remembers the source side).
        (Same, Gone) => Decision::Adopt,
        (Changed | New, Gone) if mirror || modify_wins => copy(
            input,
            source,
            "changed on the source after the target deleted it",
        ),
        (Changed | New, Gone) => Decision::Adopt,
        (Same, Missing) if mirror => copy(input, source, "missing on the target"),
        (Same, Missing) => nothing_or_adopt(input),
        (New, Missing) => copy(input, source, "new on the source"),
        (Changed, Missing) if mirror || modify_wins => copy(
            input,
            source,
            "changed on the source after the target deleted it",
        ),
        (Changed, Missing) => Decision::Adopt,
        (Missing, Same | Changed | New) if mirror => delete_on(
            input,
            target,
            "not on the source, and the target mirrors it",
        ),
        (Missing, Same | Changed | New) => {
            // The target's own item: not the job's business.
            if input.base_a.is_some() || input.base_b.is_some() {
                Decision::Forget
            } else {
                Decision::Nothing
            }
        }
        (Gone | Missing, Gone | Missing) => forget_or_nothing(input),
    }
}

/// Whether a planned side is present after the last sync (the status has it).
pub fn known_on(input: &ItemInput, side: Side) -> bool {
    side_of(input, side).0.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_compares_last_modified_then_sequence_then_dtstamp() {
        let s = |lm: Option<&str>, seq: i64, dt: Option<&str>| Stamp {
            last_modified: lm.map(str::to_owned),
            sequence: seq,
            dtstamp: dt.map(str::to_owned),
        };
        let old = s(Some("20250101T000000Z"), 5, None);
        let new = s(Some("20250102T000000Z"), 0, None);
        assert_eq!(newer(Some(&old), Some(&new), Side::A), Side::B);
        let a = s(None, 2, None);
        let b = s(None, 1, Some("20990101T000000Z"));
        assert_eq!(newer(Some(&a), Some(&b), Side::B), Side::A);
        assert_eq!(newer(Some(&a), Some(&a), Side::B), Side::B);
    }
}
