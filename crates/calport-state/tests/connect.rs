//! `StateDb::connect` picks the backend from the URL.

use calport_state::testing::fresh_postgres_url;
use calport_state::{Backend, StateDb, StateError};

#[tokio::test]
async fn sqlite_urls_and_plain_paths_open_files() {
    let dir = tempfile::tempdir().unwrap();
    // Percent-encoded, as in any URL: a space in the file name.
    let url = format!("sqlite://{}/with%20space.sqlite", dir.path().display());
    let db = StateDb::connect(&url).await.unwrap();
    assert_eq!(db.backend(), Backend::Sqlite);
    let id = db.pair("job", "/a/", "/b/").await.unwrap().id;
    db.close().await;
    let file = dir.path().join("with space.sqlite");
    assert!(file.exists());

    // The same file by plain path and by open(): the same data.
    let db = StateDb::connect(file.to_str().unwrap()).await.unwrap();
    assert_eq!(
        db.find_pair("job", "/a/", "/b/").await.unwrap().unwrap().id,
        id
    );
    db.close().await;
    let db = StateDb::open(&file).await.unwrap();
    assert_eq!(db.backend(), Backend::Sqlite);
    assert_eq!(
        db.find_pair("job", "/a/", "/b/").await.unwrap().unwrap().id,
        id
    );
    db.close().await;
}

#[tokio::test]
async fn in_memory_databases_are_private() {
    let one = StateDb::connect("sqlite::memory:").await.unwrap();
    let two = StateDb::open_in_memory().await.unwrap();
    assert_eq!(one.backend(), Backend::Sqlite);
    assert_eq!(two.backend(), Backend::Sqlite);
    one.pair("job", "/a/", "/b/").await.unwrap();
    assert!(two.find_pair("job", "/a/", "/b/").await.unwrap().is_none());
}

#[tokio::test]
async fn other_schemes_are_refused() {
    for url in ["mysql://root@localhost/calport", "sqlite://", "sqlite:"] {
        match StateDb::connect(url).await {
            Err(StateError::Url { .. }) => {}
            other => panic!("{url}: expected a URL error, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn postgres_urls_open_postgres() {
    let (url, _guard) = fresh_postgres_url()
        .await
        .unwrap_or_else(|e| panic!("no PostgreSQL database for this test: {e}"));
    let db = StateDb::connect(&url).await.unwrap();
    assert_eq!(db.backend(), Backend::Postgres);
    let postgresql = url.replacen("postgres://", "postgresql://", 1);
    let other = StateDb::connect(&postgresql).await.unwrap();
    let id = db.pair("job", "/a/", "/b/").await.unwrap().id;
    assert_eq!(other.pair("job", "/a/", "/b/").await.unwrap().id, id);
    db.close().await;
    other.close().await;
}

#[tokio::test]
async fn unreachable_postgres_is_an_open_error_without_the_password() {
    // Port 1: nothing listens there.
    let err = StateDb::connect("postgres://calport:s3cret@127.0.0.1:1/state")
        .await
        .expect_err("nothing listens on port 1");
    assert!(matches!(err, StateError::Open { .. }), "{err:?}");
    let shown = err.to_string();
    assert!(shown.contains("127.0.0.1:1"), "{shown}");
    assert!(!shown.contains("s3cret"), "{shown}");
}
