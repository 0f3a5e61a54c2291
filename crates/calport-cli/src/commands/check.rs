//! `calport check`: the read-only preflight an admin runs before a migration.
//!
//! Connects to both sides, names the server software and what it can do, lists the
//! collections with their item counts, previews the collection mapping and lists the
//! known risks for this pair. Writes nothing anywhere.

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::{Context, Result};
use calport_core::{CollectionInfo, Store};
use calport_dav::DavStore;
use calport_engine::{CollectionMapping, Selection, map_collections};
use clap::Args;
use serde::Serialize;

use super::accounts::{AccountArgs, Sides};

/// Options of `calport check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    accounts: AccountArgs,
    /// Print the findings as JSON on stdout.
    #[arg(long)]
    json: bool,
}

/// One collection and how many items it holds.
#[derive(Debug, Serialize)]
struct CollectionReport {
    name: String,
    href: String,
    kind: String,
    components: Vec<String>,
    color: Option<String>,
    items: Option<usize>,
    sync_collection: bool,
    read_only: bool,
}

/// What one side is and holds.
#[derive(Debug, Serialize)]
struct SideReport {
    url: String,
    server: String,
    version: Option<String>,
    dav_classes: Vec<String>,
    sync_collection: bool,
    extended_mkcol: bool,
    mkcalendar: bool,
    if_none_match_honoured: bool,
    reliable_sync_tokens: bool,
    quirks: Vec<String>,
    collections: Vec<CollectionReport>,
}

/// The whole preflight.
#[derive(Debug, Serialize)]
struct CheckReport {
    source: SideReport,
    destination: SideReport,
    mapping: Vec<String>,
    risks: Vec<String>,
}

async fn inspect(store: &DavStore, side: &str) -> Result<(SideReport, Vec<CollectionInfo>)> {
    let collections = store
        .discover()
        .await
        .with_context(|| format!("{side} ({})", store.describe()))?;
    let mut listed = Vec::with_capacity(collections.len());
    for collection in &collections {
        // A complete listing (hrefs and etags only) counts the items.
        let items = store
            .changes(collection, None)
            .await
            .map(|c| c.changed.len())
            .ok();
        listed.push(CollectionReport {
            name: collection.label().to_owned(),
            href: collection.href.to_string(),
            kind: collection.kind.as_str().to_owned(),
            components: collection.components.clone(),
            color: collection.color.clone(),
            items,
            sync_collection: collection.supports_sync,
            read_only: collection.read_only,
        });
    }
    let profile = store.profile();
    let (mut dav, allow) = store
        .home_capabilities()
        .await
        .with_context(|| format!("{side}: OPTIONS on the home set"))?;
    for class in store.dav_capabilities() {
        if !dav.contains(&class) {
            dav.push(class);
        }
    }
    let report = SideReport {
        url: store.describe(),
        server: profile.product.name().to_owned(),
        version: profile.version.clone(),
        sync_collection: collections.iter().any(|c| c.supports_sync),
        extended_mkcol: dav.iter().any(|c| c.eq_ignore_ascii_case("extended-mkcol")),
        mkcalendar: allow.iter().any(|m| m.eq_ignore_ascii_case("MKCALENDAR")),
        dav_classes: dav,
        if_none_match_honoured: profile.honours_if_none_match,
        reliable_sync_tokens: profile.reliable_sync_tokens,
        quirks: profile.quirks.clone(),
        collections: listed,
    };
    Ok((report, collections))
}

fn risks(
    sides: &Sides,
    source: &SideReport,
    destination: &SideReport,
    mapping: &[CollectionMapping],
    dest: &DavStore,
) -> Vec<String> {
    let mut risks = Vec::new();
    let options = &sides.file.options;
    if dest.profile().may_corrupt {
        risks.push(format!(
            "the destination ({}) is known to store some accepted items wrongly: {}",
            destination.server,
            if options.verify {
                "read-back verification is on and will list every such item"
            } else {
                "TURN verify BACK ON ([options] verify = true), or such items go unnoticed"
            }
        ));
    }
    let creates = mapping
        .iter()
        .filter(|m| matches!(m, CollectionMapping::Create { .. }))
        .count();
    if creates > 0 && !destination.mkcalendar && !destination.extended_mkcol {
        risks.push(format!(
            "{creates} collection(s) must be created, but the destination advertises neither MKCALENDAR nor extended MKCOL"
        ));
    }
    for m in mapping {
        if let CollectionMapping::Skipped { source, reason } = m {
            risks.push(format!(
                "\"{}\" will not be migrated: {reason}",
                source.label()
            ));
        }
    }
    if source.server == "radicale" || destination.server == "radicale" {
        risks.push("Radicale and Xandikos ingest only ~12–30 items/s and slow down as a collection grows: plan hours for tens of thousands of items".into());
    }
    let vcard4_to_sogo = destination.server == "sogo"
        && source
            .collections
            .iter()
            .any(|c| c.kind == "addressbook" && c.items.unwrap_or(0) > 0);
    if vcard4_to_sogo {
        risks.push(
            "SOGo stores vCard 4.0 contacts as 3.0 (other 4.0 syntax is kept): compared in meaning"
                .into(),
        );
    }
    risks
}

fn side_text(out: &mut String, title: &str, side: &SideReport) {
    let _ = writeln!(out, "{title}: {}", side.url);
    let _ = writeln!(
        out,
        "  server: {}{}",
        side.server,
        side.version
            .as_deref()
            .map(|v| format!(" ({v})"))
            .unwrap_or_default()
    );
    let yes = |b: bool| if b { "yes" } else { "no" };
    let _ = writeln!(
        out,
        "  sync-collection: {}   extended MKCOL: {}   MKCALENDAR: {}   If-None-Match honoured: {}",
        yes(side.sync_collection),
        yes(side.extended_mkcol),
        yes(side.mkcalendar),
        yes(side.if_none_match_honoured)
    );
    for quirk in &side.quirks {
        let _ = writeln!(out, "  quirk: {quirk}");
    }
    if side.collections.is_empty() {
        let _ = writeln!(out, "  no calendars or address books found");
    }
    for c in &side.collections {
        let _ = writeln!(
            out,
            "  {:<11} {:<28} {:>6} items  {}{}",
            c.kind,
            c.name,
            c.items.map(|n| n.to_string()).unwrap_or_else(|| "?".into()),
            c.href,
            if c.components.is_empty() {
                String::new()
            } else {
                format!("  [{}]", c.components.join(","))
            }
        );
    }
}

/// Runs the preflight; exit 0 when both sides answered.
///
/// # Errors
/// A configuration problem or an unusable side (exit 1).
pub async fn run(args: CheckArgs) -> Result<ExitCode> {
    let sides = Sides::resolve(&args.accounts)?;
    let source_store = sides.store(&sides.source, "source")?;
    let destination_store = sides.store(&sides.destination, "destination")?;
    let (source, source_collections) = inspect(&source_store, "source").await?;
    let (destination, destination_collections) = inspect(&destination_store, "destination").await?;
    let options = &sides.file.options;
    let selection = Selection {
        calendars: options.calendars,
        tasks: options.tasks,
        contacts: options.contacts,
    };
    let mapping = map_collections(
        &source_collections,
        &destination_collections,
        &selection,
        options.create_collections,
    );
    let mapping_lines: Vec<String> = mapping
        .iter()
        .map(|m| match m {
            CollectionMapping::Paired {
                source,
                destination,
            } => {
                format!(
                    "{} → {} ({})",
                    source.label(),
                    destination.label(),
                    destination.href
                )
            }
            CollectionMapping::Create { source, spec } => format!(
                "{} → new {} \"{}\" ({})",
                source.label(),
                spec.kind.as_str(),
                spec.display_name.as_deref().unwrap_or(&spec.segment),
                spec.segment
            ),
            CollectionMapping::Skipped { source, reason } => {
                format!("{} → skipped: {reason}", source.label())
            }
        })
        .collect();
    let risks = risks(&sides, &source, &destination, &mapping, &destination_store);
    let report = CheckReport {
        source,
        destination,
        mapping: mapping_lines,
        risks,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let mut out = String::new();
        side_text(&mut out, "source", &report.source);
        side_text(&mut out, "destination", &report.destination);
        let _ = writeln!(out, "mapping:");
        for line in &report.mapping {
            let _ = writeln!(out, "  {line}");
        }
        if report.risks.is_empty() {
            let _ = writeln!(out, "risks: none known for this pair");
        } else {
            let _ = writeln!(out, "risks:");
            for risk in &report.risks {
                let _ = writeln!(out, "  - {risk}");
            }
        }
        print!("{out}");
    }
    Ok(ExitCode::SUCCESS)
}
