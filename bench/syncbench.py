#!/usr/bin/env python3
"""Helpers for bench/sync.sh (Python 3.9+, standard library only; reuses bench/davbench.py).

Subcommands (each prints one JSON object on stdout unless noted; diagnostics go to stderr):

  probe    the server's raw per-item write rate on a big collection: PUT N new items (copies
           of generated ones under new UIDs, If-None-Match: *), then DELETE them; both timed
  rawread  what reading a whole collection costs the server: first and second sync-collection
           REPORT (empty token), PROPFIND Depth 1, multiget of every member in batches of 100
  markers  what the one request of a no-op run costs: PROPFIND Depth 1 on the home set with
           calport's collection properties, only getctag, only sync-token, neither
  select   pick the items the edit rounds change: EDIT_SHARE % of a collection for side A
           and as many other ones for side B (disjoint, deterministic, from A's listing)
  edit     change the selected items of one side (SUMMARY/FN gets a marker, LAST-MODIFIED /
           DTSTAMP / REV now, SEQUENCE + 1) and PUT them back with If-Match (PUTs timed)
  verify   fetch only the edited items from both sides and compare them in meaning
  step     one line of figures for a finished calport or vdirsyncer run (stderr) + JSON
  summary  the final table (stderr) and the JSON report

Only loopback URLs are accepted (davbench.Http refuses others).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import json
import os
import random
import re
import sys
import threading
import time
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import davbench  # noqa: E402  (same directory)
from davbench import (  # noqa: E402
    CALDAV, CARDDAV, DAV, Http, fold, load, log, parse_multistatus, q, split_url, split_items,
    time_v, xml_escape, xml_headers,
)

READ_METHODS = {"PROPFIND", "REPORT", "GET", "OPTIONS", "HEAD"}
WRITE_METHODS = {"PUT", "DELETE", "MKCOL", "MKCALENDAR", "PROPPATCH", "MOVE", "COPY"}
UID_LINE = re.compile(r"^UID(;[^:]*)?:", re.I)
ORIGIN_LINE = re.compile(r"^X-CALPORT-ORIGIN[;:]", re.I)


def ctype(card: bool) -> str:
    return "text/vcard; charset=utf-8" if card else "text/calendar; charset=utf-8"


def unfold(body: str) -> list:
    return [line for line in re.sub(r"\r?\n[ \t]", "", body).replace("\r\n", "\n").split("\n")
            if line]


def refold(lines_: list) -> bytes:
    return "".join(fold(line) for line in lines_).encode("utf-8")


def now_stamp() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def run_parallel(fn, work: list, concurrency: int) -> list:
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        return list(pool.map(fn, work))


def listing(h: Http, coll: str) -> dict:
    """href -> etag of every member (PROPFIND Depth 1)."""
    body = (b'<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop>'
            b"<D:resourcetype/><D:getetag/></D:prop></D:propfind>")
    status, data, _ = h.request("PROPFIND", coll, body, xml_headers("1"))
    if status != 207:
        raise SystemExit(f"PROPFIND {coll}: {status} {data[:300]!r}")
    out = {}
    for href, props, _ in parse_multistatus(data):
        rt = props.get(q(DAV, "resourcetype"))
        if rt is not None and rt.find(q(DAV, "collection")) is not None:
            continue
        if not href.startswith("/") and not href.startswith("http"):
            href = coll + href
        etag = props.get(q(DAV, "getetag"))
        out[urllib.parse.urlsplit(href).path] = etag.text if etag is not None else None
    return out


def multiget(h: Http, coll: str, hrefs: list, card: bool) -> dict:
    """href -> (body text, etag); batches of 100; missing hrefs are absent."""
    ns, report, data_el = ((CARDDAV, "addressbook-multiget", "address-data") if card else
                           (CALDAV, "calendar-multiget", "calendar-data"))
    out = {}
    for i in range(0, len(hrefs), 100):
        batch = hrefs[i: i + 100]
        body = (f'<?xml version="1.0" encoding="utf-8"?><X:{report} xmlns:D="DAV:" '
                f'xmlns:X="{ns}"><D:prop><D:getetag/><X:{data_el}/></D:prop>'
                + "".join(f"<D:href>{xml_escape(x)}</D:href>" for x in batch)
                + f"</X:{report}>").encode()
        status, data, _ = h.request("REPORT", coll, body, xml_headers("1"))
        if status != 207:
            raise SystemExit(f"REPORT {coll}: {status} {data[:300]!r}")
        for href, props, _ok in parse_multistatus(data):
            el = props.get(q(ns, data_el))
            if el is None or el.text is None:
                continue
            if not href.startswith("/"):
                href = coll + href
            etag = props.get(q(DAV, "getetag"))
            text_value = el.text.replace("\r\n", "\n").replace("\n", "\r\n")
            out[urllib.parse.urlsplit(href).path] = (text_value,
                                                     etag.text if etag is not None else None)
    return out


def coll_of(url: str) -> tuple:
    base, path = split_url(url)
    return base, path if path.endswith("/") else path + "/"


# --------------------------------------------------------------------------------------------
# probe: raw create / delete rate on the big collection
# --------------------------------------------------------------------------------------------

def with_new_uid(body: str, uid: str) -> bytes:
    return refold([f"UID:{uid}" if UID_LINE.match(line) else line for line in unfold(body)])


def cmd_probe(args: argparse.Namespace) -> dict:
    base, coll = coll_of(args.url)
    card = args.kind == "addressbook"
    h = Http(base, args.user, args.password)
    templates = split_items(open(args.data, "rb").read(), card)[: args.count]
    if not templates:
        raise SystemExit(f"no items in {args.data}")
    items = []
    for i in range(args.count):
        tpl = templates[i % len(templates)]
        uid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"calport-syncbench-probe/{args.tag}/{i}"))
        if card and "UID:urn:uuid:" in tpl:
            uid = "urn:uuid:" + uid
        name = f"calport-syncbench-probe-{args.tag}-{i}.{'vcf' if card else 'ics'}"
        items.append((coll + name, with_new_uid(tpl, uid)))

    def put(item):
        path, body = item
        t = time.monotonic()
        status, data, _ = h.request("PUT", path, body,
                                    {"Content-Type": ctype(card), "If-None-Match": "*"})
        return status, time.monotonic() - t, data[:200]

    def delete(item):
        t = time.monotonic()
        status, data, _ = h.request("DELETE", item[0])
        return status, time.monotonic() - t, data[:200]

    t0 = time.monotonic()
    created = run_parallel(put, items, args.concurrency)
    t_create = time.monotonic() - t0
    t0 = time.monotonic()
    deleted = run_parallel(delete, items, args.concurrency)
    t_delete = time.monotonic() - t0
    bad = [f"PUT {s} {d!r}" for s, _, d in created if s not in (200, 201, 204)]
    bad += [f"DELETE {s} {d!r}" for s, _, d in deleted if s not in (200, 204)]
    if bad:
        raise SystemExit(f"probe {coll}: {len(bad)} requests failed, e.g. {bad[:3]}")
    n = len(items)
    result = {"collection": coll, "kind": args.kind, "items": n, "concurrency": args.concurrency,
              "create_seconds": round(t_create, 3), "create_per_s": round(n / t_create, 2),
              "create_ms_median": round(sorted(x[1] for x in created)[n // 2] * 1000, 1),
              "delete_seconds": round(t_delete, 3), "delete_per_s": round(n / t_delete, 2)}
    log(f"probe {base}{coll}: {n} new items PUT in {t_create:.2f} s ({n / t_create:.2f}/s), "
        f"DELETEd in {t_delete:.2f} s ({n / t_delete:.2f}/s)")
    return result


# --------------------------------------------------------------------------------------------
# rawread: what reading a whole collection costs the server, without calport
# --------------------------------------------------------------------------------------------

def cmd_rawread(args: argparse.Namespace) -> dict:
    """Times, on one collection: the first sync-collection REPORT (empty token: Radicale
    builds its sync-token history, one file per item), a second one, a PROPFIND Depth 1 of
    the etags, and a multiget of every member in batches of 100 (one request at a time)."""
    base, coll = coll_of(args.url)
    card = args.kind == "addressbook"
    h = Http(base, args.user, args.password)
    sync_body = (b'<?xml version="1.0" encoding="utf-8"?><D:sync-collection xmlns:D="DAV:">'
                 b"<D:sync-token/><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop>"
                 b"</D:sync-collection>")
    out = {"collection": coll, "kind": args.kind}
    for key in ("first_sync_collection_s", "second_sync_collection_s"):
        t0 = time.monotonic()
        status, data, _ = h.request("REPORT", coll, sync_body, xml_headers("0"))
        out[key] = round(time.monotonic() - t0, 3)
        if status != 207:
            raise SystemExit(f"sync-collection REPORT {coll}: {status} {data[:300]!r}")
    t0 = time.monotonic()
    members = listing(h, coll)
    out["propfind_s"] = round(time.monotonic() - t0, 3)
    t0 = time.monotonic()
    got = multiget(h, coll, sorted(members), card)
    out["multiget_all_s"] = round(time.monotonic() - t0, 3)
    out["items"] = len(members)
    if len(got) != len(members):
        raise SystemExit(f"rawread {coll}: multiget returned {len(got)} of {len(members)} items")
    log(f"raw read {base}{coll}: {len(members)} items; first sync-collection "
        f"{out['first_sync_collection_s']:.2f} s, second {out['second_sync_collection_s']:.2f} s, "
        f"PROPFIND {out['propfind_s']:.2f} s, multiget of all (batches of 100) "
        f"{out['multiget_all_s']:.2f} s")
    return out


# --------------------------------------------------------------------------------------------
# markers: what the one request of a no-op run costs the server
# --------------------------------------------------------------------------------------------

CAL_NS = ('xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" '
          'xmlns:cr="urn:ietf:params:xml:ns:carddav" xmlns:cs="http://calendarserver.org/ns/" '
          'xmlns:a="http://apple.com/ns/ical/"')
MARKER_VARIANTS = {
    # calport-dav xml.rs propfind_collection(): what `calport sync` asks the home set for.
    "calport": "<d:resourcetype/><d:displayname/><cs:getctag/><d:sync-token/>"
               "<d:supported-report-set/><d:current-user-privilege-set/>"
               "<c:supported-calendar-component-set/><c:calendar-description/>"
               "<a:calendar-color/><cr:addressbook-description/>",
    "getctag_only": "<d:resourcetype/><cs:getctag/>",
    "sync_token_only": "<d:resourcetype/><d:sync-token/>",
    "neither": "<d:resourcetype/><d:displayname/>",
}


def cmd_markers(args: argparse.Namespace) -> dict:
    """PROPFIND Depth 1 on a home set with calport's collection properties, and with only
    getctag, only sync-token, or neither (Radicale computes each of the two from every
    item of the collection); the median of --repeat tries each."""
    base, home = coll_of(args.url)
    h = Http(base, args.user, args.password)
    out = {"home": home, "repeat": args.repeat}
    for name, props in MARKER_VARIANTS.items():
        body = (f'<?xml version="1.0" encoding="utf-8"?><d:propfind {CAL_NS}><d:prop>{props}'
                f"</d:prop></d:propfind>").encode()
        times = []
        for _ in range(args.repeat):
            t0 = time.monotonic()
            status, data, _ = h.request("PROPFIND", home, body, xml_headers("1"))
            times.append(time.monotonic() - t0)
            if status != 207:
                raise SystemExit(f"PROPFIND {home}: {status} {data[:300]!r}")
        out[name + "_s"] = round(sorted(times)[len(times) // 2], 3)
    log(f"home PROPFIND {base}{home} (median of {args.repeat}): calport's properties "
        f"{out['calport_s']:.2f} s, only getctag {out['getctag_only_s']:.2f} s, only sync-token "
        f"{out['sync_token_only_s']:.2f} s, neither {out['neither_s']:.2f} s")
    return out


# --------------------------------------------------------------------------------------------
# select / edit / verify
# --------------------------------------------------------------------------------------------

def cmd_select(args: argparse.Namespace) -> dict:
    """Deterministic, disjoint selections for A and B from A's listing of each collection."""
    out = {"share_pct": args.share, "seed": args.seed, "collections": []}
    for spec in args.coll:
        kind, url = spec.split("=", 1)
        base, coll = coll_of(url)
        h = Http(base, args.user, args.password)
        hrefs = sorted(listing(h, coll))
        k = int(round(len(hrefs) * args.share / 100.0))
        if args.share > 0 and hrefs:
            k = max(k, 1)
        k = min(k, len(hrefs) // 2)
        rng = random.Random(f"{args.seed}/{coll}")
        chosen = rng.sample(hrefs, 2 * k) if k else []
        out["collections"].append({"kind": kind, "path": coll, "members": len(hrefs),
                                   "a": sorted(chosen[:k]), "b": sorted(chosen[k:])})
        log(f"select {coll}: {k} of {len(hrefs)} items for each side")
    return out


def edit_event(lines_: list, marker: str, stamp: str) -> list:
    out, depth, in_event, event_depth = [], 0, False, 0
    seen: dict = {}
    for line in lines_:
        up = line.upper()
        if up.startswith("BEGIN:"):
            depth += 1
            if up == "BEGIN:VEVENT":
                in_event, seen = True, {}
                event_depth = depth
            out.append(line)
            continue
        if up.startswith("END:"):
            if up == "END:VEVENT" and in_event:
                if "LAST-MODIFIED" not in seen:
                    out.append(f"LAST-MODIFIED:{stamp}")
                if "SUMMARY" not in seen:
                    out.append(f"SUMMARY:[{marker}]")
                in_event = False
            depth -= 1
            out.append(line)
            continue
        if in_event and depth == event_depth:
            name = re.split(r"[;:]", line, 1)[0].upper()
            seen[name] = True
            if name == "SUMMARY":
                line = f"{line} [{marker}]"
            elif name in ("LAST-MODIFIED", "DTSTAMP"):
                line = f"{name}:{stamp}"
            elif name == "SEQUENCE":
                value = line.split(":", 1)[1].strip()
                line = f"SEQUENCE:{int(value) + 1 if value.isdigit() else 1}"
        out.append(line)
    return out


def edit_card(lines_: list, marker: str, stamp: str) -> list:
    out, seen_rev = [], False
    for line in lines_:
        name = re.split(r"[;:.]", line, 1)[0].upper()
        if name == "FN":
            line = f"{line} [{marker}]"
        elif name == "REV":
            line, seen_rev = f"REV:{stamp}", True
        elif line.upper() == "END:VCARD" and not seen_rev:
            out.append(f"REV:{stamp}")
        out.append(line)
    return out


def cmd_edit(args: argparse.Namespace) -> dict:
    """Edits this side's selected items (untimed read, timed PUT with If-Match)."""
    selection = load(args.selection)
    base, _ = split_url(args.base)
    h = Http(base, args.user, args.password)
    stamp = now_stamp()
    work = []
    for c in selection["collections"]:
        card = c["kind"] == "addressbook"
        hrefs = c[args.side]
        got = multiget(h, c["path"], hrefs, card)
        missing = [x for x in hrefs if x not in got]
        if missing:
            raise SystemExit(f"edit: {len(missing)} selected items missing on {base}, e.g. {missing[:3]}")
        for href in hrefs:
            body, etag = got[href]
            lines_ = unfold(body)
            new = (edit_card if card else edit_event)(lines_, args.marker, stamp)
            work.append((href, etag, refold(new), card))
    statuses: dict = {}
    errors = []
    lock = threading.Lock()

    def put(item):
        href, etag, body, card = item
        headers = {"Content-Type": ctype(card)}
        if etag:
            headers["If-Match"] = etag
        status, data, _ = h.request("PUT", href, body, headers)
        with lock:
            statuses[status] = statuses.get(status, 0) + 1
            if status not in (200, 201, 204) and len(errors) < 5:
                errors.append(f"{status} {href}: {data[:200]!r}")

    t0 = time.monotonic()
    run_parallel(put, work, args.concurrency)
    seconds = time.monotonic() - t0
    ok = sum(v for k, v in statuses.items() if k in (200, 201, 204))
    result = {"side": args.side, "base": base, "marker": args.marker, "items": len(work),
              "events": sum(1 for w in work if not w[3]), "contacts": sum(1 for w in work if w[3]),
              "ok": ok, "seconds": round(seconds, 3),
              "per_s": round(len(work) / seconds, 2) if seconds else None,
              "statuses": {str(k): v for k, v in sorted(statuses.items())}, "errors": errors}
    log(f"edit side {args.side} ({base}): {ok}/{len(work)} PUTs ok in {seconds:.2f} s"
        + (f"; errors: {errors[:2]}" if errors else ""))
    if ok != len(work):
        print(json.dumps(result), flush=True)
        raise SystemExit("edit: some PUTs failed")
    return result


def normalized(body: str) -> list:
    """Content lines, unfolded, in sorted order, without what calport adds on purpose to the
    copies it writes: the SCHEDULE-AGENT=CLIENT parameter (no invitations from the server)
    and the X-CALPORT-ORIGIN property (which job wrote the copy)."""
    return sorted(re.sub(r";SCHEDULE-AGENT=CLIENT(?=[;:])", "", line, flags=re.I)
                  for line in unfold(body) if not ORIGIN_LINE.match(line))


def cmd_verify(args: argparse.Namespace) -> dict:
    """Edited items only: present on both sides, equal in meaning, carrying the right marker."""
    selection = load(args.selection)
    ha = Http(split_url(args.a)[0], args.user, args.password)
    hb = Http(split_url(args.b)[0], args.user, args.password)
    checked = equal = 0
    problems = []
    for c in selection["collections"]:
        card = c["kind"] == "addressbook"
        hrefs = c["a"] + c["b"]
        got_a = multiget(ha, c["path"], hrefs, card)
        got_b = multiget(hb, c["path"], hrefs, card)
        for side, marker in (("a", args.marker_a), ("b", args.marker_b)):
            for href in c[side]:
                checked += 1
                ba, bb = got_a.get(href), got_b.get(href)
                if ba is None or bb is None:
                    problems.append(f"{href}: missing on {'A' if ba is None else 'B'}")
                    continue
                tag = f"[{marker}]"
                if tag not in ba[0] or tag not in bb[0]:
                    problems.append(f"{href}: edit marker {tag} missing on "
                                    + ("A" if tag not in ba[0] else "B"))
                    continue
                na, nb = normalized(ba[0]), normalized(bb[0])
                if na == nb:
                    equal += 1
                else:
                    only_a = [x for x in na if x not in nb][:2]
                    only_b = [x for x in nb if x not in na][:2]
                    problems.append(f"{href}: differs; only on A {only_a}, only on B {only_b}")
    result = {"checked": checked, "equal": equal, "problems": len(problems),
              "examples": [p[:300] for p in problems[:5]]}
    log(f"verify: {equal}/{checked} edited items equal on both sides"
        + (f"; e.g. {problems[0][:300]}" if problems else ""))
    return result


# --------------------------------------------------------------------------------------------
# figures
# --------------------------------------------------------------------------------------------

def read_float(path: str):
    try:
        return float(open(path, encoding="utf-8").read().strip())
    except (OSError, ValueError):
        return None


def calport_run(d: str, label: str) -> dict:
    """Figures of one calport run: <label>.json (stdout), .time, .wall, .rc."""
    t = time_v(os.path.join(d, f"{label}.time"))
    out = {"label": label, "tool": "calport", "wall_s": read_float(os.path.join(d, f"{label}.wall")),
           "exit_code": davbench.read_rc(os.path.join(d, f"{label}.rc")),
           "peak_rss_mb": round(t["max_rss_kb"] / 1024, 1) if "max_rss_kb" in t else None,
           "cpu_s": round(t.get("user_s", 0) + t.get("sys_s", 0), 2) if t else None}
    reports = []
    try:
        for line in open(os.path.join(d, f"{label}.json"), encoding="utf-8"):
            if line.startswith("{"):
                reports.append(json.loads(line))
    except OSError:
        pass
    if not reports:
        out["error"] = (davbench.read_text(os.path.join(d, f"{label}.err")) or "no report")[-600:]
        return out
    stats: dict = {}
    by_method: dict = {}
    requests = {"a": 0, "b": 0}
    listings, failures, seconds = [], [], 0.0
    for r in reports:
        seconds += r.get("seconds") or 0
        for side in ("a", "b"):
            requests[side] += (r.get("requests") or {}).get(side, 0)
            for m, n in ((r.get("requests_by_method") or {}).get(side) or {}).items():
                key = f"{side}:{m}"
                by_method[key] = by_method.get(key, 0) + n
        for p in r.get("pairs") or []:
            for k, v in (p.get("stats") or {}).items():
                if isinstance(v, int):
                    stats[k] = stats.get(k, 0) + v
            listings.append("/".join(p.get("listing") or []))
            for f in p.get("failures") or []:
                failures.append(f"{f.get('uid') or ''} {f.get('source_href') or ''}: {f.get('reason')}")
    write_keys = ("created_on_a", "updated_on_a", "deleted_on_a",
                  "created_on_b", "updated_on_b", "deleted_on_b")
    out.update({
        "reported_s": round(seconds, 3), "stats": stats,
        "writes": sum(stats.get(k, 0) for k in write_keys),
        "requests": requests["a"] + requests["b"], "requests_a": requests["a"],
        "requests_b": requests["b"], "requests_by_method": by_method,
        "write_requests": sum(n for k, n in by_method.items() if k.split(":", 1)[1] in WRITE_METHODS),
        "listing": listings, "failures": failures[:5], "failures_count": len(failures),
        "collections_created": [c for r in reports for c in r.get("collections_created") or []],
        "skipped": [c for r in reports for c in r.get("skipped") or []],
    })
    return out


VDIR_WRITE = re.compile(r"Copying \((uploading|updating)\) item|Deleting item")


def vdir_run(d: str, label: str) -> dict:
    t = time_v(os.path.join(d, f"{label}.time"))
    log_text = davbench.read_text(os.path.join(d, f"{label}.log")) or ""
    out = {"label": label, "tool": "vdirsyncer", "wall_s": read_float(os.path.join(d, f"{label}.wall")),
           "exit_code": davbench.read_rc(os.path.join(d, f"{label}.rc")),
           "peak_rss_mb": round(t["max_rss_kb"] / 1024, 1) if "max_rss_kb" in t else None,
           "cpu_s": round(t.get("user_s", 0) + t.get("sys_s", 0), 2) if t else None,
           "writes": len(VDIR_WRITE.findall(log_text)),
           "same_content": log_text.count("...same content on both sides.")}
    if out["exit_code"] not in (0, None):
        errs = [line for line in log_text.splitlines() if "error" in line.lower()]
        out["error"] = "; ".join(errs[-3:])[-600:] or log_text[-600:]
    return out


def fmt(v, unit: str = "", digits: int = 2) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.{digits}f}{unit}"
    return f"{v}{unit}"


def short_methods(run: dict) -> str:
    bm = run.get("requests_by_method") or {}
    agg: dict = {}
    for k, n in bm.items():
        m = k.split(":", 1)[1]
        agg[m] = agg.get(m, 0) + n
    return ", ".join(f"{m} {n}" for m, n in sorted(agg.items(), key=lambda kv: -kv[1])) or "-"


def step_line(run: dict, expect_writes=None) -> str:
    if run["tool"] == "calport":
        s = run.get("stats") or {}
        line = (f"{run['label']}: {fmt(run.get('wall_s'), ' s')} wall (calport reports "
                f"{fmt(run.get('reported_s'), ' s')}), exit {fmt(run.get('exit_code'))}, "
                f"requests {fmt(run.get('requests'))} (A {fmt(run.get('requests_a'))}, "
                f"B {fmt(run.get('requests_b'))}: {short_methods(run)}), writes {fmt(run.get('writes'))} "
                f"(A +{s.get('created_on_a', 0)} ~{s.get('updated_on_a', 0)} -{s.get('deleted_on_a', 0)}, "
                f"B +{s.get('created_on_b', 0)} ~{s.get('updated_on_b', 0)} -{s.get('deleted_on_b', 0)}), "
                f"unchanged {s.get('unchanged', 'n/a')}, conflicts {s.get('conflicts', 'n/a')}, "
                f"failed {s.get('failed', 'n/a')}, listing {run.get('listing')}, "
                f"peak RSS {fmt(run.get('peak_rss_mb'), ' MB', 1)}, CPU {fmt(run.get('cpu_s'), ' s')}")
        if run.get("failures"):
            line += f"; failures e.g. {run['failures'][:2]}"
    else:
        line = (f"{run['label']}: {fmt(run.get('wall_s'), ' s')} wall, exit {fmt(run.get('exit_code'))}, "
                f"writes {run.get('writes')}, peak RSS {fmt(run.get('peak_rss_mb'), ' MB', 1)}, "
                f"CPU {fmt(run.get('cpu_s'), ' s')}")
    if expect_writes is not None and run.get("writes") is not None and run["writes"] != expect_writes:
        line += f"  !! expected {expect_writes} writes"
    if run.get("error"):
        line += f"\n    error: {run['error']}"
    return line


def cmd_step(args: argparse.Namespace) -> dict:
    run = (calport_run if args.tool == "calport" else vdir_run)(args.dir, args.label)
    print(step_line(run, args.expect_writes), file=sys.stderr, flush=True)
    with open(os.path.join(args.dir, f"{args.label}.fig.json"), "w", encoding="utf-8") as f:
        json.dump(run, f, indent=2)
    return {"label": args.label, "writes": run.get("writes"), "exit_code": run.get("exit_code")}


def verdict(value, limit) -> str:
    if value is None:
        return "n/a"
    return "PASS" if value < limit else "MISS"


def cmd_summary(args: argparse.Namespace) -> dict:
    d = args.dir

    def fig(label):
        return load(os.path.join(d, f"{label}.fig.json")) or {}

    seed = load(os.path.join(d, "seed.json")) or {}
    rawread = []
    try:
        rawread = [json.loads(line) for line in open(os.path.join(d, "rawread.jsonl"), encoding="utf-8")
                   if line.strip()]
    except OSError:
        pass
    markers = load(os.path.join(d, "markers.json")) or {}
    mk = {k: (max(m.get(k) or 0 for m in markers.values()) if markers else None)
          for k in ("calport_s", "getctag_only_s", "sync_token_only_s", "neither_s")}
    rr = {k: round(sum(r.get(k) or 0 for r in rawread), 2) if rawread else None
          for k in ("first_sync_collection_s", "second_sync_collection_s", "propfind_s", "multiget_all_s")}
    probes = load(os.path.join(d, "probes.json")) or {}
    sel = load(os.path.join(d, "selection.json")) or {}
    edits_c = [load(os.path.join(d, f"edit-c-{s}.json")) or {} for s in ("a", "b")]
    edits_v = [load(os.path.join(d, f"edit-v-{s}.json")) or {} for s in ("a", "b")]
    ver_c = load(os.path.join(d, "verify-c.json")) or {}
    ver_v = load(os.path.join(d, "verify-v.json")) or {}
    c_init, c_incr, c_noop1, c_noop2 = (fig(x) for x in ("c-initial", "c-incremental", "c-noop1", "c-noop2"))
    v_disc, v_init, v_incr, v_noop1, v_noop2 = (fig(x) for x in (
        "v-discover", "v-initial", "v-incremental", "v-noop1", "v-noop2"))
    vdir_status = davbench.read_text(os.path.join(d, "vdirsyncer.status")) or "not run"
    per_side = sum(len(c["a"]) for c in sel.get("collections") or [])
    edits_total = 2 * per_side
    raw_c = sum(e.get("seconds") or 0 for e in edits_c) or None
    raw_v = sum(e.get("seconds") or 0 for e in edits_v) or None

    def add(x, y):
        return round(x + y, 2) if x is not None and y is not None else None

    def ratio(x, y):
        return round(x / y, 2) if x is not None and y else None

    items = args.events + args.contacts
    incr_ratio = ratio(c_incr.get("wall_s"), raw_c)
    # The target is for 150 changes; this run makes edits_total (2 x per side).
    incr_per150 = (round(c_incr["wall_s"] * 150 / edits_total, 2)
                   if c_incr.get("wall_s") is not None and edits_total else None)
    raw_per150 = round(raw_c * 150 / edits_total, 2) if raw_c and edits_total else None
    v_init_total = (round((v_disc.get("wall_s") or 0) + v_init["wall_s"], 2)
                    if v_init.get("wall_s") is not None else None)
    report = {
        "timestamp": args.timestamp, "events": args.events, "contacts": args.contacts,
        "items_per_side": items, "edit_share_pct": args.edit_share, "edits_per_side": per_side,
        "concurrency": args.concurrency, "cpus": os.cpu_count(),
        "loadavg_start": davbench.read_text(os.path.join(d, "loadavg.start")),
        "loadavg_end": davbench.read_text(os.path.join(d, "loadavg.end")),
        "seed": seed, "raw_write_probe": probes, "raw_read": rawread, "raw_read_sums": rr,
        "noop_propfind": markers, "calport_binary": args.calport,
        "calport": {"initial": c_init, "incremental": c_incr, "noop1": c_noop1, "noop2": c_noop2,
                    "raw_edit_puts": edits_c, "verify": ver_c,
                    "incremental_vs_raw_put_ratio": incr_ratio},
        "vdirsyncer": {"status": vdir_status, "discover": v_disc, "initial": v_init,
                       "incremental": v_incr, "noop1": v_noop1, "noop2": v_noop2,
                       "raw_edit_puts": edits_v, "verify": ver_v,
                       "incremental_vs_raw_put_ratio": ratio(v_incr.get("wall_s"), raw_v)},
        "targets": {"incremental_150_changes_s": 3.0, "noop_s": 0.5},
    }
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2, ensure_ascii=False)

    def raw_probe_line(side):
        parts = []
        for p in probes.get(side) or []:
            parts.append(f"{p['kind']} +{p['create_per_s']}/s -{p['delete_per_s']}/s "
                         f"(median PUT {p['create_ms_median']} ms)")
        return "; ".join(parts) or "n/a"

    W = 24

    def row(label, c, v=""):
        return f"{label:<{W}}{c:<46}{v}".rstrip()

    def cell(run, with_req=True):
        if not run:
            return "n/a"
        s = fmt(run.get("wall_s"), " s")
        if run.get("exit_code") not in (0, None):
            s += f" (exit {run['exit_code']})"
        if with_req and run.get("requests") is not None:
            s += f", {run['requests']} req"
        if run.get("writes") is not None:
            s += f", {run['writes']} writes"
        return s

    vd = v_init or v_incr
    seeded = seed.get("wall_s")
    block = [
        "",
        "==================== calport sync benchmark ====================",
        f"data               {items} items per side ({args.events} events, {args.contacts} contacts), "
        f"edits {fmt(args.edit_share)} % per side = {per_side} per side, {edits_total} in all; "
        f"concurrency {args.concurrency}",
        f"machine            {os.cpu_count()} CPUs, load average at start / end: "
        f"{' '.join((report['loadavg_start'] or 'n/a').split()[:3])} / "
        f"{' '.join((report['loadavg_end'] or 'n/a').split()[:3])}",
        "servers            Radicale 3.9: A and B for calport; C and D, started from copies of A's and "
        "B's storage\n                   taken before calport's first run, for vdirsyncer and the raw read; "
        "max_expand_occurrence = 0",
        f"seeding            {fmt(seeded, ' s', 1)} wall for both sides in parallel "
        f"(whole-collection PUT; " + ", ".join(
            f"{s.upper()} {fmt(seed.get(s + '_s'), ' s', 1)}" for s in ("a", "b")) + ")",
        f"raw write rate A   {raw_probe_line('a')}",
        f"raw write rate B   {raw_probe_line('b')}",
        f"raw edit PUTs      calport round: A {fmt(edits_c[0].get('seconds'), ' s')} "
        f"({fmt(edits_c[0].get('per_s'))}/s), B {fmt(edits_c[1].get('seconds'), ' s')} "
        f"({fmt(edits_c[1].get('per_s'))}/s) = {fmt(raw_c, ' s')} for {edits_total} updates"
        + (f"; vdirsyncer round: {fmt(raw_v, ' s')}" if raw_v else ""),
        f"raw read (C, D)    first sync-collection {fmt(rr['first_sync_collection_s'], ' s')} "
        f"(Radicale writes its token history), second {fmt(rr['second_sync_collection_s'], ' s')}, "
        f"PROPFIND {fmt(rr['propfind_s'], ' s')}, multiget of all {fmt(rr['multiget_all_s'], ' s')}",
        f"                   (sums over both servers and collections, one request at a time, "
        f"measured before vdirsyncer's runs)",
        f"no-op PROPFIND     Depth 1 on /alice/ with calport's properties {fmt(mk['calport_s'], ' s')}; "
        f"only getctag {fmt(mk['getctag_only_s'], ' s')}, only sync-token "
        f"{fmt(mk['sync_token_only_s'], ' s')}, neither {fmt(mk['neither_s'], ' s')}",
        f"                   (A and B after calport's runs: median of 3 each, the slower server)",
        "",
        row("", "calport", "vdirsyncer" if vd else ""),
        row("initial (2x identical)", cell(c_init),
            f"{fmt(v_init_total, ' s')} (discover {fmt(v_disc.get('wall_s'), ' s')} + sync "
            f"{fmt(v_init.get('wall_s'), ' s')}), {v_init.get('writes')} writes" if v_init else ""),
        row("  servers' raw share",
            f"{fmt(add(rr['first_sync_collection_s'], rr['multiget_all_s']), ' s')} (1st sync-coll. + multiget)",
            f"{fmt(add(rr['propfind_s'], rr['multiget_all_s']), ' s')} (PROPFIND + multiget)" if vd else ""),
        row("  peak RSS", fmt(c_init.get("peak_rss_mb"), " MB", 1),
            fmt(v_init.get("peak_rss_mb"), " MB", 1) if v_init else ""),
        row(f"incremental ({edits_total} chg)", cell(c_incr), cell(v_incr) if v_incr else ""),
        row("  vs raw PUT of edits", f"{fmt(incr_ratio, ' x')} ({fmt(c_incr.get('wall_s'), ' s')} / "
            f"{fmt(raw_c, ' s')})", f"{fmt(ratio(v_incr.get('wall_s'), raw_v), ' x')}" if v_incr else ""),
        row("  edited items equal", f"{ver_c.get('equal', 'n/a')}/{ver_c.get('checked', 'n/a')}",
            f"{ver_v.get('equal', 'n/a')}/{ver_v.get('checked', 'n/a')}" if ver_v else ""),
        row("  peak RSS", fmt(c_incr.get("peak_rss_mb"), " MB", 1),
            fmt(v_incr.get("peak_rss_mb"), " MB", 1) if v_incr else ""),
        row("no-op 1", cell(c_noop1), cell(v_noop1) if v_noop1 else ""),
        row("no-op 2", cell(c_noop2), cell(v_noop2) if v_noop2 else ""),
    ]
    if vd:
        block.append(row("calport / vdirsyncer", "initial {} x, incremental {} x, no-op {} x / {} x".format(
            fmt(ratio(c_init.get("wall_s"), v_init_total)), fmt(ratio(c_incr.get("wall_s"), v_incr.get("wall_s"))),
            fmt(ratio(c_noop1.get("wall_s"), v_noop1.get("wall_s"))),
            fmt(ratio(c_noop2.get("wall_s"), v_noop2.get("wall_s"))))))
    block.append(f"vdirsyncer         {vdir_status}")
    block.append("edited items equal: fetched from both sides after the run, compared line by line "
                 "(unfolded, any order),\n                   ignoring SCHEDULE-AGENT=CLIENT and "
                 "X-CALPORT-ORIGIN, which calport adds to the copies it writes")
    block += [
        "",
        "targets (issue)",
        f"  incremental sync of 150 changes < 3 s: this run has {edits_total} changes "
        f"({per_side} per side) in {fmt(c_incr.get('wall_s'), ' s')} -> "
        f"{verdict(c_incr.get('wall_s'), 3.0)}"
        + (f" (linear pro rata for 150 changes, fixed costs included: {fmt(incr_per150, ' s')} -> "
           f"{verdict(incr_per150, 3.0)})" if edits_total != 150 else ""),
        f"    the servers alone took {fmt(raw_c, ' s')} for the same {edits_total} PUTs "
        f"({fmt(raw_per150, ' s')} per 150; calport / raw = {fmt(incr_ratio, ' x')})"
        + ("; at that rate no client can meet the target on these servers"
           if raw_per150 is not None and raw_per150 >= 3.0 else ""),
        f"  no-op sync < 0.5 s: no-op 1 {fmt(c_noop1.get('wall_s'), ' s')} -> "
        f"{verdict(c_noop1.get('wall_s'), 0.5)}, no-op 2 {fmt(c_noop2.get('wall_s'), ' s')} -> "
        f"{verdict(c_noop2.get('wall_s'), 0.5)}",
    ]
    if mk["calport_s"] is not None:
        block.append(
            f"    the server alone takes {fmt(mk['calport_s'], ' s')} for the one PROPFIND a no-op "
            f"sends each side" + ("; at that, no client asking for these properties can meet the target"
                                  if mk["calport_s"] >= 0.5 else ""))
    problems = []
    if c_init.get("writes") not in (0, None):
        problems.append(f"calport initial run wrote {c_init['writes']} items (expected 0)")
    if c_incr.get("writes") is not None and c_incr["writes"] != edits_total:
        problems.append(f"calport incremental run wrote {c_incr['writes']} items (expected {edits_total})")
    for lab, r in (("no-op 1", c_noop1), ("no-op 2", c_noop2)):
        if r.get("writes") not in (0, None):
            problems.append(f"calport {lab} wrote {r['writes']} items (expected 0)")
    for lab, r in (("initial", c_init), ("incremental", c_incr), ("no-op 1", c_noop1), ("no-op 2", c_noop2)):
        if r and r.get("exit_code") != 0:
            problems.append(f"calport {lab} exited {r.get('exit_code')}")
    if ver_c and ver_c.get("equal") != ver_c.get("checked"):
        problems.append(f"calport: {ver_c.get('problems')} edited items differ: {ver_c.get('examples')[:2]}")
    if problems:
        block += ["", "PROBLEMS"] + [f"  {p}" for p in problems]
    block += [f"report             {args.out}",
              "================================================================"]
    print("\n".join(block), file=sys.stderr, flush=True)
    report["problems"] = problems
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2, ensure_ascii=False)
    return {"problems": len(problems)}


# --------------------------------------------------------------------------------------------

def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    def creds(sp):
        sp.add_argument("--user", default="alice")
        sp.add_argument("--password", default="alicepw")

    pr = sub.add_parser("probe")
    pr.add_argument("--url", required=True, help="the big collection")
    pr.add_argument("--kind", choices=["calendar", "addressbook"], required=True)
    pr.add_argument("--data", required=True, help="generated events.ics / contacts.vcf (templates)")
    pr.add_argument("--count", type=int, default=25)
    pr.add_argument("--tag", required=True)
    pr.add_argument("--concurrency", type=int, default=8)
    creds(pr)

    rr = sub.add_parser("rawread")
    rr.add_argument("--url", required=True, help="the collection")
    rr.add_argument("--kind", choices=["calendar", "addressbook"], required=True)
    creds(rr)

    mk = sub.add_parser("markers")
    mk.add_argument("--url", required=True, help="the home set (e.g. http://127.0.0.1:P/alice/)")
    mk.add_argument("--repeat", type=int, default=3)
    creds(mk)

    se = sub.add_parser("select")
    se.add_argument("--coll", action="append", required=True, help="KIND=URL (side A's collection)")
    se.add_argument("--share", type=float, required=True, help="percent per side")
    se.add_argument("--seed", type=int, default=1)
    creds(se)

    ed = sub.add_parser("edit")
    ed.add_argument("--selection", required=True)
    ed.add_argument("--side", choices=["a", "b"], required=True)
    ed.add_argument("--base", required=True, help="the server's origin")
    ed.add_argument("--marker", required=True)
    ed.add_argument("--concurrency", type=int, default=8)
    creds(ed)

    ve = sub.add_parser("verify")
    ve.add_argument("--selection", required=True)
    ve.add_argument("--a", required=True, help="origin of side A")
    ve.add_argument("--b", required=True, help="origin of side B")
    ve.add_argument("--marker-a", required=True)
    ve.add_argument("--marker-b", required=True)
    creds(ve)

    st = sub.add_parser("step")
    st.add_argument("--dir", required=True)
    st.add_argument("--label", required=True)
    st.add_argument("--tool", choices=["calport", "vdirsyncer"], required=True)
    st.add_argument("--expect-writes", type=int)

    su = sub.add_parser("summary")
    su.add_argument("--dir", required=True)
    su.add_argument("--out", required=True)
    su.add_argument("--events", type=int, required=True)
    su.add_argument("--contacts", type=int, required=True)
    su.add_argument("--edit-share", type=float, required=True)
    su.add_argument("--concurrency", type=int, required=True)
    su.add_argument("--timestamp", required=True)
    su.add_argument("--calport", default="")

    args = p.parse_args()
    handlers = {"probe": cmd_probe, "rawread": cmd_rawread, "markers": cmd_markers, "select": cmd_select, "edit": cmd_edit, "verify": cmd_verify,
                "step": cmd_step, "summary": cmd_summary}
    result = handlers[args.cmd](args)
    if result is not None:
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
