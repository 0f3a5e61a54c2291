//! The decisions taken on a pushed change, as pure functions of what is known: whether a
//! change is newer than what was applied, and which of two sources carrying the same
//! meeting is shown.

/// How a change relates to the version of the same event applied before.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Order {
    /// Apply it.
    Apply,
    /// The same version was applied already (a repeated delivery).
    Duplicate,
    /// Older than what was applied (delivered out of order): ignore it.
    Stale {
        /// `lastModifiedDateTime` applied (unix ms).
        applied: i64,
        /// `lastModifiedDateTime` of the change (unix ms).
        incoming: i64,
    },
    /// The event was deleted after this change was made.
    Deleted {
        /// When the deletion happened (unix ms).
        at: i64,
    },
}

/// What was applied of an event before.
#[derive(Clone, Copy, Debug)]
pub struct Applied<'a> {
    /// Its mapping status (`deleted` for a deleted event).
    pub status: &'a str,
    /// `lastModifiedDateTime` applied, or of the deletion (unix ms).
    pub modified: Option<i64>,
    /// The body applied.
    pub payload: Option<&'a [u8]>,
}

/// Orders a created/updated change against what was applied. Without timestamps on
/// either side the change is applied unless its body is the very one applied.
pub fn order(applied: Option<Applied<'_>>, incoming: Option<i64>, body: &[u8]) -> Order {
    // Nothing applied yet, or parked for a person who has now decided.
    let Some(applied) = applied.filter(|a| a.status != "conflict") else {
        return Order::Apply;
    };
    let same_body = applied.payload == Some(body);
    match (applied.modified, incoming) {
        (Some(at), Some(inc)) if applied.status == "deleted" && inc <= at => Order::Deleted { at },
        (Some(old), Some(inc)) if inc < old => Order::Stale {
            applied: old,
            incoming: inc,
        },
        (Some(old), Some(inc)) if inc == old && (same_body || applied.status == "deleted") => {
            Order::Duplicate
        }
        _ if same_body && applied.status != "deleted" => Order::Duplicate,
        _ => Order::Apply,
    }
}

/// How a source settles a meeting that another source shows already.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// The newer `lastModifiedDateTime` wins.
    LastWriteWins,
    /// The source with the higher priority wins.
    PriorityBased,
    /// A person decides.
    Manual,
}

impl Strategy {
    /// Reads `last_write_wins`, `priority_based` or `manual`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "last_write_wins" => Some(Self::LastWriteWins),
            "priority_based" => Some(Self::PriorityBased),
            "manual" => Some(Self::Manual),
            _ => None,
        }
    }
}

/// One source's version of a meeting.
#[derive(Clone, Copy, Debug)]
pub struct Contender<'a> {
    /// The source.
    pub source: &'a str,
    /// Its priority.
    pub priority: i64,
    /// `lastModifiedDateTime` of its version (unix ms).
    pub modified: Option<i64>,
}

/// The outcome of two sources carrying one meeting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Contest {
    /// The incoming version replaces the one shown; why.
    IncomingWins(String),
    /// The version shown stays; why.
    IncomingLoses(String),
    /// Parked for a person.
    Park,
}

/// Settles a meeting carried by `incoming` (with `strategy`, its source's) while
/// `shown` is in the calendar. `resolution` is a person's earlier choice for this event
/// (`incoming` or `existing`) under the manual strategy. Ties keep what is shown, so
/// repeated deliveries never flip the calendar back and forth.
pub fn contest(
    strategy: Strategy,
    incoming: &Contender<'_>,
    shown: &Contender<'_>,
    resolution: Option<&str>,
) -> Contest {
    match strategy {
        Strategy::PriorityBased if incoming.priority > shown.priority => {
            Contest::IncomingWins(format!(
                "priority {} of {} is above {} of {}",
                incoming.priority, incoming.source, shown.priority, shown.source
            ))
        }
        Strategy::PriorityBased => Contest::IncomingLoses(format!(
            "source {} (priority {}) is shown; {} has priority {}",
            shown.source, shown.priority, incoming.source, incoming.priority
        )),
        Strategy::LastWriteWins => match (incoming.modified, shown.modified) {
            (Some(inc), Some(old)) if inc <= old => Contest::IncomingLoses(format!(
                "the version of source {} is newer or as new",
                shown.source
            )),
            _ => {
                Contest::IncomingWins(format!("newer than the version of source {}", shown.source))
            }
        },
        Strategy::Manual => match resolution {
            Some("incoming") => Contest::IncomingWins("chosen by a person".to_owned()),
            Some("existing") => Contest::IncomingLoses(format!(
                "a person chose the version of source {}",
                shown.source
            )),
            _ => Contest::Park,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied<'a>(status: &'a str, modified: Option<i64>, body: &'a [u8]) -> Applied<'a> {
        Applied {
            status,
            modified,
            payload: Some(body),
        }
    }

    #[test]
    fn new_events_are_applied() {
        assert_eq!(order(None, Some(5), b"x"), Order::Apply);
        assert_eq!(order(None, None, b"x"), Order::Apply);
    }

    #[test]
    fn newer_changes_are_applied_and_older_ones_ignored() {
        let a = applied("active", Some(100), b"v1");
        assert_eq!(order(Some(a), Some(200), b"v2"), Order::Apply);
        assert_eq!(
            order(Some(a), Some(50), b"v0"),
            Order::Stale {
                applied: 100,
                incoming: 50
            }
        );
    }

    #[test]
    fn repeated_deliveries_are_duplicates() {
        let a = applied("active", Some(100), b"v1");
        assert_eq!(order(Some(a), Some(100), b"v1"), Order::Duplicate);
        // Without timestamps, the very same body is a duplicate too.
        let b = applied("active", None, b"v1");
        assert_eq!(order(Some(b), None, b"v1"), Order::Duplicate);
        // Same timestamp, other body: the sender changed something without a new
        // timestamp; apply it.
        assert_eq!(order(Some(a), Some(100), b"v1'"), Order::Apply);
    }

    #[test]
    fn a_parked_change_is_decided_again() {
        let parked = applied("conflict", Some(100), b"v1");
        assert_eq!(order(Some(parked), Some(100), b"v1"), Order::Apply);
    }

    #[test]
    fn changes_older_than_a_deletion_are_ignored() {
        let d = applied("deleted", Some(100), b"");
        assert_eq!(order(Some(d), Some(90), b"v"), Order::Deleted { at: 100 });
        assert_eq!(order(Some(d), Some(100), b"v"), Order::Deleted { at: 100 });
        // Re-created after the deletion.
        assert_eq!(order(Some(d), Some(101), b"v"), Order::Apply);
    }

    fn c(source: &str, priority: i64, modified: Option<i64>) -> Contender<'_> {
        Contender {
            source,
            priority,
            modified,
        }
    }

    #[test]
    fn priority_decides_and_ties_keep_what_is_shown() {
        let s = Strategy::PriorityBased;
        assert!(matches!(
            contest(s, &c("hi", 10, Some(1)), &c("lo", 1, Some(9)), None),
            Contest::IncomingWins(_)
        ));
        assert!(matches!(
            contest(s, &c("lo", 1, Some(9)), &c("hi", 10, Some(1)), None),
            Contest::IncomingLoses(_)
        ));
        assert!(matches!(
            contest(s, &c("a", 5, Some(9)), &c("b", 5, Some(1)), None),
            Contest::IncomingLoses(_)
        ));
    }

    #[test]
    fn last_write_wins_by_timestamp() {
        let s = Strategy::LastWriteWins;
        assert!(matches!(
            contest(s, &c("a", 0, Some(2)), &c("b", 9, Some(1)), None),
            Contest::IncomingWins(_)
        ));
        assert!(matches!(
            contest(s, &c("a", 9, Some(1)), &c("b", 0, Some(1)), None),
            Contest::IncomingLoses(_)
        ));
    }

    #[test]
    fn manual_parks_until_a_person_chooses() {
        let s = Strategy::Manual;
        let (a, b) = (c("a", 0, Some(2)), c("b", 0, Some(1)));
        assert_eq!(contest(s, &a, &b, None), Contest::Park);
        assert!(matches!(
            contest(s, &a, &b, Some("incoming")),
            Contest::IncomingWins(_)
        ));
        assert!(matches!(
            contest(s, &a, &b, Some("existing")),
            Contest::IncomingLoses(_)
        ));
    }
}
