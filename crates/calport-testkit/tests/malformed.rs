//! Every file of the shared corpus' `malformed/` set placed raw into each server's storage:
//! what the server then lists and serves (the findings documented on `write_raw_files`).

use std::path::{Path, PathBuf};

use calport_testkit::{DavServer, Method, ServerKind, StatusCode, corpus_dir};

/// `(member name, bytes)` for every file under `dir` with extension `ext`, named
/// `<source>-<file>` so files of different sources cannot collide.
fn corpus_files(dir: &Path, ext: &str) -> Vec<(String, Vec<u8>)> {
    let mut paths: Vec<PathBuf> = Vec::new();
    for source in std::fs::read_dir(dir).unwrap() {
        let source = source.unwrap().path();
        if source.is_dir() {
            for file in std::fs::read_dir(&source).unwrap() {
                let file = file.unwrap().path();
                if file.extension().is_some_and(|e| e == ext) {
                    paths.push(file);
                }
            }
        }
    }
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let source = p.parent().unwrap().file_name().unwrap().to_string_lossy();
            let file = p.file_name().unwrap().to_string_lossy();
            (format!("{source}-{file}"), std::fs::read(&p).unwrap())
        })
        .collect()
}

struct Outcome {
    listed: usize,
    get_ok: usize,
    multiget_ok: usize,
}

async fn place_and_probe(
    server: &DavServer,
    collection: &str,
    files: &[(String, Vec<u8>)],
    report: &str,
    data: &str,
    ns: &str,
) -> Outcome {
    let raw: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    server.write_raw_files(collection, &raw).await.unwrap();
    let members = server.members(collection).await.unwrap();
    let mut outcome = Outcome {
        listed: members.len(),
        get_ok: 0,
        multiget_ok: 0,
    };
    for member in &members {
        let (status, body) = server.get(&member.href).await.unwrap();
        let original = files
            .iter()
            .find(|(n, _)| *n == member.name)
            .map(|(_, b)| b);
        let get_raw = status == StatusCode::OK && original == Some(&body);
        outcome.get_ok += usize::from(status == StatusCode::OK);
        let xml = format!(
            r#"<?xml version="1.0" encoding="utf-8"?><X:{report} xmlns:D="DAV:" xmlns:X="{ns}"><D:prop><D:getetag/><X:{data}/></D:prop><D:href>{}</D:href></X:{report}>"#,
            member.href
        );
        let multiget = server
            .request(Method::from_bytes(b"REPORT").unwrap(), collection)
            .header("Depth", "1")
            .header("Content-Type", "application/xml; charset=utf-8")
            .body(xml)
            .send()
            .await
            .unwrap()
            .status();
        outcome.multiget_ok += usize::from(multiget == StatusCode::MULTI_STATUS);
        println!(
            "{:9} {:60} GET {} {:8} multiget {}",
            server.kind().to_string(),
            member.name,
            status.as_u16(),
            if get_raw { "raw" } else { "" },
            multiget.as_u16()
        );
    }
    outcome
}

#[tokio::test]
async fn malformed_corpus_on_both_servers() {
    let Some(corpus) = corpus_dir() else {
        println!("SKIPPED: shared corpus not found (set CALPORT_SHARED_DIR)");
        return;
    };
    let ics = corpus_files(&corpus.join("malformed/ics"), "ics");
    let vcf = corpus_files(&corpus.join("malformed/vcf"), "vcf");
    assert!(!ics.is_empty() && !vcf.is_empty());
    let caldav = "urn:ietf:params:xml:ns:caldav";
    let carddav = "urn:ietf:params:xml:ns:carddav";

    for kind in ServerKind::ALL {
        let server = DavServer::start(kind).await.unwrap();
        server.create_default_collections().await.unwrap();
        let cal = place_and_probe(
            &server,
            server.calendar_path(),
            &ics,
            "calendar-multiget",
            "calendar-data",
            caldav,
        )
        .await;
        let book = place_and_probe(
            &server,
            server.addressbook_path(),
            &vcf,
            "addressbook-multiget",
            "address-data",
            carddav,
        )
        .await;
        println!(
            "{kind}: .ics listed {}/{} GET {} multiget {}; .vcf listed {}/{} GET {} multiget {}",
            cal.listed,
            ics.len(),
            cal.get_ok,
            cal.multiget_ok,
            book.listed,
            vcf.len(),
            book.get_ok,
            book.multiget_ok
        );
        match kind {
            // Xandikos lists every file, whatever it holds.
            ServerKind::Xandikos => {
                assert_eq!(cal.listed, ics.len());
                assert_eq!(book.listed, vcf.len());
            }
            // Radicale silently leaves out what vobject rejects, and serves the rest.
            ServerKind::Radicale => {
                assert!(cal.listed < ics.len() && book.listed < vcf.len());
                assert_eq!(cal.get_ok, cal.listed);
                assert_eq!(book.get_ok, book.listed);
            }
        }
    }
}
