//! `sync.toml`: named accounts and the sync jobs between them. Every key is documented in
//! `examples/sync.toml`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use calport_engine::mapping::Selection;
use calport_engine::schedule::Schedule;
use calport_engine::sync::{
    ConflictPolicy, Direction, ModifyDelete, PairMapping, Policy, SyncJob, TargetPolicy, Window,
};
use serde::Deserialize;

use crate::config::{Account, AccountFile, ConfigError, check_transfer_options, invalid};

/// `[options]` of a sync file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyncOptionsFile {
    /// Parallel requests per server.
    pub concurrency: usize,
    /// Per-request timeout in seconds.
    pub timeout_seconds: u64,
    /// Retries after 429/5xx/connection errors.
    pub retries: u32,
    /// Members fetched per request.
    pub batch_size: usize,
    /// Status database path.
    pub state: Option<PathBuf>,
}

impl Default for SyncOptionsFile {
    fn default() -> Self {
        Self {
            concurrency: 8,
            timeout_seconds: 120,
            retries: 4,
            batch_size: 100,
            state: None,
        }
    }
}

/// An explicit collection pair.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairFile {
    /// Side A's collection: href, display name or path segment.
    pub a: String,
    /// Side B's collection.
    pub b: String,
}

fn yes() -> bool {
    true
}

fn half() -> f64 {
    0.5
}

/// One `[[jobs]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobFile {
    /// Unique name; keys the job's status.
    pub name: String,
    /// Account name of side A.
    pub a: String,
    /// Account name of side B.
    pub b: String,
    /// Sync events.
    #[serde(default = "yes")]
    pub calendars: bool,
    /// Sync tasks and journals.
    #[serde(default = "yes")]
    pub tasks: bool,
    /// Sync contacts.
    #[serde(default = "yes")]
    pub contacts: bool,
    /// `a-to-b`, `b-to-a` or `both`.
    #[serde(default)]
    pub direction: Direction,
    /// One-way jobs: `keep` or `mirror`.
    #[serde(default)]
    pub target_only: TargetPolicy,
    /// `newest-wins`, `a-wins`, `b-wins`, `keep-both`, `manual`.
    #[serde(default)]
    pub conflict: ConflictPolicy,
    /// `modify-wins` or `delete-wins`.
    #[serde(default)]
    pub modify_vs_delete: ModifyDelete,
    /// Only events with an occurrence in this window.
    pub window: Option<Window>,
    /// Share of a collection a run may delete before it stops.
    #[serde(default = "half")]
    pub mass_delete_guard: f64,
    /// Interval (`15m`) or cron expression, for `--watch`.
    pub schedule: Option<String>,
    /// Create collections the other side lacks.
    #[serde(default = "yes")]
    pub create_collections: bool,
    /// Add `SCHEDULE-AGENT=CLIENT` to organizer/attendees of written items.
    #[serde(default = "yes")]
    pub suppress_invitations: bool,
    /// Explicit collection pairs (instead of pairing by name).
    pub pairs: Option<Vec<PairFile>>,
    /// Every source collection into this one target collection.
    pub into: Option<String>,
    /// Set to false to leave the job out of runs.
    #[serde(default = "yes")]
    pub enabled: bool,
}

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncFile {
    /// `[options]`.
    #[serde(default)]
    pub options: SyncOptionsFile,
    /// `[accounts.NAME]`.
    #[serde(default)]
    pub accounts: BTreeMap<String, AccountFile>,
    /// `[[jobs]]`.
    #[serde(default)]
    pub jobs: Vec<JobFile>,
}

/// A job ready to run: the engine's job, both accounts resolved, its schedule.
pub struct ResolvedJob {
    /// What the engine runs.
    pub job: SyncJob,
    /// Account name and account of side A.
    pub a: (String, Account),
    /// Account name and account of side B.
    pub b: (String, Account),
    /// When `--watch` runs it.
    pub schedule: Option<Schedule>,
}

impl SyncFile {
    /// Reads and parses a sync file.
    ///
    /// # Errors
    /// [`ConfigError::Read`] or [`ConfigError::Syntax`] (naming the key and line).
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text).map_err(|message| ConfigError::Syntax {
            path: path.display().to_string(),
            message,
        })
    }

    /// Parses the text of a sync file.
    ///
    /// # Errors
    /// The TOML parser's message with the line.
    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|err| {
            err.message().to_owned()
                + &err
                    .span()
                    .map(|span| {
                        let start = span.start.min(text.len());
                        let line = text[..start].matches('\n').count() + 1;
                        let content = text.lines().nth(line - 1).unwrap_or_default().trim();
                        format!(" (at line {line}: {content})")
                    })
                    .unwrap_or_default()
        })
    }

    /// Checks the options and every job, and resolves the jobs named in `only` (all
    /// enabled jobs when empty).
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the section and key.
    pub fn resolve(&self, only: &[String]) -> Result<Vec<ResolvedJob>, ConfigError> {
        let o = &self.options;
        check_transfer_options(o.concurrency, o.batch_size, o.timeout_seconds)?;
        if self.jobs.is_empty() {
            return Err(invalid("jobs", "name", "the file defines no [[jobs]]"));
        }
        let mut names = std::collections::HashSet::new();
        for job in &self.jobs {
            if job.name.trim().is_empty() {
                return Err(invalid("jobs", "name", "is empty"));
            }
            if !names.insert(job.name.as_str()) {
                return Err(invalid(
                    &format!("jobs.{}", job.name),
                    "name",
                    "is used by two jobs",
                ));
            }
        }
        for name in only {
            if !names.contains(name.as_str()) {
                return Err(invalid(
                    "jobs",
                    "name",
                    &format!("there is no job named {name:?}"),
                ));
            }
        }
        let mut out = Vec::new();
        for job in &self.jobs {
            let chosen = if only.is_empty() {
                job.enabled
            } else {
                only.contains(&job.name)
            };
            if chosen {
                out.push(self.resolve_job(job)?);
            }
        }
        Ok(out)
    }

    fn account(
        &self,
        section: &str,
        key: &'static str,
        name: &str,
    ) -> Result<Account, ConfigError> {
        let file = self.accounts.get(name).ok_or_else(|| {
            invalid(
                section,
                key,
                &format!("names the account {name:?}, which has no [accounts.{name}] section"),
            )
        })?;
        file.resolve(&format!("accounts.{name}"))
    }

    fn resolve_job(&self, file: &JobFile) -> Result<ResolvedJob, ConfigError> {
        let section = format!("jobs.{}", file.name);
        let a = self.account(&section, "a", &file.a)?;
        let b = self.account(&section, "b", &file.b)?;
        if !(file.calendars || file.tasks || file.contacts) {
            return Err(invalid(
                &section,
                "calendars",
                "calendars, tasks and contacts are all false: nothing to sync",
            ));
        }
        let mapping = match (&file.pairs, &file.into) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    &section,
                    "into",
                    "give either pairs or into, not both",
                ));
            }
            (Some(pairs), None) if pairs.is_empty() => {
                return Err(invalid(&section, "pairs", "is empty"));
            }
            (Some(pairs), None) => {
                PairMapping::Explicit(pairs.iter().map(|p| (p.a.clone(), p.b.clone())).collect())
            }
            (None, Some(into)) => PairMapping::Into(into.clone()),
            (None, None) => PairMapping::ByName,
        };
        let schedule = file
            .schedule
            .as_deref()
            .map(Schedule::parse)
            .transpose()
            .map_err(|e| invalid(&section, "schedule", &e.to_string()))?;
        let job = SyncJob {
            name: file.name.clone(),
            policy: Policy {
                direction: file.direction,
                target: file.target_only,
                conflict: file.conflict,
                modify_delete: file.modify_vs_delete,
            },
            selection: Selection {
                calendars: file.calendars,
                tasks: file.tasks,
                contacts: file.contacts,
            },
            mapping,
            create_collections: file.create_collections,
            window: file.window,
            mass_delete_guard: file.mass_delete_guard,
            schedule_agent_client: file.suppress_invitations,
        };
        job.validate().map_err(|message| {
            let key = if message.starts_with("mass_delete_guard") {
                "mass_delete_guard"
            } else {
                "into"
            };
            invalid(&section, key, &message)
        })?;
        Ok(ResolvedJob {
            job,
            a: (file.a.clone(), a),
            b: (file.b.clone(), b),
            schedule,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
        [accounts.one]
        url = "http://127.0.0.1:1/"
        username = "u"
        password = "p"
        [accounts.two]
        url = "http://127.0.0.1:2/"
        username = "u"
        password = "p"
    "#;

    fn resolve(jobs: &str) -> Result<Vec<ResolvedJob>, String> {
        let file = SyncFile::parse(&format!("{BASE}\n{jobs}"))?;
        file.resolve(&[]).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_are_two_way_newest_wins_by_name() {
        let jobs = resolve("[[jobs]]\nname = \"j\"\na = \"one\"\nb = \"two\"\n").unwrap();
        let job = &jobs[0].job;
        assert_eq!(job.policy, Policy::default());
        assert_eq!(job.mapping, PairMapping::ByName);
        assert!((job.mass_delete_guard - 0.5).abs() < f64::EPSILON);
        assert!(jobs[0].schedule.is_none());
    }

    #[test]
    fn every_option_is_read() {
        let jobs = resolve(
            r#"[[jobs]]
            name = "j"
            a = "one"
            b = "two"
            direction = "a-to-b"
            target_only = "mirror"
            conflict = "manual"
            modify_vs_delete = "delete-wins"
            window = { past_days = 30, future_days = 365 }
            mass_delete_guard = 0.2
            schedule = "15m"
            pairs = [{ a = "Work", b = "Team" }]
            contacts = false
            "#,
        )
        .unwrap();
        let job = &jobs[0].job;
        assert_eq!(job.policy.direction, Direction::AToB);
        assert_eq!(job.policy.target, TargetPolicy::Mirror);
        assert_eq!(job.policy.conflict, ConflictPolicy::Manual);
        assert_eq!(job.policy.modify_delete, ModifyDelete::DeleteWins);
        assert_eq!(
            job.window,
            Some(Window {
                past_days: 30,
                future_days: 365
            })
        );
        assert!(!job.selection.contacts);
        assert_eq!(
            job.mapping,
            PairMapping::Explicit(vec![("Work".into(), "Team".into())])
        );
        assert!(jobs[0].schedule.is_some());
    }

    #[test]
    fn mistakes_name_the_job_and_key() {
        let cases = [
            (
                "[[jobs]]\nname = \"j\"\na = \"one\"\nb = \"nope\"\n",
                "jobs.j] b",
            ),
            (
                "[[jobs]]\nname = \"j\"\na = \"one\"\nb = \"two\"\nschedule = \"often\"\n",
                "jobs.j] schedule",
            ),
            (
                "[[jobs]]\nname = \"j\"\na = \"one\"\nb = \"two\"\ninto = \"x\"\n",
                "jobs.j] into",
            ),
            (
                "[[jobs]]\nname = \"j\"\na = \"one\"\nb = \"two\"\nmass_delete_guard = 2.0\n",
                "jobs.j] mass_delete_guard",
            ),
            (
                "[[jobs]]\nname = \"j\"\na = \"one\"\nb = \"two\"\nconflict = \"loudest\"\n",
                "conflict",
            ),
            (
                "[[jobs]]\nname = \"j\"\na = \"one\"\nb = \"two\"\ncolour = 1\n",
                "colour",
            ),
        ];
        for (text, expected) in cases {
            let err = match resolve(text) {
                Ok(_) => panic!("accepted: {text}"),
                Err(e) => e,
            };
            assert!(
                err.contains(expected),
                "{err:?} should mention {expected:?}"
            );
        }
    }
}
