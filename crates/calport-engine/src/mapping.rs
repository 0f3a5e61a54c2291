//! Pairing the source's collections with the destination's (pure).

use calport_core::{CollectionInfo, CollectionKind, ComponentKind, NewCollection};
use serde::{Deserialize, Serialize};

/// Which kinds of data a job moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selection {
    /// Events (VEVENT).
    pub calendars: bool,
    /// Tasks and journals (VTODO, VJOURNAL).
    pub tasks: bool,
    /// Contacts (address books).
    pub contacts: bool,
}

impl Default for Selection {
    fn default() -> Self {
        Self {
            calendars: true,
            tasks: true,
            contacts: true,
        }
    }
}

impl Selection {
    /// Whether items of this kind are moved.
    pub fn wants(&self, kind: ComponentKind) -> bool {
        match kind {
            ComponentKind::Event | ComponentKind::FreeBusy => self.calendars,
            ComponentKind::Todo | ComponentKind::Journal => self.tasks,
            ComponentKind::Card => self.contacts,
        }
    }

    /// Whether a source collection holds anything this selection moves.
    pub fn wants_collection(&self, collection: &CollectionInfo) -> bool {
        match collection.kind {
            CollectionKind::AddressBook => self.contacts,
            CollectionKind::Calendar => {
                (self.calendars && collection.accepts("VEVENT"))
                    || (self.tasks
                        && (collection.accepts("VTODO") || collection.accepts("VJOURNAL")))
            }
        }
    }
}

/// What happens to one source collection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CollectionMapping {
    /// It goes into an existing destination collection.
    Paired {
        /// The source collection.
        source: CollectionInfo,
        /// The destination collection.
        destination: CollectionInfo,
    },
    /// The destination has no matching collection: create this one.
    Create {
        /// The source collection.
        source: CollectionInfo,
        /// What to create.
        spec: NewCollection,
    },
    /// Nothing is moved from it.
    Skipped {
        /// The source collection.
        source: CollectionInfo,
        /// Why, in words.
        reason: String,
    },
}

fn normalize(name: &str) -> String {
    name.trim().to_lowercase()
}

/// A path segment that is safe on every server: letters, digits, `-` and `_`.
fn safe_segment(raw: &str) -> String {
    let cleaned: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let trimmed = cleaned.trim_matches('-');
    if trimmed.is_empty() {
        "collection".to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// Pairs every wanted source collection with a destination collection of the same kind:
/// first by display name (case-insensitive), then by path segment. Each destination
/// collection takes at most one source. Unpaired ones are created when `create_missing`
/// is set, else skipped with a reason.
pub fn map_collections(
    source: &[CollectionInfo],
    destination: &[CollectionInfo],
    selection: &Selection,
    create_missing: bool,
) -> Vec<CollectionMapping> {
    let mut taken = vec![false; destination.len()];
    let wanted: Vec<&CollectionInfo> = source
        .iter()
        .filter(|c| selection.wants_collection(c))
        .collect();
    let mut chosen: Vec<Option<usize>> = vec![None; wanted.len()];

    // Two passes so that an exact display-name match anywhere beats a segment match.
    let passes: [fn(&CollectionInfo) -> String; 2] =
        [|c| normalize(c.label()), |c| normalize(c.segment())];
    for key in passes {
        for (i, src) in wanted.iter().enumerate() {
            if chosen[i].is_some() {
                continue;
            }
            let found = destination.iter().enumerate().position(|(j, dst)| {
                !taken[j] && dst.kind == src.kind && !dst.read_only && key(dst) == key(src)
            });
            if let Some(j) = found {
                taken[j] = true;
                chosen[i] = Some(j);
            }
        }
    }

    let mut used_segments: Vec<String> =
        destination.iter().map(|c| normalize(c.segment())).collect();
    let mut mappings: Vec<CollectionMapping> = source
        .iter()
        .filter(|c| !selection.wants_collection(c))
        .map(|c| CollectionMapping::Skipped {
            source: c.clone(),
            reason: "not selected by the options (calendars / tasks / contacts)".into(),
        })
        .collect();
    for (i, src) in wanted.into_iter().enumerate() {
        let mapping = match chosen[i] {
            Some(j) => CollectionMapping::Paired {
                source: src.clone(),
                destination: destination[j].clone(),
            },
            None if create_missing => {
                let mut segment = safe_segment(src.segment());
                let base = segment.clone();
                let mut n = 2;
                while used_segments.contains(&normalize(&segment)) {
                    segment = format!("{base}-{n}");
                    n += 1;
                }
                used_segments.push(normalize(&segment));
                CollectionMapping::Create {
                    source: src.clone(),
                    spec: NewCollection {
                        kind: src.kind,
                        segment,
                        display_name: Some(src.label().to_owned()),
                        color: src.color.clone(),
                        description: src.description.clone(),
                        components: src.components.clone(),
                    },
                }
            }
            None => CollectionMapping::Skipped {
                source: src.clone(),
                reason:
                    "no collection with this name on the destination and create_collections = false"
                        .into(),
            },
        };
        mappings.push(mapping);
    }
    mappings
}

#[cfg(test)]
mod tests {
    use super::*;
    use calport_core::ItemRef;

    fn coll(
        href: &str,
        kind: CollectionKind,
        name: Option<&str>,
        comps: &[&str],
    ) -> CollectionInfo {
        CollectionInfo {
            href: ItemRef::new(href),
            kind,
            display_name: name.map(str::to_owned),
            color: Some("#ff0000".into()),
            description: None,
            components: comps.iter().map(|c| c.to_string()).collect(),
            ctag: None,
            sync_token: None,
            supports_sync: false,
            read_only: false,
        }
    }

    #[test]
    fn pairs_by_display_name_then_segment_and_creates_the_rest() {
        let src = vec![
            coll(
                "/a/work/",
                CollectionKind::Calendar,
                Some("Work"),
                &["VEVENT"],
            ),
            coll("/a/home/", CollectionKind::Calendar, None, &["VEVENT"]),
            coll(
                "/a/new cal/",
                CollectionKind::Calendar,
                Some("Brand new"),
                &[],
            ),
            coll(
                "/a/contacts/",
                CollectionKind::AddressBook,
                Some("Contacts"),
                &[],
            ),
        ];
        let dst = vec![
            coll(
                "/b/x1/",
                CollectionKind::Calendar,
                Some("work"),
                &["VEVENT"],
            ),
            coll(
                "/b/home/",
                CollectionKind::Calendar,
                Some("Something"),
                &["VEVENT"],
            ),
            coll("/b/contacts/", CollectionKind::Calendar, None, &[]),
            coll(
                "/b/book/",
                CollectionKind::AddressBook,
                Some("Contacts"),
                &[],
            ),
        ];
        let mapped = map_collections(&src, &dst, &Selection::default(), true);
        let pairs: Vec<(String, String)> = mapped
            .iter()
            .map(|m| match m {
                CollectionMapping::Paired {
                    source,
                    destination,
                } => (source.href.to_string(), destination.href.to_string()),
                CollectionMapping::Create { source, spec } => {
                    (source.href.to_string(), format!("create {}", spec.segment))
                }
                CollectionMapping::Skipped { source, .. } => {
                    (source.href.to_string(), "skip".into())
                }
            })
            .collect();
        assert_eq!(
            pairs,
            vec![
                ("/a/work/".into(), "/b/x1/".into()),
                ("/a/home/".into(), "/b/home/".into()),
                ("/a/new cal/".into(), "create new-cal".into()),
                ("/a/contacts/".into(), "/b/book/".into()),
            ]
        );
    }

    #[test]
    fn selection_filters_collections_and_missing_ones_are_skipped_without_create() {
        let src = vec![
            coll(
                "/a/tasks/",
                CollectionKind::Calendar,
                Some("Tasks"),
                &["VTODO"],
            ),
            coll(
                "/a/cal/",
                CollectionKind::Calendar,
                Some("Cal"),
                &["VEVENT"],
            ),
            coll("/a/book/", CollectionKind::AddressBook, Some("Book"), &[]),
        ];
        let selection = Selection {
            calendars: true,
            tasks: false,
            contacts: false,
        };
        let mapped = map_collections(&src, &[], &selection, false);
        assert_eq!(mapped.len(), 3);
        assert!(
            mapped
                .iter()
                .all(|m| matches!(m, CollectionMapping::Skipped { .. }))
        );
    }

    #[test]
    fn created_segments_never_collide_with_existing_ones() {
        let src = vec![coll(
            "/a/cal/",
            CollectionKind::Calendar,
            Some("Other"),
            &[],
        )];
        let dst = vec![coll("/b/cal/", CollectionKind::AddressBook, Some("x"), &[])];
        let mapped = map_collections(&src, &dst, &Selection::default(), true);
        match &mapped[0] {
            CollectionMapping::Create { spec, .. } => assert_eq!(spec.segment, "cal-2"),
            other => panic!("expected a create, got {other:?}"),
        }
    }
}
