//! A job as the API takes it (and stores it as JSON), checked field by field, and turned
//! into the engine's job.

use calport_engine::mapping::Selection;
use calport_engine::schedule::Schedule;
use calport_engine::sync::{
    ConflictPolicy, Direction, ModifyDelete, PairMapping, Policy, SyncJob, TargetPolicy, Window,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;

/// `sync` (continuous, one-way or two-way) or `migrate` (copy once, source → target,
/// with read-back verification).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    /// Keep two accounts in step.
    #[default]
    Sync,
    /// Copy account A to account B once (runs again copy only what changed).
    Migrate,
}

impl JobKind {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Sync => "sync",
            JobKind::Migrate => "migrate",
        }
    }
}

/// An explicit collection pair.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CollectionPair {
    /// Side A's collection: href, display name or path segment.
    pub a: String,
    /// Side B's collection.
    pub b: String,
}

/// A sync window around now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WindowSpec {
    /// Days before now.
    pub past_days: u32,
    /// Days after now.
    pub future_days: u32,
}

fn yes() -> bool {
    true
}

fn half() -> f64 {
    0.5
}

/// Every option of the engine.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobOptions {
    /// Events.
    #[serde(default = "yes")]
    pub calendars: bool,
    /// Tasks and journals.
    #[serde(default = "yes")]
    pub tasks: bool,
    /// Contacts.
    #[serde(default = "yes")]
    pub contacts: bool,
    /// `both`, `a-to-b`, `b-to-a` (sync jobs; migrations always copy A to B).
    #[serde(default)]
    #[schema(value_type = String, example = "both")]
    pub direction: Direction,
    /// One-way: `keep` or `mirror`.
    #[serde(default)]
    #[schema(value_type = String, example = "keep")]
    pub target_only: TargetPolicy,
    /// `newest-wins`, `a-wins`, `b-wins`, `keep-both`, `manual`.
    #[serde(default)]
    #[schema(value_type = String, example = "newest-wins")]
    pub conflict: ConflictPolicy,
    /// `modify-wins` or `delete-wins`.
    #[serde(default)]
    #[schema(value_type = String, example = "modify-wins")]
    pub modify_vs_delete: ModifyDelete,
    /// Only events with an occurrence in this window.
    #[serde(default)]
    pub window: Option<WindowSpec>,
    /// Share of a collection a run may delete before it stops (0–1).
    #[serde(default = "half")]
    pub mass_delete_guard: f64,
    /// Create collections the other side lacks.
    #[serde(default = "yes")]
    pub create_collections: bool,
    /// Add SCHEDULE-AGENT=CLIENT to organizer/attendees (no invitation e-mails).
    #[serde(default = "yes")]
    pub suppress_invitations: bool,
    /// Migrations: read every written item back and compare it.
    #[serde(default = "yes")]
    pub verify: bool,
    /// Explicit collection pairs (empty: pair by name).
    #[serde(default)]
    pub pairs: Vec<CollectionPair>,
    /// Every source collection into this one target collection.
    #[serde(default)]
    pub into: Option<String>,
    /// Runs of this job only plan and report.
    #[serde(default)]
    pub dry_run: bool,
}

impl Default for JobOptions {
    fn default() -> Self {
        serde_json::from_str("{}").unwrap_or_else(|_| unreachable!("every field has a default"))
    }
}

/// A job as created through the API.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobInput {
    /// Unique name.
    pub name: String,
    /// `sync` or `migrate`.
    #[serde(default)]
    pub kind: JobKind,
    /// Side A's account id (the source of a migration).
    pub a_account_id: i64,
    /// Side B's account id.
    pub b_account_id: i64,
    /// Interval (`15m`) or 5-field cron expression; none: only on demand.
    #[serde(default)]
    pub schedule: Option<String>,
    /// Whether the scheduler and `POST /api/sync` run it.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Engine options.
    #[serde(default)]
    pub options: JobOptions,
}

impl JobInput {
    /// Checks every field; 422 names the first that is wrong.
    ///
    /// # Errors
    /// [`ApiError::invalid`].
    pub fn validate(&self) -> Result<Option<Schedule>, ApiError> {
        if self.name.trim().is_empty() || self.name.len() > 200 {
            return Err(ApiError::invalid("name", "must be 1 to 200 characters"));
        }
        if self.a_account_id == self.b_account_id && self.options.pairs.is_empty() {
            return Err(ApiError::invalid(
                "b_account_id",
                "a job between an account and itself needs explicit options.pairs",
            ));
        }
        let schedule = match &self.schedule {
            Some(text) => Some(
                Schedule::parse(text).map_err(|e| ApiError::invalid("schedule", e.to_string()))?,
            ),
            None => None,
        };
        let o = &self.options;
        if !(o.calendars || o.tasks || o.contacts) {
            return Err(ApiError::invalid(
                "options.calendars",
                "calendars, tasks and contacts are all false: nothing to sync",
            ));
        }
        if !(0.0..=1.0).contains(&o.mass_delete_guard) {
            return Err(ApiError::invalid(
                "options.mass_delete_guard",
                "must be between 0 and 1",
            ));
        }
        if !o.pairs.is_empty() && o.into.is_some() {
            return Err(ApiError::invalid(
                "options.into",
                "give either pairs or into",
            ));
        }
        if let Some(window) = o.window
            && window.past_days + window.future_days == 0
        {
            return Err(ApiError::invalid("options.window", "the window is empty"));
        }
        if self.kind == JobKind::Migrate {
            // A migration copies every selected collection to the same-named one (creating
            // it when missing); explicit mapping, windows and directions are sync options.
            let refused = [
                ("options.pairs", !o.pairs.is_empty()),
                ("options.into", o.into.is_some()),
                ("options.window", o.window.is_some()),
                (
                    "options.direction",
                    o.direction != Direction::Both && o.direction != Direction::AToB,
                ),
            ];
            if let Some((field, _)) = refused.iter().find(|(_, set)| *set) {
                return Err(ApiError::invalid(
                    field,
                    "a migrate job copies every selected collection of A to the same-named one of B; \
                     use a sync job with direction a-to-b for explicit pairs, windows or other directions",
                ));
            }
        }
        if self.kind == JobKind::Sync {
            self.sync_job()
                .validate()
                .map_err(|m| ApiError::invalid("options", m))?;
        }
        Ok(schedule)
    }

    /// The engine's sync job (for `migrate` jobs: the equivalent one-way settings).
    pub fn sync_job(&self) -> SyncJob {
        let o = &self.options;
        let mapping = if !o.pairs.is_empty() {
            PairMapping::Explicit(o.pairs.iter().map(|p| (p.a.clone(), p.b.clone())).collect())
        } else if let Some(into) = &o.into {
            PairMapping::Into(into.clone())
        } else {
            PairMapping::ByName
        };
        SyncJob {
            name: self.name.clone(),
            policy: Policy {
                direction: o.direction,
                target: o.target_only,
                conflict: o.conflict,
                modify_delete: o.modify_vs_delete,
            },
            selection: Selection {
                calendars: o.calendars,
                tasks: o.tasks,
                contacts: o.contacts,
            },
            mapping,
            create_collections: o.create_collections,
            window: o.window.map(|w| Window {
                past_days: w.past_days,
                future_days: w.future_days,
            }),
            mass_delete_guard: o.mass_delete_guard,
            schedule_agent_client: o.suppress_invitations,
        }
    }
}

/// RFC 7386 JSON merge patch: `patch` applied to `target`.
pub fn merge_patch(target: &mut serde_json::Value, patch: &serde_json::Value) {
    match patch {
        serde_json::Value::Object(fields) => {
            if !target.is_object() {
                *target = serde_json::Value::Object(serde_json::Map::new());
            }
            if let serde_json::Value::Object(map) = target {
                for (key, value) in fields {
                    if value.is_null() {
                        map.remove(key);
                    } else {
                        merge_patch(
                            map.entry(key.clone()).or_insert(serde_json::Value::Null),
                            value,
                        );
                    }
                }
            }
        }
        other => *target = other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input(value: serde_json::Value) -> Result<JobInput, String> {
        serde_json::from_value(value).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_and_validation() {
        let job = input(json!({"name": "j", "a_account_id": 1, "b_account_id": 2})).unwrap();
        assert_eq!(job.kind, JobKind::Sync);
        assert!(job.options.calendars && job.options.create_collections);
        assert!(job.validate().unwrap().is_none());
        let bad = input(json!({"name": "j", "a_account_id": 1, "b_account_id": 2,
                               "schedule": "often"}))
        .unwrap();
        let err = bad.validate().unwrap_err();
        assert_eq!(err.status().as_u16(), 422);
        assert!(
            input(json!({"name": "j", "a_account_id": 1, "b_account_id": 2,
                             "options": {"colour": 1}}))
            .is_err()
        );
    }

    #[test]
    fn migrate_jobs_refuse_sync_only_options() {
        let job = input(json!({"name": "m", "kind": "migrate", "a_account_id": 1,
                               "b_account_id": 2,
                               "options": {"pairs": [{"a": "x", "b": "y"}]}}))
        .unwrap();
        let err = format!("{:?}", job.validate().unwrap_err());
        assert!(err.contains("options.pairs"), "{err}");
        let plain = input(json!({"name": "m", "kind": "migrate", "a_account_id": 1,
                                 "b_account_id": 2, "options": {"direction": "a-to-b"}}))
        .unwrap();
        assert!(plain.validate().is_ok());
    }

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let mut v = json!({"a": 1, "o": {"x": 1, "y": 2}});
        merge_patch(&mut v, &json!({"a": null, "o": {"y": 3}, "n": true}));
        assert_eq!(v, json!({"o": {"x": 1, "y": 3}, "n": true}));
    }
}
