#!/usr/bin/env python3
"""Helpers for bench/migrate.sh and scripts/demo.sh (Python 3.9+, standard library only).

Subcommands (each prints one JSON object on stdout unless noted; diagnostics go to stderr):

  gen        deterministic test data: events.ics (one VCALENDAR with every event), todos.ics,
             contacts.vcf (concatenated vCards 3.0 and 4.0) and manifest.json
  validate   parse what gen wrote with icalendar and vobject (run with the venv's python)
  free-port  print a TCP port on 127.0.0.1 that was free a moment ago
  wait       wait (bounded in probes and seconds) until a DAV collection answers PROPFIND 207
  seed       Radicale: create a collection (MKCALENDAR / extended MKCOL), fill it with ONE
             whole-collection PUT, restore its properties (PROPPATCH), check the member count
  seed-items create a collection and PUT its items one by one (servers without bulk PUT)
  raw-put    read every item of a source collection (PROPFIND + multiget, untimed), then PUT
             each into a destination collection with If-None-Match: * from N threads (timed)
  mkcol      create an empty calendar (MKCALENDAR) or address book (extended MKCOL)
  delete     DELETE collections (by URL, or those a calport --json report says it created)
  inventory  list collections under home paths with their item count and distinct UIDs
  figures    combine the step results into the figures block and the JSON report

Only loopback URLs are accepted.
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import datetime as dt
import hashlib
import http.client
import json
import os
import random
import re
import socket
import struct
import sys
import threading
import time
import urllib.parse
import uuid
import xml.etree.ElementTree as ET
import zlib

DAV = "DAV:"
CALDAV = "urn:ietf:params:xml:ns:caldav"
CARDDAV = "urn:ietf:params:xml:ns:carddav"
APPLE = "http://apple.com/ns/ical/"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def log(msg: str) -> None:
    print(f"[davbench] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Content lines
# --------------------------------------------------------------------------------------------

def fold(line: str) -> str:
    """Folds one content line at 75 octets (RFC 5545 §3.1) without splitting a UTF-8 char."""
    data = line.encode("utf-8")
    if len(data) <= 75:
        return line + "\r\n"
    out = []
    limit = 75
    start = 0
    while start < len(data):
        end = min(start + limit, len(data))
        # Do not cut inside a UTF-8 sequence (continuation bytes are 10xxxxxx).
        while end < len(data) and (data[end] & 0xC0) == 0x80:
            end -= 1
        out.append(data[start:end].decode("utf-8"))
        start = end
        limit = 74  # continuation lines start with one space
    return "\r\n ".join(out) + "\r\n"


def text(value: str) -> str:
    """Escapes a TEXT value (RFC 5545 §3.3.11, RFC 6350 §3.4)."""
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
    )


def lines(*items: str) -> str:
    return "".join(fold(i) for i in items if i)


# --------------------------------------------------------------------------------------------
# Generator
# --------------------------------------------------------------------------------------------

VTIMEZONES = {
    "Europe/Berlin": [
        "BEGIN:VTIMEZONE", "TZID:Europe/Berlin",
        "BEGIN:DAYLIGHT", "TZOFFSETFROM:+0100", "TZOFFSETTO:+0200", "TZNAME:CEST",
        "DTSTART:19700329T020000", "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU", "END:DAYLIGHT",
        "BEGIN:STANDARD", "TZOFFSETFROM:+0200", "TZOFFSETTO:+0100", "TZNAME:CET",
        "DTSTART:19701025T030000", "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU", "END:STANDARD",
        "END:VTIMEZONE",
    ],
    "America/New_York": [
        "BEGIN:VTIMEZONE", "TZID:America/New_York",
        "BEGIN:DAYLIGHT", "TZOFFSETFROM:-0500", "TZOFFSETTO:-0400", "TZNAME:EDT",
        "DTSTART:20070311T020000", "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU", "END:DAYLIGHT",
        "BEGIN:STANDARD", "TZOFFSETFROM:-0400", "TZOFFSETTO:-0500", "TZNAME:EST",
        "DTSTART:20071104T020000", "RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU", "END:STANDARD",
        "END:VTIMEZONE",
    ],
    "Australia/Sydney": [
        "BEGIN:VTIMEZONE", "TZID:Australia/Sydney",
        "BEGIN:STANDARD", "TZOFFSETFROM:+1100", "TZOFFSETTO:+1000", "TZNAME:AEST",
        "DTSTART:20080406T030000", "RRULE:FREQ=YEARLY;BYMONTH=4;BYDAY=1SU", "END:STANDARD",
        "BEGIN:DAYLIGHT", "TZOFFSETFROM:+1000", "TZOFFSETTO:+1100", "TZNAME:AEDT",
        "DTSTART:20081005T020000", "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=1SU", "END:DAYLIGHT",
        "END:VTIMEZONE",
    ],
    "Asia/Tokyo": [
        "BEGIN:VTIMEZONE", "TZID:Asia/Tokyo",
        "BEGIN:STANDARD", "TZOFFSETFROM:+0900", "TZOFFSETTO:+0900", "TZNAME:JST",
        "DTSTART:19700101T000000", "END:STANDARD",
        "END:VTIMEZONE",
    ],
    "Asia/Kolkata": [
        "BEGIN:VTIMEZONE", "TZID:Asia/Kolkata",
        "BEGIN:STANDARD", "TZOFFSETFROM:+0530", "TZOFFSETTO:+0530", "TZNAME:IST",
        "DTSTART:19700101T000000", "END:STANDARD",
        "END:VTIMEZONE",
    ],
}
TZIDS = list(VTIMEZONES)

PEOPLE = [
    ("Zoë Müller", "zoe.mueller@example.com"),
    ("José Álvarez", "jose.alvarez@example.org"),
    ("Łukasz Wróbel", "lukasz@example.net"),
    ("Søren Kierkegaard", "soren@example.dk"),
    ("Анна Иванова", "anna.ivanova@example.ru"),
    ("山田 太郎", "taro.yamada@example.jp"),
    ("Αλέξανδρος Παπαδόπουλος", "alex@example.gr"),
    ("François O'Brien", "francois@example.fr"),
    ("محمد علي", "mohammed@example.eg"),
    ("Ingrid Bergström", "ingrid@example.se"),
    ("Chloé Dubois-Lefèvre", "chloe@example.be"),
    ("Noah Smith", "noah.smith@example.com"),
]
FIRST = ["Anna", "Ben", "Chloé", "Dmitri", "Eva", "Fatima", "Grégoire", "Hiro", "Ida", "Jürgen",
         "Kasia", "Liam", "Maëlle", "Nikolai", "Olga", "Pål", "Quentin", "Rosa", "Sven", "Tomás",
         "Ümit", "Vera", "Wiebke", "Xavier", "Yuki", "Zofia"]
LAST = ["Novák", "García", "Øberg", "Schröder", "Kowalczyk", "Nguyễn", "O'Neill", "Łopez",
        "Müller-Lüdenscheidt", "Ivanov", "Tanaka", "Rossi", "Dupont", "Jensen", "Fernández",
        "Björk", "Smith", "Zhang", "Haddad", "Papadakis"]
SUMMARIES = ["Team sync", "1:1 with {p}", "Quarterly review; budget, hiring",
             "Déjeuner d'équipe", "Sprint planning", "Zahnarzttermin", "Standup",
             "Board meeting — Q{q}", "Customer call: {p}", "Yoga 🧘", "Встреча с клиентом",
             "会議: ロードマップ", "Code review, part {q}", "Flight to Zürich ✈",
             "Lunch @ \"Café Größenwahn\""]
LOCATIONS = ["Room 4.02", "Café Größenwahn, Berlin", "Zoom: https://example.com/j/123456789",
             "Москва, ул. Тверская 7", "東京都千代田区", "Conference room \"Ærø\"; floor 3", ""]
PARAGRAPHS = [
    "Agenda:\n1. Status of the migration (calendars, contacts, tasks)\n2. Risks; open questions\n"
    "3. Next steps, owners, dates",
    "Bitte bringt eure Unterlagen mit: Präsentation, Zahlen für Q3, Übersicht der offenen "
    "Tickets. Grüße aus Köln!",
    "Réunion mensuelle : point sur le budget, les recrutements et l'organisation du "
    "séminaire d'été à Aix-en-Provence. Café et croissants prévus.",
    "Повестка дня: обсуждение бюджета, планы на следующий квартал, разное. "
    "Просьба не опаздывать.",
    "議題: 来期の計画、予算の確認、その他。資料は事前に共有します。よろしくお願いします。",
    "Συνάντηση για τον προγραμματισμό του έργου· παρακαλώ επιβεβαιώστε τη συμμετοχή σας.",
    "جدول الأعمال: مراجعة الميزانية، خطة الربع القادم، أسئلة مفتوحة.",
    "Notes: bring the 🔑 for room 4.02; the projector needs an HDMI ↔ USB-C adapter. "
    "Path: C:\\Users\\shared\\slides; backslashes, commas and semicolons must survive.",
    "Zażółć gęślą jaźń — a Polish pangram; Příliš žluťoučký kůň úpěl ďábelské ódy.",
    "Long text line without any breaks to make sure folding is exercised properly across "
    "multi-byte characters: ÄÖÜäöüß ÆØÅæøå ĀĒĪŌŪ ąęćłńóśźż ЁЖЩЮЯ αβγδε 你好世界 🎉🎈🎂 end.",
]
CATEGORIES = ["Work", "Private", "Travel", "Meeting", "Arbeit", "Réunion", "Семья"]
DTSTAMP = "20250101T000000Z"
BASE_DAY = dt.date(2025, 1, 6)  # a Monday


def make_uid(rng: random.Random, style: int) -> str:
    u = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    if style == 0:
        return u
    if style == 1:
        return f"{u}@bench.calport.test"
    if style == 2:  # Outlook style: long hex, > 80 characters
        return "040000008200E00074C5B7101A82E008" + "".join(
            f"{rng.getrandbits(8):02X}" for _ in range(40))
    return u.upper()


def ics_dt(value: dt.datetime) -> str:
    return value.strftime("%Y%m%dT%H%M%S")


def ics_date(value: dt.date) -> str:
    return value.strftime("%Y%m%d")


def description(rng: random.Random) -> str:
    count = rng.randint(2, 6)
    parts = [rng.choice(PARAGRAPHS) for _ in range(count)]
    text_value = "\n\n".join(parts)
    # Some really long ones (several KB).
    if rng.random() < 0.25:
        text_value = "\n\n".join([text_value] * rng.randint(2, 4))
    return text_value


def people_lines(rng: random.Random) -> list:
    org_name, org_mail = rng.choice(PEOPLE)
    out = [f'ORGANIZER;CN="{org_name}":mailto:{org_mail}']
    for name, mail in rng.sample(PEOPLE, rng.randint(1, 5)):
        if mail == org_mail:
            continue
        partstat = rng.choice(["NEEDS-ACTION", "ACCEPTED", "DECLINED", "TENTATIVE"])
        role = rng.choice(["REQ-PARTICIPANT", "OPT-PARTICIPANT"])
        out.append(
            f'ATTENDEE;CN="{name}";ROLE={role};PARTSTAT={partstat};RSVP=TRUE:mailto:{mail}'
        )
    return out


def alarm_lines(rng: random.Random) -> list:
    out = []
    for minutes in rng.sample([5, 10, 15, 30, 60, 1440], rng.randint(1, 2)):
        if rng.random() < 0.8:
            out += ["BEGIN:VALARM", "ACTION:DISPLAY", f"TRIGGER:-PT{minutes}M",
                    "DESCRIPTION:Erinnerung / Reminder", "END:VALARM"]
        else:
            out += ["BEGIN:VALARM", "ACTION:AUDIO", f"TRIGGER:-PT{minutes}M", "END:VALARM"]
    return out


def summary_text(rng: random.Random) -> str:
    return rng.choice(SUMMARIES).format(p=rng.choice(PEOPLE)[0], q=rng.randint(1, 4))


def common_props(rng: random.Random, seq: int) -> list:
    out = [f"SUMMARY:{text(summary_text(rng))}"]
    loc = rng.choice(LOCATIONS)
    if loc:
        out.append(f"LOCATION:{text(loc)}")
    if rng.random() < 0.2:
        out.append(f"DESCRIPTION:{text(description(rng))}")
    elif rng.random() < 0.5:
        out.append(f"DESCRIPTION:{text(rng.choice(PARAGRAPHS))}")
    if rng.random() < 0.3:
        cats = ",".join(text(c) for c in rng.sample(CATEGORIES, rng.randint(1, 3)))
        out.append(f"CATEGORIES:{cats}")
    if rng.random() < 0.3:
        out += people_lines(rng)
    out.append(f"STATUS:{rng.choice(['CONFIRMED', 'TENTATIVE', 'CONFIRMED'])}")
    out.append(f"TRANSP:{rng.choice(['OPAQUE', 'TRANSPARENT'])}")
    if rng.random() < 0.1:
        out.append("CLASS:PRIVATE")
    out.append(f"SEQUENCE:{seq}")
    return out


def gen_event(rng: random.Random, index: int) -> tuple:
    """One event (a list of VEVENT blocks sharing a UID) and the TZIDs it uses."""
    uid = make_uid(rng, rng.choices([0, 1, 2, 3], [50, 35, 5, 10])[0])
    kind = rng.choices(["tz", "utc", "allday", "recurring"], [35, 15, 15, 35])[0]
    day = BASE_DAY + dt.timedelta(days=rng.randint(-400, 400))
    created = dt.datetime(2024, 1, 1) + dt.timedelta(minutes=rng.randint(0, 500000))
    head = [
        "BEGIN:VEVENT",
        f"UID:{uid}",
        f"DTSTAMP:{DTSTAMP}",
        f"CREATED:{ics_dt(created)}Z",
        f"LAST-MODIFIED:{ics_dt(created + dt.timedelta(days=rng.randint(0, 30)))}Z",
    ]
    alarms = alarm_lines(rng) if rng.random() < 0.3 else []
    tzids = set()
    start = dt.datetime.combine(day, dt.time(rng.randint(7, 19), rng.choice([0, 15, 30, 45])))
    length = dt.timedelta(minutes=rng.choice([15, 30, 45, 60, 90, 120, 240]))
    if kind == "allday":
        days = rng.choice([1, 1, 1, 2, 3, 7])
        when = [f"DTSTART;VALUE=DATE:{ics_date(day)}",
                f"DTEND;VALUE=DATE:{ics_date(day + dt.timedelta(days=days))}"]
        if rng.random() < 0.3:
            when.append("RRULE:FREQ=YEARLY")
        blocks = [head + when + common_props(rng, 0) + alarms + ["END:VEVENT"]]
        return uid, blocks, tzids, kind
    if kind == "utc":
        when = [f"DTSTART:{ics_dt(start)}Z", f"DTEND:{ics_dt(start + length)}Z"]
        blocks = [head + when + common_props(rng, 0) + alarms + ["END:VEVENT"]]
        return uid, blocks, tzids, kind
    tzid = rng.choice(TZIDS)
    tzids.add(tzid)
    when = [f"DTSTART;TZID={tzid}:{ics_dt(start)}", f"DTEND;TZID={tzid}:{ics_dt(start + length)}"]
    if kind == "tz":
        if rng.random() < 0.3:  # a duration instead of an end
            when = [when[0], f"DURATION:PT{int(length.total_seconds() // 60)}M"]
        blocks = [head + when + common_props(rng, 0) + alarms + ["END:VEVENT"]]
        return uid, blocks, tzids, kind
    # Recurring: daily or weekly, COUNT or UNTIL, some EXDATEs, some overridden instances.
    freq, step = rng.choice([("DAILY", 1), ("WEEKLY", 7), ("WEEKLY", 7), ("WEEKLY", 14)])
    interval = step // 7 if freq == "WEEKLY" else 1
    step_days = step
    count = rng.randint(5, 52)
    if rng.random() < 0.5:
        rule = f"RRULE:FREQ={freq};COUNT={count}"
    else:
        until = start + dt.timedelta(days=step_days * (count - 1))
        rule = f"RRULE:FREQ={freq};UNTIL={ics_dt(until)}Z"
    if interval > 1:
        rule += f";INTERVAL={interval}"
    master_props = common_props(rng, 0)
    instances = list(range(1, count - 1))
    rng.shuffle(instances)
    exdates = instances[: rng.choice([0, 0, 1, 2])]
    overrides = instances[len(exdates): len(exdates) + rng.choice([0, 1, 1, 2, 3])]
    master = head + when + [rule]
    for k in sorted(exdates):
        master.append(f"EXDATE;TZID={tzid}:{ics_dt(start + dt.timedelta(days=step_days * k))}")
    blocks = [master + master_props + alarms + ["END:VEVENT"]]
    for k in sorted(overrides):
        orig = start + dt.timedelta(days=step_days * k)
        moved = orig + dt.timedelta(hours=rng.choice([-2, -1, 1, 2, 24]))
        override = [
            "BEGIN:VEVENT",
            f"UID:{uid}",
            f"DTSTAMP:{DTSTAMP}",
            f"RECURRENCE-ID;TZID={tzid}:{ics_dt(orig)}",
            f"DTSTART;TZID={tzid}:{ics_dt(moved)}",
            f"DTEND;TZID={tzid}:{ics_dt(moved + length)}",
        ] + common_props(rng, 1) + ["END:VEVENT"]
        blocks.append(override)
    return uid, blocks, tzids, kind


def gen_todo(rng: random.Random, index: int) -> tuple:
    uid = make_uid(rng, rng.choice([0, 1]))
    due = BASE_DAY + dt.timedelta(days=rng.randint(-10, 60))
    done = rng.random() < 0.3
    block = [
        "BEGIN:VTODO",
        f"UID:{uid}",
        f"DTSTAMP:{DTSTAMP}",
        f"SUMMARY:{text(rng.choice(['Renew passport', 'Steuererklärung abgeben', 'Réserver le train', 'Купить подарок', 'Backup the NAS', 'Write the Q3 report; send it to Zoë']))}",
        f"DUE;VALUE=DATE:{ics_date(due)}",
        f"PRIORITY:{rng.choice([0, 1, 5, 9])}",
    ]
    if done:
        block += ["STATUS:COMPLETED", "PERCENT-COMPLETE:100", f"COMPLETED:{ics_date(due)}T120000Z"]
    else:
        block += ["STATUS:NEEDS-ACTION", f"PERCENT-COMPLETE:{rng.choice([0, 0, 25, 50])}"]
    if rng.random() < 0.5:
        block.append(f"DESCRIPTION:{text(rng.choice(PARAGRAPHS))}")
    if rng.random() < 0.3:
        block += alarm_lines(rng)
    block.append("END:VTODO")
    return uid, [block], set(), "todo"


def png(rng: random.Random, width: int, height: int) -> bytes:
    """A valid RGB PNG of noise (barely compressible: a few KB)."""
    raw = b"".join(b"\x00" + rng.randbytes(width * 3) for _ in range(height))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(
            ">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b""))


def gen_card(rng: random.Random, index: int) -> tuple:
    v4 = rng.random() < 0.4
    first, last = rng.choice(FIRST), rng.choice(LAST)
    org = rng.choice(["ACME GmbH", "Société Générale de Test", "Ōkami K.K.", "", "Example Inc."])
    mail = f"{first.lower()}.{index}@example.com".encode("ascii", "ignore").decode()
    mail = re.sub(r"[^a-z0-9.@]", "x", mail)
    phone = f"+49 30 {rng.randint(1000000, 9999999)}"
    note = rng.choice(PARAGRAPHS) if rng.random() < 0.3 else ""
    photo = png(rng, rng.randint(24, 40), rng.randint(24, 40)) if rng.random() < 0.2 else b""
    bday = BASE_DAY.replace(year=rng.randint(1950, 2005)) - dt.timedelta(days=rng.randint(0, 364))
    rev = f"{ics_dt(dt.datetime(2024, 6, 1) + dt.timedelta(minutes=rng.randint(0, 200000)))}Z"
    if v4:
        uid = "urn:uuid:" + str(uuid.UUID(int=rng.getrandbits(128), version=4))
        card = [
            "BEGIN:VCARD", "VERSION:4.0", f"UID:{uid}", "KIND:individual",
            f"FN:{text(first + ' ' + last)}", f"N:{text(last)};{text(first)};;;",
            f"EMAIL;TYPE=work;PREF=1:{mail}", f"TEL;VALUE=uri;TYPE=cell:tel:{phone.replace(' ', '-')}",
            f"BDAY:{ics_date(bday)}", f"REV:{rev}",
            f"GENDER:{rng.choice(['F', 'M', 'O', 'N', 'U'])}",
            f"LANG;PREF=1:{rng.choice(['de', 'fr', 'en', 'ja', 'ru'])}",
        ]
        if org:
            card.append(f"ORG:{text(org)}")
        if rng.random() < 0.5:
            card.append(f"ADR;TYPE=home:;;{text('Hauptstraße 5')};{text('München')};;80331;Germany")
        if note:
            card.append(f"NOTE:{text(note)}")
        if photo:
            card.append("PHOTO:data:image/png;base64," + base64.b64encode(photo).decode())
    else:
        uid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        card = [
            "BEGIN:VCARD", "VERSION:3.0", f"UID:{uid}",
            f"FN:{text(first + ' ' + last)}", f"N:{text(last)};{text(first)};;;",
            f"EMAIL;TYPE=INTERNET,WORK:{mail}", f"TEL;TYPE=CELL:{phone}",
            f"BDAY:{bday.isoformat()}", f"REV:{rev}",
        ]
        if org:
            card.append(f"ORG:{text(org)}")
            card.append(f"TITLE:{text(rng.choice(['CEO', 'Ingénieure', 'Entwickler', 'Designer']))}")
        if rng.random() < 0.5:
            card.append(f"ADR;TYPE=HOME:;;{text('Rue de l’Église 12')};Paris;;75004;France")
        if rng.random() < 0.3:
            card += [f"item1.URL:https://example.com/~{index}", "item1.X-ABLabel:Blog"]
        if rng.random() < 0.3:
            card.append(f"CATEGORIES:{','.join(text(c) for c in rng.sample(CATEGORIES, 2))}")
        if note:
            card.append(f"NOTE:{text(note)}")
        if photo:
            card.append("PHOTO;ENCODING=b;TYPE=PNG:" + base64.b64encode(photo).decode())
    card.append("END:VCARD")
    return uid, lines(*card), "vcard4" if v4 else "vcard3", len(photo)


def vcalendar(blocks: list, tzids: set, name: str = "") -> str:
    head = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//calport//bench generator//EN",
            "CALSCALE:GREGORIAN"]
    if name:
        head.append(f"X-WR-CALNAME:{text(name)}")
    body = lines(*head)
    for tzid in sorted(tzids):
        body += lines(*VTIMEZONES[tzid])
    for block in blocks:
        body += lines(*block)
    return body + lines("END:VCALENDAR")


def cmd_gen(args: argparse.Namespace) -> dict:
    os.makedirs(args.out, exist_ok=True)
    rng = random.Random(args.seed)
    kinds: dict = {}
    all_blocks, all_tzids, uids = [], set(), []
    per_item_bytes = 0
    for i in range(args.events):
        uid, blocks, tzids, kind = gen_event(rng, i)
        uids.append(uid)
        kinds[kind] = kinds.get(kind, 0) + 1
        kinds["overrides"] = kinds.get("overrides", 0) + len(blocks) - 1
        all_blocks += blocks
        all_tzids |= tzids
        per_item_bytes += len(vcalendar(blocks, tzids).encode())
    todo_rng = random.Random(args.seed + 1)
    todo_blocks = []
    for i in range(args.todos):
        uid, blocks, _, _ = gen_todo(todo_rng, i)
        uids.append(uid)
        todo_blocks += blocks
    card_rng = random.Random(args.seed + 2)
    cards = []
    photos = 0
    for i in range(args.contacts):
        uid, card, kind, photo_len = gen_card(card_rng, i)
        uids.append(uid)
        kinds[kind] = kinds.get(kind, 0) + 1
        photos += 1 if photo_len else 0
        cards.append(card)
    if len(set(uids)) != len(uids):
        raise SystemExit("generator produced a duplicate UID")
    if any(MOJIBAKE_RE.search(c) for c in cards) or any(
            MOJIBAKE_RE.search("".join(map("".join, b))) for b in [all_blocks, todo_blocks]):
        raise SystemExit("generated text looks like mojibake: inventory could not tell them apart")
    files = {}
    if args.events:
        files["events"] = vcalendar(all_blocks, all_tzids, args.calendar_name)
    if args.todos:
        files["todos"] = vcalendar(todo_blocks, set(), args.tasks_name)
    if args.contacts:
        files["contacts"] = "".join(cards)
    paths = {}
    for key, content in files.items():
        ext = "vcf" if key == "contacts" else "ics"
        path = os.path.join(args.out, f"{key}.{ext}")
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(content)
        paths[key] = path
    manifest = {
        "seed": args.seed,
        "events": args.events,
        "todos": args.todos,
        "contacts": args.contacts,
        "kinds": kinds,
        "photos": photos,
        "vtimezones": sorted(all_tzids),
        "bytes": {k: os.path.getsize(p) for k, p in paths.items()},
        "event_bytes_one_per_uid": per_item_bytes,
        "files": paths,
        "sha256": {k: hashlib.sha256(open(p, "rb").read()).hexdigest() for k, p in paths.items()},
    }
    with open(os.path.join(args.out, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2)
    return manifest


def cmd_validate(args: argparse.Namespace) -> dict:
    """Parses every generated file with icalendar and vobject (the servers' own parsers)."""
    try:
        import icalendar  # noqa: PLC0415
        import vobject  # noqa: PLC0415
    except ImportError as e:
        raise SystemExit(f"validate needs the venv's python (icalendar, vobject): {e}")
    with open(os.path.join(args.dir, "manifest.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    result: dict = {"ok": True}
    for key in ("events", "todos"):
        path = manifest["files"].get(key)
        if not path:
            continue
        raw = open(path, "rb").read()
        cal = icalendar.Calendar.from_ical(raw)
        comps = [c for c in cal.walk() if c.name in ("VEVENT", "VTODO")]
        uids = {str(c["UID"]) for c in comps}
        for c in comps:  # decode the values that must parse
            if "DTSTART" in c:
                c.decoded("DTSTART")
            if "RRULE" in c:
                c.get("RRULE").to_ical()
        vcal = vobject.readOne(raw.decode("utf-8"))
        vcomps = list(vcal.vevent_list if key == "events" else vcal.vtodo_list)
        for c in vcomps:
            if hasattr(c, "rrule"):
                c.getrruleset()  # expands with the VTIMEZONEs: catches bad TZIDs / UNTIL
        want = manifest[key]
        result[key] = {"components": len(comps), "uids": len(uids), "vobject_components": len(vcomps)}
        if len(uids) != want or len(vcomps) != len(comps):
            result["ok"] = False
    path = manifest["files"].get("contacts")
    if path:
        text_value = open(path, encoding="utf-8", newline="").read()
        cards = list(vobject.readComponents(text_value))
        uids = set()
        photos = 0
        versions: dict = {}
        for card in cards:
            uids.add(card.uid.value)
            versions[card.version.value] = versions.get(card.version.value, 0) + 1
            if hasattr(card, "photo") and card.version.value == "3.0":
                if not card.photo.value.startswith(b"\x89PNG"):
                    result["ok"] = False
                photos += 1
        # vobject 0.9.9 cuts a vCard 4 data: URI at its first comma (it treats PHOTO as a
        # TEXT list), so check those from the unfolded text instead.
        unfolded = re.sub(r"\r\n[ \t]", "", text_value)
        for b64 in re.findall(r"^PHOTO:data:image/png;base64,([A-Za-z0-9+/=]+)\r$", unfolded, re.M):
            if not base64.b64decode(b64, validate=True).startswith(b"\x89PNG"):
                result["ok"] = False
            photos += 1
        result["contacts"] = {"cards": len(cards), "uids": len(uids), "versions": versions,
                              "photos": photos}
        if len(uids) != manifest["contacts"] or photos != manifest["photos"]:
            result["ok"] = False
    if not result["ok"]:
        print(json.dumps(result), flush=True)
        raise SystemExit("validation failed")
    return result


# --------------------------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------------------------

class Http:
    """One keep-alive connection per thread to one loopback origin."""

    def __init__(self, base: str, user: str, password: str, timeout: float = 600.0):
        parsed = urllib.parse.urlsplit(base)
        if parsed.scheme != "http" or parsed.hostname not in LOOPBACK:
            raise SystemExit(f"refusing a non-loopback or non-http URL: {base}")
        self.host = parsed.hostname
        self.port = parsed.port or 80
        self.timeout = timeout
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        self.auth = f"Basic {token}"
        self.local = threading.local()

    def conn(self) -> http.client.HTTPConnection:
        c = getattr(self.local, "conn", None)
        if c is None:
            c = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self.local.conn = c
        return c

    def request(self, method: str, path: str, body: bytes = b"", headers: dict = None):
        h = {"Authorization": self.auth}
        h.update(headers or {})
        for attempt in range(2):
            c = self.conn()
            try:
                c.request(method, path, body=body or None, headers=h)
                resp = c.getresponse()
                data = resp.read()
                if resp.getheader("Connection", "").lower() == "close":
                    c.close()
                    self.local.conn = None
                return resp.status, data, resp
            except (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine):
                c.close()
                self.local.conn = None
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")


def split_url(url: str) -> tuple:
    parsed = urllib.parse.urlsplit(url)
    base = f"{parsed.scheme}://{parsed.netloc}"
    return base, parsed.path or "/"


def xml_headers(depth: str = None) -> dict:
    h = {"Content-Type": "application/xml; charset=utf-8"}
    if depth is not None:
        h["Depth"] = depth
    return h


def q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def parse_multistatus(data: bytes) -> list:
    root = ET.fromstring(data)
    out = []
    for resp in root.findall(q(DAV, "response")):
        href = (resp.findtext(q(DAV, "href")) or "").strip()
        props = {}
        status_ok = True
        for ps in resp.findall(q(DAV, "propstat")):
            st = ps.findtext(q(DAV, "status")) or ""
            if " 200 " not in st:
                continue
            prop = ps.find(q(DAV, "prop"))
            for child in list(prop) if prop is not None else []:
                props[child.tag] = child
        st = resp.findtext(q(DAV, "status"))
        if st and " 200 " not in st:
            status_ok = False
        out.append((href, props, status_ok))
    return out


def list_members(http_: Http, coll: str) -> list:
    body = (b'<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop>'
            b"<D:resourcetype/><D:getetag/></D:prop></D:propfind>")
    status, data, _ = http_.request("PROPFIND", coll, body, xml_headers("1"))
    if status != 207:
        raise SystemExit(f"PROPFIND {coll}: {status} {data[:300]!r}")
    members = []
    for href, props, _ in parse_multistatus(data):
        rt = props.get(q(DAV, "resourcetype"))
        if rt is not None and rt.find(q(DAV, "collection")) is not None:
            continue
        # Resolve against the request path (Xandikos answers bare 'urn:uuid:..' names).
        if not href.startswith("/") and not href.startswith("http"):
            href = coll + href
        members.append(urllib.parse.urlsplit(href).path)
    return members


def multiget(http_: Http, coll: str, hrefs: list, card: bool) -> dict:
    """href -> body bytes (CRLF line ends), by multiget batches of 100."""
    out = {}
    ns, report, data_el = ((CARDDAV, "addressbook-multiget", "address-data") if card else
                           (CALDAV, "calendar-multiget", "calendar-data"))
    for i in range(0, len(hrefs), 100):
        batch = hrefs[i: i + 100]
        body = (f'<?xml version="1.0" encoding="utf-8"?><X:{report} xmlns:D="DAV:" '
                f'xmlns:X="{ns}"><D:prop><D:getetag/><X:{data_el}/></D:prop>'
                + "".join(f"<D:href>{xml_escape(h)}</D:href>" for h in batch)
                + f"</X:{report}>").encode()
        status, data, _ = http_.request("REPORT", coll, body, xml_headers("1"))
        if status != 207:
            raise SystemExit(f"REPORT {coll}: {status} {data[:300]!r}")
        for href, props, _ok in parse_multistatus(data):
            el = props.get(q(ns, data_el))
            if el is None or el.text is None:
                continue
            value = el.text.replace("\r\n", "\n").replace("\n", "\r\n")
            if not href.startswith("/"):
                href = coll + href
            out[urllib.parse.urlsplit(href).path] = value.encode("utf-8")
    return out


def xml_escape(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# UTF-8 read as Latin-1 and encoded again (SabreDAV 1.8's utf8_encode): a lead byte C2-F4
# shown as a Latin-1 letter followed by a continuation byte shown as U+0080-U+00BF ("Ã¼" for
# "ü", "áº¿" for "ế"). The generated data never contains such a pair (checked by `gen`).
MOJIBAKE_RE = re.compile("[\u00c2-\u00f4][\u0080-\u00bf]")

UID_RE = re.compile(rb"^UID(?:;[^:\r\n]*)?:(.*?)\r?$", re.M)


def item_uid(body: bytes) -> str:
    """The UID of an item: the first UID line after unfolding (VTIMEZONEs have none)."""
    unfolded = re.sub(rb"\r?\n[ \t]", b"", body)
    m = UID_RE.search(unfolded)
    return m.group(1).decode("utf-8", "replace").strip() if m else ""


def resource_name(uid: str, card: bool) -> str:
    """The same name calport derives (calport-engine plan.rs resource_name)."""
    ext = "vcf" if card else "ics"
    if uid and len(uid) <= 80 and not uid.startswith(".") and re.fullmatch(r"[A-Za-z0-9._-]+", uid):
        return f"{uid}.{ext}"
    return hashlib.sha256(uid.encode()).hexdigest()[:32] + f".{ext}"


# --------------------------------------------------------------------------------------------
# Server commands
# --------------------------------------------------------------------------------------------

def cmd_free_port(_args: argparse.Namespace) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        print(s.getsockname()[1])


def cmd_wait(args: argparse.Namespace) -> dict:
    base, path = split_url(args.url)
    deadline = time.monotonic() + args.timeout
    body = (b'<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop>'
            b"<D:resourcetype/></D:prop></D:propfind>")
    last = ""
    for probe in range(1, args.max_probes + 1):
        if args.pid and not os.path.exists(f"/proc/{args.pid}"):
            raise SystemExit(f"process {args.pid} exited before answering ({last})")
        try:
            h = Http(base, args.user, args.password, timeout=2)
            status, _, _ = h.request("PROPFIND", path, body, xml_headers("0"))
            h.conn().close()
            if status == 207:
                return {"ready": True, "probes": probe}
            last = f"status {status}"
        except OSError as e:
            last = str(e)
        if time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    raise SystemExit(f"{args.url} did not answer 207 within {args.timeout}s ({last})")


def mk_collection(h: Http, path: str, card: bool, name: str, components: list, color: str) -> None:
    if card:
        body = (f'<?xml version="1.0" encoding="utf-8"?><D:mkcol xmlns:D="DAV:" '
                f'xmlns:CR="{CARDDAV}"><D:set><D:prop><D:resourcetype><D:collection/>'
                f"<CR:addressbook/></D:resourcetype><D:displayname>{xml_escape(name)}"
                f"</D:displayname></D:prop></D:set></D:mkcol>").encode()
        method = "MKCOL"
    else:
        body = (f'<?xml version="1.0" encoding="utf-8"?><C:mkcalendar xmlns:D="DAV:" '
                f'xmlns:C="{CALDAV}" xmlns:I="{APPLE}"><D:set><D:prop>{cal_props(name, components, color)}'
                f"</D:prop></D:set></C:mkcalendar>").encode()
        method = "MKCALENDAR"
    status, data, _ = h.request(method, path, body, xml_headers())
    if status != 201:
        raise SystemExit(f"{method} {path}: {status} {data[:300]!r}")


def cal_props(name: str, components: list, color: str) -> str:
    props = f"<D:displayname>{xml_escape(name)}</D:displayname>"
    if components:
        props += "<C:supported-calendar-component-set>" + "".join(
            f'<C:comp name="{c}"/>' for c in components) + "</C:supported-calendar-component-set>"
    if color:
        props += f"<I:calendar-color>{xml_escape(color)}</I:calendar-color>"
    return props


def cmd_seed(args: argparse.Namespace) -> dict:
    base, path = split_url(args.url)
    if not path.endswith("/"):
        path += "/"
    h = Http(base, args.user, args.password)
    card = args.kind == "addressbook"
    components = [c for c in args.components.split(",") if c]
    payload = open(args.file, "rb").read()
    t0 = time.monotonic()
    mk_collection(h, path, card, args.name, components, args.color)
    ctype = "text/vcard; charset=utf-8" if card else "text/calendar; charset=utf-8"
    status, data, _ = h.request("PUT", path, payload, {"Content-Type": ctype})
    if status not in (200, 201, 204):
        raise SystemExit(f"whole-collection PUT {path}: {status} {data[:300]!r}")
    # Radicale rebuilds the collection's properties from the upload: put ours back.
    if card:
        props = f"<D:displayname>{xml_escape(args.name)}</D:displayname>"
    else:
        props = cal_props(args.name, components, args.color)
    body = (f'<?xml version="1.0" encoding="utf-8"?><D:propertyupdate xmlns:D="DAV:" '
            f'xmlns:C="{CALDAV}" xmlns:CR="{CARDDAV}" xmlns:I="{APPLE}"><D:set><D:prop>{props}'
            f"</D:prop></D:set></D:propertyupdate>").encode()
    status, data, _ = h.request("PROPPATCH", path, body, xml_headers())
    if status != 207:
        raise SystemExit(f"PROPPATCH {path}: {status} {data[:300]!r}")
    seconds = time.monotonic() - t0
    members = list_members(h, path)
    if args.expect is not None and len(members) != args.expect:
        raise SystemExit(f"{path}: {len(members)} members after the bulk PUT, expected {args.expect}")
    return {"collection": path, "items": len(members), "bytes": len(payload),
            "seconds": round(seconds, 3), "method": "whole-collection PUT"}


def split_items(payload: bytes, card: bool) -> list:
    """Splits a generated file into one resource per UID (with the VTIMEZONEs it uses)."""
    text_value = payload.decode("utf-8")
    if card:
        return [c + "END:VCARD\r\n" for c in text_value.split("END:VCARD\r\n") if c.strip()]
    tz_by_id = {tzid: block for block, tzid in re.findall(
        r"(BEGIN:VTIMEZONE\r\nTZID:([^\r]*)\r\n.*?END:VTIMEZONE\r\n)", text_value, re.S)}
    comps = re.findall(r"(BEGIN:(VEVENT|VTODO)\r\n.*?END:\2\r\n)", text_value, re.S)
    grouped: dict = {}
    for block, _kind in comps:
        uid = item_uid(block.encode())
        grouped.setdefault(uid, []).append(block)
    items = []
    for uid, blocks in grouped.items():
        joined = "".join(blocks)
        tzs = "".join(tz_by_id[t] for t in sorted(tz_by_id) if f"TZID={t}:" in joined)
        items.append("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//calport//bench generator//EN\r\n"
                     + tzs + joined + "END:VCALENDAR\r\n")
    return items


def put_all(h: Http, coll: str, items: list, card: bool, concurrency: int) -> dict:
    ctype = "text/vcard; charset=utf-8" if card else "text/calendar; charset=utf-8"
    statuses: dict = {}
    errors = []
    lock = threading.Lock()

    def one(body: bytes) -> None:
        name = resource_name(item_uid(body), card)
        path = coll + urllib.parse.quote(name, safe="")
        try:
            status, data, _ = h.request("PUT", path, body,
                                        {"Content-Type": ctype, "If-None-Match": "*"})
        except OSError as e:
            status, data = 0, str(e).encode()
        with lock:
            statuses[status] = statuses.get(status, 0) + 1
            if status not in (200, 201, 204) and len(errors) < 5:
                errors.append(f"{status} {path}: {data[:200]!r}")

    with concurrent.futures.ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(one, items))
    return {"statuses": {str(k): v for k, v in sorted(statuses.items())}, "errors": errors}


def cmd_seed_items(args: argparse.Namespace) -> dict:
    base, path = split_url(args.url)
    if not path.endswith("/"):
        path += "/"
    h = Http(base, args.user, args.password)
    card = args.kind == "addressbook"
    components = [c for c in args.components.split(",") if c]
    t0 = time.monotonic()
    mk_collection(h, path, card, args.name, components, args.color)
    items = [i.encode() for i in split_items(open(args.file, "rb").read(), card)]
    result = put_all(h, path, items, card, args.concurrency)
    result.update({"collection": path, "items": len(items),
                   "seconds": round(time.monotonic() - t0, 3), "method": "PUT per item"})
    if sum(v for k, v in result["statuses"].items() if k in ("200", "201", "204")) != len(items):
        print(json.dumps(result), flush=True)
        raise SystemExit(f"seeding {path}: some PUTs failed")
    return result


def cmd_raw_put(args: argparse.Namespace) -> dict:
    """Reads the source collections (untimed), then PUTs every item to the destination (timed)."""
    pairs = [p.split("=>", 1) for p in args.pair]
    work = []
    for src_url, dst_url in pairs:
        sbase, spath = split_url(src_url)
        card = args_card(spath, args.card_path)
        src = Http(sbase, args.src_user, args.src_password)
        hrefs = list_members(src, spath)
        bodies = multiget(src, spath, hrefs, card)
        if len(bodies) != len(hrefs):
            raise SystemExit(f"{spath}: multiget returned {len(bodies)} of {len(hrefs)} items")
        dbase, dpath = split_url(dst_url)
        work.append((card, Http(dbase, args.dst_user, args.dst_password), dpath,
                     list(bodies.values())))
    total = sum(len(w[3]) for w in work)
    total_bytes = sum(len(b) for w in work for b in w[3])
    log(f"raw PUT: {total} items ({total_bytes / 1e6:.1f} MB) with {args.concurrency} threads")
    t0 = time.monotonic()
    results = []
    for card, h, dpath, bodies in work:
        t1 = time.monotonic()
        r = put_all(h, dpath, bodies, card, args.concurrency)
        r.update({"collection": dpath, "items": len(bodies),
                  "seconds": round(time.monotonic() - t1, 3)})
        log(f"raw PUT {dpath}: {len(bodies)} items in {r['seconds']:.1f}s {r['statuses']}")
        results.append(r)
    seconds = time.monotonic() - t0
    ok = sum(v for r in results for k, v in r["statuses"].items() if k in ("200", "201", "204"))
    log(f"raw PUT: {ok}/{total} ok in {seconds:.1f} s = {total / seconds:.2f} items/s")
    return {"items": total, "ok": ok, "bytes": total_bytes, "seconds": round(seconds, 3),
            "items_per_s": round(total / seconds, 2) if seconds else None,
            "concurrency": args.concurrency, "collections": results}


def args_card(path: str, card_paths: list) -> bool:
    return any(path.rstrip("/") == c.rstrip("/") for c in card_paths)


def cmd_mkcol(args: argparse.Namespace) -> dict:
    """Creates one empty collection (for the raw PUT measurement on a shared server)."""
    base, path = split_url(args.url)
    if not path.endswith("/"):
        path += "/"
    h = Http(base, args.user, args.password)
    components = [c for c in args.components.split(",") if c]
    mk_collection(h, path, args.kind == "addressbook", args.name, components, args.color)
    members = list_members(h, path)
    if members:
        raise SystemExit(f"{path}: the new collection already holds {len(members)} items")
    return {"created": path, "kind": args.kind}


def cmd_delete(args: argparse.Namespace) -> dict:
    """DELETEs collections: the given URLs and/or every collection a calport --json report
    says it created (mapping "created"). A missing collection (404) is fine."""
    urls = list(args.url)
    if args.report:
        report = load(args.report) or {}
        if not args.base:
            raise SystemExit("--report needs --base (the destination's origin)")
        for c in report.get("collections") or []:
            href = c.get("destination_href")
            if c.get("mapping") == "created" and href:
                urls.append(urllib.parse.urljoin(args.base + "/", href))
    deleted = []
    for url in urls:
        base, path = split_url(url)
        h = Http(base, args.user, args.password)
        status, data, _ = h.request("DELETE", path)
        if status not in (200, 204, 404):
            raise SystemExit(f"DELETE {path}: {status} {data[:300]!r}")
        # Some servers answer DELETE before the collection is really gone: check.
        pstatus, _, _ = h.request("PROPFIND", path, b"", xml_headers("0"))
        if pstatus != 404:
            raise SystemExit(f"DELETE {path} answered {status} but PROPFIND still answers {pstatus}")
        log(f"DELETE {path}: {status}")
        deleted.append({"path": path, "status": status})
    return {"deleted": deleted}


def cmd_inventory(args: argparse.Namespace) -> dict:
    """Every collection below the given home paths: members, distinct UIDs, duplicates."""
    base = args.base
    h = Http(base, args.user, args.password)
    out = []
    body = (b'<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:" xmlns:C="'
            + CALDAV.encode() + b'"><D:prop><D:resourcetype/><D:displayname/>'
            b"<C:supported-calendar-component-set/></D:prop></D:propfind>")
    for home in args.home:
        status, data, _ = h.request("PROPFIND", home, body, xml_headers("1"))
        if status != 207:
            raise SystemExit(f"PROPFIND {home}: {status}")
        for href, props, _ in parse_multistatus(data):
            path = urllib.parse.urlsplit(href).path
            rt = props.get(q(DAV, "resourcetype"))
            if rt is None:
                continue
            is_cal = rt.find(q(CALDAV, "calendar")) is not None
            is_card = rt.find(q(CARDDAV, "addressbook")) is not None
            if not (is_cal or is_card):
                continue
            members = list_members(h, path)
            bodies = multiget(h, path, members, is_card)
            uids = [item_uid(b) for b in bodies.values()]
            null_names = sorted(m.rsplit("/", 1)[-1] for m, b in bodies.items()
                                if b.strip() == b"(null)")
            mojibake_names = sorted(m.rsplit("/", 1)[-1] for m, b in bodies.items()
                                    if MOJIBAKE_RE.search(b.decode("utf-8", "replace")))
            nulls, mojibake = len(null_names), len(mojibake_names)
            name = props.get(q(DAV, "displayname"))
            comp_set = props.get(q(CALDAV, "supported-calendar-component-set"))
            comps = [c.get("name") for c in comp_set] if comp_set is not None else []
            out.append({
                "href": path,
                "displayname": name.text if name is not None else None,
                "kind": "addressbook" if is_card else "calendar",
                "components": comps,
                "members": len(members),
                "fetched": len(bodies),
                "uids": len(set(uids)),
                "duplicate_uids": len(uids) - len(set(uids)),
                "schedule_agent_client": sum(b.count(b"SCHEDULE-AGENT=CLIENT") > 0 for b in bodies.values()),
                "null_bodies": nulls,
                "mojibake_suspects": mojibake,
                # resource names (unquoted) of the damaged ones, for `figures`
                "null_names": [urllib.parse.unquote(n) for n in null_names[:1000]],
                "mojibake_names": [urllib.parse.unquote(n) for n in mojibake_names[:1000]],
            })
    for c in out:
        comps = f" [{','.join(c['components'])}]" if c["components"] else ""
        log(f"{c['href']} ({c['displayname']}){comps}: {c['members']} items, {c['uids']} UIDs, "
            f"{c['duplicate_uids']} duplicate UIDs, {c['null_bodies']} '(null)' bodies, "
            f"{c['mojibake_suspects']} mojibake suspects")
    return {"collections": out, "items": sum(c["members"] for c in out),
            "uids": sum(c["uids"] for c in out),
            "duplicate_uids": sum(c["duplicate_uids"] for c in out),
            "null_bodies": sum(c["null_bodies"] for c in out),
            "mojibake_suspects": sum(c["mojibake_suspects"] for c in out)}


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------

WRITE_METHODS = ("PUT", "DELETE", "MKCOL", "MKCALENDAR", "PROPPATCH", "MOVE", "COPY", "POST")


def load(path: str):
    if not path or not os.path.exists(path) or os.path.getsize(path) == 0:
        return None
    with open(path, encoding="utf-8") as f:
        try:
            return json.load(f)
        except json.JSONDecodeError:
            return None


def time_v(path: str) -> dict:
    """The fields of GNU time -v output we need."""
    out: dict = {}
    if not path or not os.path.exists(path):
        return out
    for line in open(path, encoding="utf-8", errors="replace"):
        line = line.strip()
        if line.startswith("Maximum resident set size (kbytes):"):
            out["max_rss_kb"] = int(line.rsplit(":", 1)[1])
        elif line.startswith("Elapsed (wall clock) time"):
            value = line.split("):", 1)[1].strip()
            parts = [float(p) for p in value.split(":")]
            secs = 0.0
            for p in parts:
                secs = secs * 60 + p
            out["elapsed_s"] = secs
        elif line.startswith("User time (seconds):"):
            out["user_s"] = float(line.rsplit(":", 1)[1])
        elif line.startswith("System time (seconds):"):
            out["sys_s"] = float(line.rsplit(":", 1)[1])
        elif line.startswith("Exit status:"):
            out["exit_status"] = int(line.rsplit(":", 1)[1])
    return out


def writes(summary: dict) -> int:
    by_method = (((summary or {}).get("requests") or {}).get("destination") or {}).get("by_method") or {}
    return sum(v for k, v in by_method.items() if k.upper() in WRITE_METHODS)


def read_text(path: str):
    try:
        return open(path, encoding="utf-8").read().strip() or None
    except OSError:
        return None


def read_rc(path: str):
    try:
        return int(open(path, encoding="utf-8").read().strip())
    except (OSError, ValueError):
        return None


def run_figures(d: str, n: int, items: int, rc=None) -> dict:
    """The figures of calport run number n (run<n>.json / .time / .rc in the work dir)."""
    summary = load(os.path.join(d, f"run{n}.json"))
    t = time_v(os.path.join(d, f"run{n}.time"))
    if summary is None and not t:
        return {}
    summary = summary or {}
    if rc is None:
        rc = read_rc(os.path.join(d, f"run{n}.rc"))
    wall = t.get("elapsed_s") or summary.get("seconds")
    collections = summary.get("collections") or []
    corrupted = [{"uid": c.get("uid"), "source_href": c.get("source_href"),
                  "destination_href": c.get("destination_href"),
                  "differences": (c.get("differences") or [])[:8]}
                 for col in collections for c in col.get("corrupted") or []]
    workarounds = [w for col in collections for w in col.get("workarounds") or []]
    failures = [f for col in collections for f in col.get("failures") or []]
    changes: dict = {}
    for w in workarounds:
        key = re.sub(r"\[uid=[^\]]*\]", "[uid=…]", str(w.get("change", "")))
        key = re.sub(r"U\+[0-9A-F]{4,6} \(.\)|offset \d+", "…", key)[:200]
        changes[key] = changes.get(key, 0) + 1
    dest_requests = ((summary.get("requests") or {}).get("destination")) or {}
    server = summary.get("destination_server") or {}
    return {
        "exit_code": rc,
        "wall_seconds": wall,
        "reported_seconds": summary.get("seconds"),
        "items_per_s": round(items / wall, 2) if wall and items else None,
        "peak_rss_mb": round(t["max_rss_kb"] / 1024, 1) if "max_rss_kb" in t else None,
        "cpu_seconds": round(t.get("user_s", 0) + t.get("sys_s", 0), 2) if t else None,
        "ok": summary.get("ok"),
        "totals": summary.get("totals") or {},
        "destination_writes": writes(summary) if summary else None,
        "destination_requests": dest_requests.get("total"),
        "destination_by_method": dest_requests.get("by_method"),
        "destination_retries": dest_requests.get("retries"),
        "destination_transport_errors": dest_requests.get("transport_errors"),
        "corrupted_count": len(corrupted),
        "corrupted": corrupted,
        "workarounds_count": len(workarounds),
        "workaround_changes": changes,
        "workarounds": workarounds[:5000],
        "failures_count": len(failures),
        "failures": failures[:5000],
        "destination_server": server,
        "requests": summary.get("requests"),
    }


def damage_check(d: str, manifest: dict, raw_inv: dict, r1: dict):
    """What the server damaged when it got the original bytes (raw PUT: '(null)' bodies,
    mojibake) against what calport did about those items in its verified run: adapted
    (workaround), refused, reported corrupted, or nothing (a miss would be a silent loss
    had verification not caught it)."""
    if not raw_inv.get("collections"):
        return None
    names = {}
    for key, card in (("events", False), ("todos", False), ("contacts", True)):
        path = (manifest.get("files") or {}).get(key)
        if path and os.path.exists(path):
            for body in split_items(open(path, "rb").read(), card):
                uid = item_uid(body.encode())
                names[resource_name(uid, card)] = uid
    damaged = {}
    for c in raw_inv["collections"]:
        for kind in ("null", "mojibake"):
            for n in c.get(f"{kind}_names") or []:
                damaged[names.get(n, n)] = kind
    adapted = {w.get("uid") for w in r1.get("workarounds") or []}
    if (r1.get("workarounds_count") or 0) > len(r1.get("workarounds") or []):
        adapted = None  # the list was capped: no comparison
    refused = {f.get("uid") for f in r1.get("failures") or []}
    corrupted = {c.get("uid") for c in r1.get("corrupted") or []}
    out = {"raw_damaged": len(damaged),
           "raw_null": sum(v == "null" for v in damaged.values()),
           "raw_mojibake": sum(v == "mojibake" for v in damaged.values())}
    if adapted is not None:
        handled = adapted | refused | corrupted
        out.update({
            "damaged_and_adapted": len(set(damaged) & adapted),
            "damaged_and_refused": len(set(damaged) & refused),
            "damaged_and_reported_corrupted": len(set(damaged) & corrupted),
            "damaged_not_handled": sorted(set(damaged) - handled)[:50],
            "adapted_but_raw_intact": sorted(adapted - set(damaged))[:50],
            "refused_but_raw_intact": sorted(refused - set(damaged))[:50],
        })
    return out


def cmd_figures(args: argparse.Namespace) -> dict:
    d = args.dir
    manifest = load(os.path.join(d, "data", "manifest.json")) or {}
    seed = load(os.path.join(d, "seed.json")) or {}
    raw = load(os.path.join(d, "raw.json")) or {}
    inv = load(os.path.join(d, "inventory.json")) or {}
    inv_nv = load(os.path.join(d, "inventory-noverify.json")) or {}
    items = int(manifest.get("events", 0)) + int(manifest.get("contacts", 0)) + int(
        manifest.get("todos", 0))
    r1 = run_figures(d, 1, items, args.rc1)   # migrate, verification on (the default)
    r2 = run_figures(d, 2, items, args.rc2)   # the same again: nothing to do
    r3 = run_figures(d, 3, items)             # migrate --no-verify into a fresh destination
    r4 = run_figures(d, 4, items)             # the same again, verification on
    raw_rate = raw.get("items_per_s")

    def ratio(run: dict):
        rate = run.get("items_per_s")
        return round(100 * rate / raw_rate, 1) if rate and raw_rate else None

    def pct(v: dict, nv: dict):
        if v.get("wall_seconds") and nv.get("wall_seconds"):
            return round(100 * (v["wall_seconds"] - nv["wall_seconds"]) / nv["wall_seconds"], 1)
        return None

    overhead = pct(r1, r3)
    # Further verify / --no-verify pairs (REPEAT > 1): run-v<k> and run-nv<k>.
    pairs = [{"pair": 1, "verify_s": r1.get("wall_seconds"), "no_verify_s": r3.get("wall_seconds"),
              "overhead_pct": overhead, "order": "verify first"}] if r3 else []
    k = 2
    while os.path.exists(os.path.join(d, f"run-v{k}.json")) or os.path.exists(
            os.path.join(d, f"run-nv{k}.json")):
        v, nv = run_figures(d, f"-v{k}", items), run_figures(d, f"-nv{k}", items)
        pairs.append({"pair": k, "verify_s": v.get("wall_seconds"),
                      "no_verify_s": nv.get("wall_seconds"), "overhead_pct": pct(v, nv),
                      "order": "no-verify first" if k % 2 == 0 else "verify first",
                      "verify_exit": v.get("exit_code"), "no_verify_exit": nv.get("exit_code"),
                      "verify_corrupted": (v.get("totals") or {}).get("corrupted")})
        k += 1

    def median(values: list):
        values = sorted(x for x in values if x is not None)
        if not values:
            return None
        mid = len(values) // 2
        return values[mid] if len(values) % 2 else round((values[mid - 1] + values[mid]) / 2, 2)

    overhead_median = median([p["overhead_pct"] for p in pairs]) if len(pairs) > 1 else None
    inv_keys = ("items", "uids", "duplicate_uids", "null_bodies", "mojibake_suspects")
    damage = damage_check(d, manifest, load(os.path.join(d, "inventory-raw.json")) or {}, r1)
    server = r1.get("destination_server") or {}
    figures = {
        "timestamp": args.timestamp,
        "destination": args.dest,
        "destination_server": server.get("product") or server,
        "concurrency": args.concurrency,
        "cpus": os.cpu_count(),
        "loadavg_start": read_text(os.path.join(d, "loadavg.start")),
        "loadavg_end": read_text(os.path.join(d, "loadavg.end")),
        "seed": manifest.get("seed"),
        "events": manifest.get("events"),
        "contacts": manifest.get("contacts"),
        "items": items,
        "data_kinds": manifest.get("kinds"),
        "data_bytes": manifest.get("bytes"),
        "source_seed_seconds": seed.get("seconds"),
        "raw_put": {k: raw.get(k) for k in ("items", "ok", "seconds", "items_per_s", "bytes")},
        "raw_put_errors": [e for c in raw.get("collections") or [] for e in c.get("errors") or []],
        "server_damage_check": damage,
        "calport": r1,
        "ratio_calport_vs_raw_pct": ratio(r1),
        "calport_no_verify": r3 or None,
        "ratio_calport_no_verify_vs_raw_pct": ratio(r3) if r3 else None,
        "verify_overhead_pct": overhead,
        "verify_overhead_target_pct": 15,
        "verify_pairs": pairs,
        "verify_overhead_median_pct": overhead_median,
        "verify_wall_median_s": median([p["verify_s"] for p in pairs]) if len(pairs) > 1 else None,
        "no_verify_wall_median_s": median([p["no_verify_s"] for p in pairs])
        if len(pairs) > 1 else None,
        "noop": {k: r2.get(k) for k in (
            "exit_code", "wall_seconds", "reported_seconds", "destination_writes", "peak_rss_mb",
            "totals", "requests")},
        "rerun_after_no_verify": {k: r4.get(k) for k in (
            "exit_code", "wall_seconds", "destination_writes", "totals", "corrupted_count",
            "corrupted", "workarounds_count", "destination_by_method")} if r4 else None,
        "destination_inventory": {k: inv.get(k) for k in inv_keys},
        "destination_inventory_no_verify": {k: inv_nv.get(k) for k in inv_keys} if inv_nv else None,
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(figures, f, indent=2, ensure_ascii=False)

    def fmt(v, unit="", digits=1):
        if v is None:
            return "n/a"
        if isinstance(v, float):
            return f"{v:.{digits}f}{unit}"
        return f"{v}{unit}"

    def two(label: str, a: str, b: str) -> str:
        return f"{label:<19}{a:<30}{b if r3 else ''}".rstrip()

    def counts(run: dict) -> tuple:
        t = run.get("totals") or {}
        return (f"{t.get('created', 'n/a')} / {t.get('failed', 'n/a')}",
                f"{t.get('verified', 'n/a')} / {t.get('corrupted', 'n/a')}")

    c1, v1 = counts(r1)
    c3, v3 = counts(r3)
    n = r2
    ov = "n/a" if overhead is None else f"{overhead:+.1f} %"
    verdict = "" if overhead is None else ("  (target < 15 %: met)" if overhead < 15
                                           else "  (target < 15 %: MISSED)")
    product = server.get("product") if isinstance(server, dict) else None
    block = [
        "",
        "==================== calport migrate benchmark ====================",
        f"destination        {args.dest}{f' ({product})' if product else ''}, concurrency "
        f"{args.concurrency}, seed {figures['seed']}",
        f"items              {items} ({figures['events']} events, {figures['contacts']} contacts)",
        f"machine            {figures['cpus']} CPUs, load average at start / end: "
        f"{' '.join((figures['loadavg_start'] or 'n/a').split()[:3])} / "
        f"{' '.join((figures['loadavg_end'] or 'n/a').split()[:3])}",
        f"source seeding     {fmt(figures['source_seed_seconds'], ' s')} (Radicale whole-collection PUT)",
        f"raw PUT            {fmt(raw.get('seconds'), ' s')}  ->  {fmt(raw_rate, ' items/s')}"
        f"  ({raw.get('ok')}/{raw.get('items')} ok)",
        two("calport migrate", "verify (default)", "--no-verify"),
        two("  wall time", f"{fmt(r1.get('wall_seconds'), ' s')}  (exit {fmt(r1.get('exit_code'))})",
            f"{fmt(r3.get('wall_seconds'), ' s')}  (exit {fmt(r3.get('exit_code'))})"),
        two("  items/s", fmt(r1.get("items_per_s"), ""), fmt(r3.get("items_per_s"), "")),
        two("  vs raw PUT", fmt(figures["ratio_calport_vs_raw_pct"], " %"),
            fmt(figures["ratio_calport_no_verify_vs_raw_pct"], " %")),
        two("  peak RSS", f"{fmt(r1.get('peak_rss_mb'), ' MB')} (cpu {fmt(r1.get('cpu_seconds'), ' s')})",
            f"{fmt(r3.get('peak_rss_mb'), ' MB')} (cpu {fmt(r3.get('cpu_seconds'), ' s')})"),
        two("  created / failed", c1, c3),
        two("  verified / corr.", v1, v3),
        two("  workarounds", fmt(r1.get("workarounds_count")), fmt(r3.get("workarounds_count"))),
        two("  dest. requests", fmt(r1.get("destination_requests")),
            fmt(r3.get("destination_requests"))),
        f"verify overhead    {ov}{verdict if overhead_median is None else ' (pair 1)'}",
    ]
    if overhead_median is not None:
        med_verdict = "met" if overhead_median < 15 else "MISSED"
        block.append(
            f"  median of {len(pairs)} pairs {overhead_median:+.1f} % (target < 15 %: "
            f"{med_verdict}); verify/no-verify s: "
            + ", ".join(f"{fmt(p['verify_s'], '', 2)}/{fmt(p['no_verify_s'], '', 2)}"
                        for p in pairs))
    block += [
        f"no-op re-run       {fmt(n.get('wall_seconds'), ' s', 2)}, destination writes "
        f"{fmt(n.get('destination_writes'))} (exit {fmt(n.get('exit_code'))})",
    ]
    if r4:
        t4 = r4.get("totals") or {}
        block.append(
            f"re-run after --no-verify (verify on): {fmt(r4.get('wall_seconds'), ' s', 2)}, "
            f"destination writes {fmt(r4.get('destination_writes'))}, corrupted "
            f"{t4.get('corrupted', 'n/a')} (exit {fmt(r4.get('exit_code'))})")

    def inv_line(label: str, i: dict) -> str:
        return (f"{label:<19}{i.get('items', 'n/a')} items, {i.get('uids', 'n/a')} UIDs, "
                f"{i.get('duplicate_uids', 'n/a')} duplicate UIDs, {i.get('null_bodies', 'n/a')} "
                f"'(null)', {i.get('mojibake_suspects', 'n/a')} mojibake")

    if damage:
        line = (f"server damage      raw PUT (original bytes): {damage['raw_null']} '(null)', "
                f"{damage['raw_mojibake']} mojibake")
        if "damaged_and_adapted" in damage:
            line += (f"; calport adapted {damage['damaged_and_adapted']}, refused "
                     f"{damage['damaged_and_refused']}, reported "
                     f"{damage['damaged_and_reported_corrupted']}, missed "
                     f"{len(damage['damaged_not_handled'])}; adapted/refused although the raw "
                     f"copy was intact: {len(damage['adapted_but_raw_intact'])}/"
                     f"{len(damage['refused_but_raw_intact'])}")
        block.append(line)
    if figures["raw_put_errors"]:
        block.append(f"raw PUT errors     {'; '.join(e[:120] for e in figures['raw_put_errors'][:3])}")
    block.append(inv_line("destination holds", inv))
    if inv_nv:
        block.append(inv_line("  no-verify dest.", inv_nv))
    for label, run in (("verify run", r1), ("no-op re-run", r2)):
        if run.get("corrupted"):
            block.append(f"corrupted items ({label}): {len(run['corrupted'])}, e.g.")
            for c in run["corrupted"][:3]:
                first = (c.get("differences") or ["?"])[0]
                block.append(f"  {c.get('uid')}: {first[:150]}")
        if run.get("failures"):
            block.append(f"failed items ({label}): {run['failures_count']}, e.g.")
            for f in run["failures"][:3]:
                block.append(f"  {f.get('uid')}: {str(f.get('reason'))[:150]}")
    if r1.get("workaround_changes"):
        block.append("workarounds (verify run):")
        for change, count in sorted(r1["workaround_changes"].items(), key=lambda kv: -kv[1])[:5]:
            block.append(f"  {count} x {change[:220]}")
    block += [
        f"report             {args.out}",
        "===================================================================",
    ]
    print("\n".join(block), file=sys.stderr)
    return figures


def cmd_rusage(args: argparse.Namespace) -> None:
    """Runs a command and writes GNU `time -v` style lines (for machines without GNU time)."""
    import resource  # noqa: PLC0415
    import subprocess  # noqa: PLC0415

    cmd = args.command[1:] if args.command[:1] == ["--"] else args.command
    t0 = time.monotonic()
    rc = subprocess.call(cmd)
    wall = time.monotonic() - t0
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(f"\tUser time (seconds): {ru.ru_utime:.2f}\n")
        f.write(f"\tSystem time (seconds): {ru.ru_stime:.2f}\n")
        f.write(f"\tElapsed (wall clock) time (h:mm:ss or m:ss): {int(wall // 60)}:{wall % 60:05.2f}\n")
        f.write(f"\tMaximum resident set size (kbytes): {ru.ru_maxrss}\n")
        f.write(f"\tExit status: {rc}\n")
    sys.exit(rc)


# --------------------------------------------------------------------------------------------

def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    g = sub.add_parser("gen")
    g.add_argument("--events", type=int, default=0)
    g.add_argument("--todos", type=int, default=0)
    g.add_argument("--contacts", type=int, default=0)
    g.add_argument("--seed", type=int, default=1)
    g.add_argument("--calendar-name", default="")
    g.add_argument("--tasks-name", default="")
    g.add_argument("--out", required=True)

    v = sub.add_parser("validate")
    v.add_argument("--dir", required=True)

    sub.add_parser("free-port")

    w = sub.add_parser("wait")
    w.add_argument("--url", required=True)
    w.add_argument("--user", default="alice")
    w.add_argument("--password", default="alicepw")
    w.add_argument("--pid", type=int)
    w.add_argument("--timeout", type=float, default=30)
    w.add_argument("--max-probes", type=int, default=300)

    for name in ("seed", "seed-items"):
        s = sub.add_parser(name)
        s.add_argument("--url", required=True, help="the collection to create")
        s.add_argument("--user", default="alice")
        s.add_argument("--password", default="alicepw")
        s.add_argument("--kind", choices=["calendar", "addressbook"], required=True)
        s.add_argument("--name", required=True)
        s.add_argument("--components", default="")
        s.add_argument("--color", default="")
        s.add_argument("--file", required=True)
        s.add_argument("--expect", type=int)
        s.add_argument("--concurrency", type=int, default=4)

    r = sub.add_parser("raw-put")
    r.add_argument("--pair", action="append", required=True, help="SRC_COLLECTION_URL=>DST_COLLECTION_URL")
    r.add_argument("--card-path", action="append", default=[], help="source paths that are address books")
    r.add_argument("--src-user", default="alice")
    r.add_argument("--src-password", default="alicepw")
    r.add_argument("--dst-user", default="alice")
    r.add_argument("--dst-password", default="alicepw")
    r.add_argument("--concurrency", type=int, default=8)

    m = sub.add_parser("mkcol")
    m.add_argument("--url", required=True, help="the collection to create")
    m.add_argument("--user", default="alice")
    m.add_argument("--password", default="alicepw")
    m.add_argument("--kind", choices=["calendar", "addressbook"], required=True)
    m.add_argument("--name", required=True)
    m.add_argument("--components", default="")
    m.add_argument("--color", default="")

    de = sub.add_parser("delete")
    de.add_argument("--url", action="append", default=[], help="a collection to delete")
    de.add_argument("--report", help="a calport --json summary: delete the collections it created")
    de.add_argument("--base", help="origin the report's hrefs are relative to")
    de.add_argument("--user", default="alice")
    de.add_argument("--password", default="alicepw")

    i = sub.add_parser("inventory")
    i.add_argument("--base", required=True)
    i.add_argument("--home", action="append", required=True)
    i.add_argument("--user", default="alice")
    i.add_argument("--password", default="alicepw")

    f = sub.add_parser("figures")
    f.add_argument("--dir", required=True)
    f.add_argument("--out", required=True)
    f.add_argument("--dest", required=True)
    f.add_argument("--concurrency", type=int, required=True)
    f.add_argument("--timestamp", required=True)
    f.add_argument("--rc1", type=int)
    f.add_argument("--rc2", type=int)

    ru = sub.add_parser("rusage")
    ru.add_argument("--out", required=True)
    ru.add_argument("command", nargs=argparse.REMAINDER)

    args = p.parse_args()
    handlers = {
        "gen": cmd_gen, "validate": cmd_validate, "free-port": cmd_free_port, "wait": cmd_wait,
        "seed": cmd_seed, "seed-items": cmd_seed_items, "raw-put": cmd_raw_put,
        "inventory": cmd_inventory, "figures": cmd_figures, "rusage": cmd_rusage,
        "mkcol": cmd_mkcol, "delete": cmd_delete,
    }
    result = handlers[args.cmd](args)
    if result is not None:
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
