//! The fixture both test files share: every test runs on an SQLite file and on a fresh
//! PostgreSQL database.

#![allow(dead_code)]

use calport_state::testing::{TestDatabase, fresh_postgres_url};
use calport_state::{Backend, StateDb};

/// Where a test's database lives; dropping it removes the database.
pub struct Fixture {
    pub url: String,
    pub backend: Backend,
    _keep: Keep,
}

enum Keep {
    Dir(#[allow(dead_code)] tempfile::TempDir),
    Database(#[allow(dead_code)] TestDatabase),
}

impl Fixture {
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("state.sqlite").display());
        Self {
            url,
            backend: Backend::Sqlite,
            _keep: Keep::Dir(dir),
        }
    }

    pub async fn postgres() -> Self {
        let (url, guard) = fresh_postgres_url()
            .await
            .unwrap_or_else(|e| panic!("no PostgreSQL database for this test: {e}"));
        Self {
            url,
            backend: Backend::Postgres,
            _keep: Keep::Database(guard),
        }
    }

    /// A new handle (pool) on the test's database.
    pub async fn open(&self) -> StateDb {
        let db = StateDb::connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", self.url));
        assert_eq!(db.backend(), self.backend);
        db
    }
}

/// Runs each named `async fn(Fixture)` as two tests, `NAME::sqlite` and `NAME::postgres`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            pub async fn sqlite() {
                super::$name(super::Fixture::sqlite().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            pub async fn postgres() {
                super::$name(super::Fixture::postgres().await).await;
            }
        }
    )*};
}
