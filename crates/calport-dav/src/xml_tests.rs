//! Multistatus samples written for these tests (not copied from any server).

use super::*;

#[test]
fn merges_split_propstats_with_any_prefix() {
    let body = r#"<?xml version="1.0"?>
<X:multistatus xmlns:X="DAV:" xmlns:K="urn:ietf:params:xml:ns:caldav" xmlns:Z="http://apple.com/ns/ical/">
  <X:response>
    <X:href>/dav/cal/work/</X:href>
    <X:propstat>
      <X:prop><X:displayname>Work &amp; Play</X:displayname></X:prop>
      <X:status>HTTP/1.1 200 OK</X:status>
    </X:propstat>
    <X:propstat>
      <X:status>HTTP/1.1 404 Not Found</X:status>
      <X:prop><X:sync-token/><K:calendar-description/></X:prop>
    </X:propstat>
    <X:propstat>
      <X:prop><Z:calendar-color>#FF0000</Z:calendar-color>
        <X:resourcetype><X:collection/><K:calendar/></X:resourcetype></X:prop>
      <X:status>HTTP/1.1 200 OK</X:status>
    </X:propstat>
  </X:response>
</X:multistatus>"#;
    let ms = parse_multistatus(body).unwrap();
    assert_eq!(ms.responses.len(), 1);
    let r = &ms.responses[0];
    assert_eq!(r.hrefs, vec!["/dav/cal/work/"]);
    assert_eq!(
        r.prop_text(DAV, "displayname").as_deref(),
        Some("Work & Play")
    );
    assert_eq!(
        r.prop_text(APPLE, "calendar-color").as_deref(),
        Some("#FF0000")
    );
    assert!(
        r.prop(DAV, "resourcetype")
            .unwrap()
            .has_child(CALDAV, "calendar")
    );
    assert_eq!(r.absent_status(DAV, "sync-token"), Some(404));
    assert_eq!(r.prop(DAV, "sync-token"), None);
    assert_eq!(r.effective_status(), 200);
}

#[test]
fn default_namespace_and_relative_hrefs_are_kept_raw() {
    let body = r#"<multistatus xmlns="DAV:"><response><href>ev%201.ics</href>
        <propstat><prop><getetag>"1"</getetag></prop><status>HTTP/1.1 200 OK</status></propstat>
        </response><response><href> urn:uuid:abc.vcf </href>
        <propstat><prop><getetag>W/"2"</getetag></prop><status>HTTP/1.1 200 OK</status></propstat>
        </response></multistatus>"#;
    let ms = parse_multistatus(body).unwrap();
    assert_eq!(ms.responses[0].hrefs, vec!["ev%201.ics"]);
    assert_eq!(ms.responses[1].hrefs, vec!["urn:uuid:abc.vcf"]);
    assert_eq!(
        ms.responses[1].prop_text(DAV, "getetag").as_deref(),
        Some("W/\"2\"")
    );
}

#[test]
fn sync_report_with_deletion_truncation_and_token() {
    let body = r#"<d:multistatus xmlns:d="DAV:">
  <d:response><d:href>/cal/a.ics</d:href>
    <d:propstat><d:prop><d:getetag>"e7"</d:getetag></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
  <d:response><d:href>/cal/gone.ics</d:href><d:status>HTTP/1.1 404 Not Found</d:status></d:response>
  <d:response><d:href>/cal/</d:href><d:status>HTTP/1.1 507 Insufficient Storage</d:status>
    <d:error><d:number-of-matches-within-limits/></d:error></d:response>
  <d:sync-token>data:,17</d:sync-token>
</d:multistatus>"#;
    let ms = parse_multistatus(body).unwrap();
    assert_eq!(ms.sync_token.as_deref(), Some("data:,17"));
    let statuses: Vec<u16> = ms
        .responses
        .iter()
        .map(MsResponse::effective_status)
        .collect();
    assert_eq!(statuses, vec![200, 404, 507]);
    assert_eq!(
        ms.responses[2].errors,
        vec!["number-of-matches-within-limits"]
    );
}

#[test]
fn valid_sync_token_error_body() {
    let body = r#"<?xml version='1.0' encoding='utf-8'?>
<D:error xmlns:D="DAV:"><D:valid-sync-token/><D:responsedescription>token expired</D:responsedescription></D:error>"#;
    assert_eq!(
        error_summary(body).as_deref(),
        Some("valid-sync-token: token expired")
    );
    assert!(parse_multistatus(body).unwrap_err().contains("error"));
    let uid = r#"<e:error xmlns:e="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><c:no-uid-conflict><e:href>/c/x.ics</e:href></c:no-uid-conflict></e:error>"#;
    assert_eq!(error_summary(uid).as_deref(), Some("no-uid-conflict"));
    assert_eq!(error_summary("<html/>"), None);
}

#[test]
fn calendar_data_keeps_crlf_and_unescapes_entities() {
    let body = "<?xml version=\"1.0\"?>\r\n<d:multistatus xmlns:d=\"DAV:\"\r\n xmlns:c=\"urn:ietf:params:xml:ns:caldav\"><d:response><d:href>/c/1.ics</d:href>\
        <d:propstat><d:prop><d:getetag>\"x\"</d:getetag><c:calendar-data>BEGIN:VCALENDAR\r\nSUMMARY:a &amp; b &lt;c&gt;\r\nEND:VCALENDAR\r\n</c:calendar-data></d:prop>\
        <d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>\r\n<!-- a\r\ncomment --></d:multistatus>";
    let ms = parse_multistatus(body).unwrap();
    assert_eq!(
        ms.responses[0].prop_raw(CALDAV, "calendar-data"),
        Some("BEGIN:VCALENDAR\r\nSUMMARY:a & b <c>\r\nEND:VCALENDAR\r\n")
    );
}

#[test]
fn cdata_keeps_crlf_too() {
    let body = "<d:multistatus xmlns:d=\"DAV:\" xmlns:cr=\"urn:ietf:params:xml:ns:carddav\"><d:response><d:href>/a/1.vcf</d:href>\
        <d:propstat><d:prop><cr:address-data><![CDATA[BEGIN:VCARD\r\nFN:A<B>\r\nEND:VCARD\r\n]]></cr:address-data></d:prop>\
        <d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response></d:multistatus>";
    let ms = parse_multistatus(body).unwrap();
    assert_eq!(
        ms.responses[0].prop_raw(CARDDAV, "address-data"),
        Some("BEGIN:VCARD\r\nFN:A<B>\r\nEND:VCARD\r\n")
    );
}

#[test]
fn cr_in_attribute_values_and_quotes_in_tags_do_not_confuse_the_scanner() {
    let body = "<d:multistatus xmlns:d=\"DAV:\" x='a>b'><d:response><d:href>/x\r\n</d:href></d:response></d:multistatus>";
    let ms = parse_multistatus(body).unwrap();
    assert_eq!(ms.responses[0].hrefs, vec!["/x"]);
}

#[test]
fn rejects_non_multistatus_and_garbage() {
    assert!(parse_multistatus("<html><body>hi</body></html>").is_err());
    assert!(parse_multistatus("not xml").is_err());
    assert!(parse_multistatus("<d:multistatus xmlns:d=\"DAV:\">").is_err());
}

#[test]
fn response_with_several_hrefs_and_one_status() {
    let body = r#"<multistatus xmlns="DAV:"><response><href>/a</href><href>/b</href>
        <status>HTTP/1.1 404 Not Found</status></response></multistatus>"#;
    let ms = parse_multistatus(body).unwrap();
    assert_eq!(ms.responses[0].hrefs, vec!["/a", "/b"]);
    assert_eq!(ms.responses[0].effective_status(), 404);
}

#[test]
fn request_bodies_escape_and_parse() {
    let spec = NewCollection {
        kind: CollectionKind::Calendar,
        segment: "x".into(),
        display_name: Some("R&D <team>".into()),
        color: Some("#112233".into()),
        description: Some("d".into()),
        components: vec!["VEVENT".into(), "VTODO".into()],
    };
    for body in [mkcalendar(&spec), mkcol(&spec), proppatch(&spec)] {
        let root = parse(&body).unwrap();
        let prop = root.children[0].child(DAV, "prop").unwrap();
        assert_eq!(prop.child(DAV, "displayname").unwrap().text, "R&D <team>");
        assert_eq!(prop.child(APPLE, "calendar-color").unwrap().text, "#112233");
    }
    let mk = parse(&mkcol(&spec)).unwrap();
    assert!(mk.contains(CALDAV, "calendar"));
    let get = parse(&multiget(CollectionKind::AddressBook, ["/a&b.vcf"])).unwrap();
    assert!(get.is(CARDDAV, "addressbook-multiget"));
    assert_eq!(get.hrefs(), vec!["/a&b.vcf"]);
    let sync = parse(&sync_collection(None)).unwrap();
    assert_eq!(sync.child(DAV, "sync-token").unwrap().text, "");
    let sync = parse(&sync_collection(Some("http://x/1?a&b"))).unwrap();
    assert_eq!(
        sync.child(DAV, "sync-token").unwrap().text,
        "http://x/1?a&b"
    );
}

#[test]
fn status_lines() {
    assert_eq!(status_code("HTTP/1.1 207 Multi-Status"), Some(207));
    assert_eq!(status_code(" HTTP/1.0 404 "), Some(404));
    assert_eq!(status_code("garbage"), None);
}
