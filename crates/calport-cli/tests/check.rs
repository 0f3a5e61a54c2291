//! `calport check`: the read-only preflight, against real Radicale and Xandikos.

mod common;

use calport_testkit::{DavServer, ServerKind};
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_names_the_servers_counts_items_and_writes_nothing() {
    let radicale = DavServer::start(ServerKind::Radicale).await.unwrap();
    let xandikos = DavServer::start(ServerKind::Xandikos).await.unwrap();
    radicale.create_default_collections().await.unwrap();
    let event = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/all-day.ics"
    ))
    .unwrap();
    let card = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/alice.vcf"
    ))
    .unwrap();
    for (i, body) in [&event].iter().enumerate() {
        let path = format!("{}e{i}.ics", radicale.calendar_path());
        assert!(
            radicale
                .put(&path, body, "text/calendar")
                .await
                .unwrap()
                .is_success()
        );
    }
    let path = format!("{}alice.vcf", radicale.addressbook_path());
    assert!(
        radicale
            .put(&path, &card, "text/vcard")
            .await
            .unwrap()
            .is_success()
    );
    let before = xandikos
        .members(xandikos.calendar_home_path())
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &radicale,
        &xandikos,
        "create_collections = false",
    );
    let out: Run = calport()
        .args(["check", "--json", "--config"])
        .arg(&config)
        .output()
        .unwrap()
        .into();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report = out.json();
    assert_eq!(report["source"]["server"], "radicale", "{}", out.stdout);
    assert_eq!(report["destination"]["server"], "xandikos");
    assert_eq!(report["destination"]["sync_collection"], true);
    assert_eq!(report["destination"]["mkcalendar"], true);
    let counts: Vec<(String, u64)> = report["source"]["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["kind"].as_str().unwrap().to_owned(),
                c["items"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(
        counts.contains(&("calendar".into(), 1)) && counts.contains(&("addressbook".into(), 1)),
        "{counts:?}"
    );
    let mapping = report["mapping"].to_string();
    assert!(mapping.contains("→"), "{mapping}");
    // Xandikos names its defaults "calendar"/"addressbook": the source's "Calendar" pairs by name.
    assert!(report["risks"].as_array().is_some());
    assert_eq!(
        xandikos
            .members(xandikos.calendar_home_path())
            .await
            .unwrap(),
        before,
        "nothing written"
    );

    // The human form says the same.
    let text: Run = calport()
        .args(["check", "--config"])
        .arg(&config)
        .output()
        .unwrap()
        .into();
    assert_eq!(text.code, 0);
    assert!(
        text.stdout.contains("server: radicale") && text.stdout.contains("server: xandikos"),
        "{}",
        text.stdout
    );

    // A wrong password is a clear fatal error.
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        std::fs::read_to_string(&config)
            .unwrap()
            .replace("alicepw", "nope"),
    )
    .unwrap();
    let denied: Run = calport()
        .args(["check", "--config"])
        .arg(&bad)
        .output()
        .unwrap()
        .into();
    assert_eq!(denied.code, 1);
    assert!(
        denied.stderr.contains("source") && denied.stderr.contains("authentication failed"),
        "{}",
        denied.stderr
    );
}
