#!/usr/bin/env bash
# Webhook ingest of `calport serve` under load from wrk (a script, not a test): accepted
# webhooks/s and latency to the 202, and the time until the last one is visible on Radicale.
# The issue's target: >= 1,000 accepted webhooks/s on SQLite, none lost.
#
#   bench/ingest.sh                                # 10 s of load + 300 applied (~30 s + build)
#   DURATION=5s APPLY_COUNT=100 bench/ingest.sh    # quicker
#   DB=postgres bench/ingest.sh                    # on fresh PostgreSQL databases
#
# Knobs (environment variables):
#   DB=sqlite        sqlite (default: the file in the data directory) or postgres (a fresh
#                    database per phase on 127.0.0.1 as user postgres, like bench/api.sh;
#                    dropped on exit)
#   DURATION=10s     wrk's load time in phase A
#   CONNECTIONS=32   wrk connections
#   THREADS=2        wrk threads
#   APPLY_COUNT=300  webhooks sent in phase B (applied to Radicale), and the number of raw
#                    PUTs Radicale's own write rate is measured with
#   SENDERS=8        parallel curl senders in phase B
#   PHASE_A_WORKER=0 1: phase A runs with the worker applying in parallel, and then waits
#                    until every accepted webhook is on Radicale (10 s at 1,000/s queue
#                    10,000+ items, which Radicale takes 10+ minutes to store)
#   MAX_WAIT=1800    seconds to wait for the inbox to drain (and the items to show)
#   KEEP=0           1: keep the work directory (logs, data directories, Radicale storage)
#   CALPORT=...      calport binary (default: target/release/calport, rebuilt when older
#                    than the sources); copied into the work directory before the runs
#
# Steps: start Radicale (from the venv scripts/test.sh makes; made here the same way when
# missing) with an empty calendar per phase; measure Radicale's raw write rate (APPLY_COUNT
# sequential PUTs of comparable .ics files, If-None-Match: *, one keep-alive connection (no
# "Expect: 100-continue": Radicale never answers it, curl would wait 1 s each), as
# calport's applier writes one target calendar: one item after another);
#   A "accept"  `calport serve` with the worker off; wrk posts Graph event JSON, each with an
#               event id of its own (bench/ingest.lua), for DURATION: accepted/s, p50/p99
#               latency, non-202 answers; then the inbox must hold exactly the 202s (at
#               most the requests still in flight when wrk stopped on top; one entry per
#               event id)
#   B "apply"   a new `calport serve` (fresh data directory, worker on) and a fresh
#               calendar; APPLY_COUNT webhooks sent by SENDERS curls; the time from the first
#               send until the inbox is drained and every item is on Radicale (PROPFIND
#               Depth 1), compared with Radicale's raw PUT rate
# Peak RSS of `calport serve` (VmHWM) is printed for each phase, then a summary with
# PASS/MISS for the targets. Everything listens on 127.0.0.1 (random free ports); only
# the processes started here are stopped, by PID, on exit.
set -euo pipefail

DB="${DB:-sqlite}"
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-2}"
APPLY_COUNT="${APPLY_COUNT:-300}"
SENDERS="${SENDERS:-8}"
PHASE_A_WORKER="${PHASE_A_WORKER:-0}"
MAX_WAIT="${MAX_WAIT:-1800}"
KEEP="${KEEP:-0}"
TARGET_RATE=1000

# shellcheck source=bench/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
LUA="$BENCH_LIB_DIR/ingest.lua"

for knob in CONNECTIONS THREADS APPLY_COUNT SENDERS MAX_WAIT; do
    [[ "${!knob}" =~ ^[0-9]+$ ]] || die "$knob must be a non-negative integer, got '${!knob}'"
done
[[ "$DURATION" =~ ^([0-9]+)([smh]?)$ ]] || die "DURATION must look like 10s, 2m (got '$DURATION')"
case "${BASH_REMATCH[2]}" in
m) DURATION_S=$((BASH_REMATCH[1] * 60)) ;;
h) DURATION_S=$((BASH_REMATCH[1] * 3600)) ;;
*) DURATION_S=$((BASH_REMATCH[1])) ;;
esac
[ "$DURATION_S" -ge 1 ] || die "DURATION must be at least 1s"
[ "$THREADS" -ge 1 ] && [ "$CONNECTIONS" -ge "$THREADS" ] || die "need CONNECTIONS >= THREADS >= 1"
[ "$APPLY_COUNT" -ge 1 ] || die "APPLY_COUNT must be at least 1"
if [ "$SENDERS" -lt 1 ] || [ "$SENDERS" -gt 64 ]; then die "SENDERS must be 1-64"; fi
case "$DB" in sqlite | postgres) ;; *) die "DB must be sqlite or postgres" ;; esac
case "$PHASE_A_WORKER" in 0 | 1) ;; *) die "PHASE_A_WORKER must be 0 or 1" ;; esac
case "$KEEP" in 0 | 1) ;; *) die "KEEP must be 0 or 1" ;; esac
[ -f "$LUA" ] || die "$LUA is missing"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/calport-ingest.XXXXXX")"
SERVE_PID=""
PGDBS=()
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$SERVE_PID" ]; then stop_pid "$SERVE_PID"; fi
    stop_servers
    local db
    for db in "${PGDBS[@]}"; do
        psql -q -h 127.0.0.1 -U postgres -d postgres \
            -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    done
    if [ "$KEEP" = 1 ]; then
        echo "kept $WORK" >&2
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- tools -----------------------------------------------------------------------------------

if ! command -v wrk >/dev/null; then
    say "installing wrk (apt-get)"
    apt-get install -y -q wrk >/dev/null 2>&1 ||
        { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q wrk >/dev/null; } ||
        die "wrk is needed: apt-get install wrk"
fi
command -v curl >/dev/null || die "curl is needed"
if [ "$DB" = postgres ]; then
    command -v psql >/dev/null || die "DB=postgres needs psql (postgresql-client)"
    pg_isready -q -h 127.0.0.1 || die "PostgreSQL does not answer on 127.0.0.1:5432 (scripts/test.sh starts it)"
fi
ensure_venv
if [ -n "${CALPORT:-}" ]; then
    [ -x "$CALPORT" ] || die "CALPORT=$CALPORT is not executable"
elif [ -x "$ROOT/target/release/calport" ] && [ -z "$(find "$ROOT/Cargo.lock" "$ROOT/crates" \
    -newer "$ROOT/target/release/calport" \( -name '*.rs' -o -name 'Cargo.*' -o -name '*.sql' \) -print -quit)" ]; then
    CALPORT="$ROOT/target/release/calport"
else
    build_calport
fi
# A snapshot: a rebuild by someone else during the bench must not change the binary measured.
cp "$CALPORT" "$WORK/calport"
CALPORT_ORIG="$CALPORT"
CALPORT="$WORK/calport"

# json EXPR: evaluates EXPR (Python, the document is `d`) on the JSON read from stdin.
json() { "$PY" -c 'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
now() { date +%s.%N; }
# calc EXPR: floating point arithmetic (Python).
calc() { "$PY" -c "print($1)"; }

echo "calport ingest bench: DB=$DB DURATION=$DURATION CONNECTIONS=$CONNECTIONS THREADS=$THREADS" \
    "APPLY_COUNT=$APPLY_COUNT SENDERS=$SENDERS PHASE_A_WORKER=$PHASE_A_WORKER; $(nproc) cores;" \
    "load $(cut -d' ' -f1-3 /proc/loadavg); work dir $WORK" >&2
echo "calport: $CALPORT_ORIG ($("$CALPORT" --version 2>/dev/null || echo '?')); $(wrk --version 2>&1 | head -n 1)" >&2

# ---- Radicale --------------------------------------------------------------------------------

say "starting Radicale"
start_server radicale "$WORK/radicale"
RAD="$STARTED_URL"
RAD_AUTH="$DAV_USER:$DAV_PASSWORD"

mkcalendar() { # path
    local code
    code="$(curl -sS -o "$WORK/mkcalendar.out" -w '%{http_code}' --max-time 30 -u "$RAD_AUTH" \
        -X MKCALENDAR -H 'Content-Type: application/xml; charset=utf-8' --data-binary \
        '<?xml version="1.0" encoding="utf-8"?>
<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>
<D:displayname>Bench</D:displayname>
<C:supported-calendar-component-set><C:comp name="VEVENT"/></C:supported-calendar-component-set>
</D:prop></D:set></C:mkcalendar>' "$RAD$1")"
    [ "$code" = 201 ] || die "MKCALENDAR $1 answered $code: $(head -c 500 "$WORK/mkcalendar.out")"
}

# count_items PATH: the items in a collection (PROPFIND Depth 1, without the collection).
count_items() {
    curl -sS --max-time 300 -u "$RAD_AUTH" -X PROPFIND -H 'Depth: 1' \
        -H 'Content-Type: application/xml; charset=utf-8' --data-binary \
        '<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop></D:propfind>' \
        "$RAD$1" >"$WORK/propfind.xml"
    "$PY" - "$WORK/propfind.xml" "$1" <<'PYEOF'
import sys, urllib.parse, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
own = sys.argv[2].rstrip("/")
hrefs = [urllib.parse.unquote(r.findtext("{DAV:}href") or "").rstrip("/")
         for r in root.iter("{DAV:}response")]
items = [h for h in hrefs if h != own]
if len(set(items)) != len(items):
    sys.exit(f"duplicate hrefs in the PROPFIND answer of {own}")
print(len(items))
PYEOF
}

# ---- Radicale's raw write rate -----------------------------------------------------------------

# An item like the ones calport renders from the bench's events: one VEVENT in
# Europe/Berlin with its VTIMEZONE.
raw_ics() { # n
    local n="$1" day=$(($1 % 28 + 1)) hour=$((8 + $1 % 10))
    printf '%s\r\n' BEGIN:VCALENDAR VERSION:2.0 'PRODID:-//calport bench//raw PUT//EN' \
        BEGIN:VTIMEZONE TZID:Europe/Berlin BEGIN:DAYLIGHT TZOFFSETFROM:+0100 TZOFFSETTO:+0200 \
        TZNAME:CEST DTSTART:19700329T020000 RRULE:FREQ=YEARLY\;BYMONTH=3\;BYDAY=-1SU END:DAYLIGHT \
        BEGIN:STANDARD TZOFFSETFROM:+0200 TZOFFSETTO:+0100 TZNAME:CET DTSTART:19701025T030000 \
        RRULE:FREQ=YEARLY\;BYMONTH=10\;BYDAY=-1SU END:STANDARD END:VTIMEZONE BEGIN:VEVENT \
        "UID:raw-bench-$n" DTSTAMP:20261202T100000Z "LAST-MODIFIED:20261202T100000Z" \
        "DTSTART;TZID=Europe/Berlin:202701$(printf '%02d' "$day")T$(printf '%02d' "$hour")0000" \
        "DTEND;TZID=Europe/Berlin:202701$(printf '%02d' "$day")T$(printf '%02d' "$hour")3000" \
        "SUMMARY:Bench raw $n" "X-CALPORT-ORIGIN:m365:bench:RAW-$n" END:VEVENT END:VCALENDAR
}

say "Radicale's raw write rate: $APPLY_COUNT sequential PUTs (If-None-Match: *, one connection)"
RAW_COL="/$DAV_USER/bench-raw/"
mkcalendar "$RAW_COL"
mkdir -p "$WORK/raw"
: >"$WORK/raw.curlrc"
for ((i = 1; i <= APPLY_COUNT; i++)); do
    raw_ics "$i" >"$WORK/raw/$i.ics"
    printf 'url = "%s%sraw-bench-%d.ics"\nupload-file = "%s/raw/%d.ics"\n' \
        "$RAD" "$RAW_COL" "$i" "$WORK" "$i" >>"$WORK/raw.curlrc"
done
RAW_BYTES="$(calc "$(cat "$WORK"/raw/*.ics | wc -c) // $APPLY_COUNT")"
t0="$(now)"
curl -sS --max-time "$MAX_WAIT" -u "$RAD_AUTH" -H 'Content-Type: text/calendar; charset=utf-8' \
    -H 'If-None-Match: *' -H 'Expect:' -o /dev/null -w '%{http_code}\n' -K "$WORK/raw.curlrc" >"$WORK/raw.codes"
t1="$(now)"
RAW_OK="$(grep -c '^201$' "$WORK/raw.codes" || true)"
[ "$RAW_OK" = "$APPLY_COUNT" ] ||
    die "raw PUT: $RAW_OK of $APPLY_COUNT answered 201 ($(sort "$WORK/raw.codes" | uniq -c | tr '\n' ' '))"
RAW_SECONDS="$(calc "round($t1 - $t0, 2)")"
RAW_RATE="$(calc "round($APPLY_COUNT / ($t1 - $t0), 1)")"
printf 'Radicale raw PUT: %d items (%d bytes each) in %s s = %s PUT/s\n' \
    "$APPLY_COUNT" "$RAW_BYTES" "$RAW_SECONDS" "$RAW_RATE"

# ---- calport serve ---------------------------------------------------------------------------

# start_serve LABEL WORKER(true|false): a fresh data directory (and database); sets SERVE_PID,
# BASE, ADMIN_KEY, DB_LABEL (the database, for the inbox queries).
start_serve() {
    local label="$1" worker="$2" attempt port
    local data="$WORK/$label-data"
    mkdir -p "$data"
    export CALPORT_DATA_DIR="$data" CALPORT_WORKER_ENABLED="$worker"
    # Fresh secrets per data directory, never written to disk.
    CALPORT_SECRET_KEY="$("$PY" -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')"
    export CALPORT_SECRET_KEY
    if [ "$DB" = postgres ]; then
        local pgdb="calport_bench_ingest_$$_$label"
        PGDBS+=("$pgdb")
        psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $pgdb WITH (FORCE)" >/dev/null
        psql -q -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE $pgdb" >/dev/null
        export CALPORT_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$pgdb"
        DB_LABEL="$pgdb"
    else
        unset CALPORT_DATABASE_URL
        DB_LABEL="$data/calport.sqlite"
    fi
    ADMIN_KEY="$(timeout 60 "$CALPORT" apikey create --name bench 2>"$WORK/$label-apikey.err")" ||
        die "calport apikey create failed: $(cat "$WORK/$label-apikey.err")"
    for attempt in 1 2 3 4 5; do
        port="$(davbench free-port)"
        CALPORT_LISTEN="127.0.0.1:$port" "$CALPORT" serve </dev/null >"$WORK/$label-serve.log" 2>&1 &
        SERVE_PID=$!
        BASE="http://127.0.0.1:$port"
        local i
        for ((i = 0; i < 300; i++)); do
            curl -sf --max-time 2 "$BASE/api/health" >/dev/null 2>&1 && break
            kill -0 "$SERVE_PID" 2>/dev/null || break
            sleep 0.1
        done
        if curl -sf --max-time 2 "$BASE/api/health" >/dev/null 2>&1; then
            echo "calport serve ($label, worker $worker, $DB): $BASE (pid $SERVE_PID)" >&2
            return 0
        fi
        stop_pid "$SERVE_PID"
        SERVE_PID=""
        if grep -qi "address already in use" "$WORK/$label-serve.log" && [ "$attempt" -lt 5 ]; then
            echo "port $port taken meanwhile, trying another" >&2
            continue
        fi
        tail -n 40 "$WORK/$label-serve.log" >&2
        die "calport serve did not start"
    done
    die "calport serve found no free port"
}

# stop_serve: sets SERVE_RSS to the peak RSS (kB, VmHWM) of the running serve, then stops it.
stop_serve() {
    SERVE_RSS="$(awk '/^VmHWM/ {print $2}' "/proc/$SERVE_PID/status" 2>/dev/null || true)"
    SERVE_RSS="${SERVE_RSS:-?}"
    stop_pid "$SERVE_PID"
    SERVE_PID=""
}

api() { curl -sS --fail-with-body --max-time 60 -H "Authorization: Bearer $ADMIN_KEY" -H 'Content-Type: application/json' "$@"; }

# make_source CALENDAR: an account on Radicale and the source `bench` writing into
# CALENDAR; sets SOURCE_KEY.
make_source() {
    local account made
    account="$(api -d "{\"name\":\"radicale\",\"url\":\"$RAD/\",\"username\":\"$DAV_USER\",\"password\":\"$DAV_PASSWORD\"}" \
        "$BASE/api/accounts" | json 'd["id"]')" || die "POST /api/accounts failed"
    made="$(api -d "{\"id\":\"bench\",\"account_id\":$account,\"calendar\":\"$1\",\"priority\":0,\"conflict\":\"last_write_wins\"}" \
        "$BASE/api/sources")" || die "POST /api/sources failed: $made"
    SOURCE_KEY="$(json 'd["key"]' <<<"$made")"
    [[ "$SOURCE_KEY" == cps_* ]] || die "unexpected source key in $made"
}

# inbox: "pending done dead" from GET /api/stats.
inbox() {
    api "$BASE/api/stats" | json '" ".join(str(d["ingest"]["inbox"].get(k, 0)) for k in ("pending", "done", "dead"))'
}

# inbox_rows: "entries distinct_event_ids" straight from the database.
inbox_rows() {
    if [ "$DB" = postgres ]; then
        psql -qtA -F ' ' -h 127.0.0.1 -U postgres -d "$DB_LABEL" \
            -c "SELECT count(*), count(DISTINCT event_id) FROM inbox WHERE source_id = 'bench'"
    else
        "$PY" -c 'import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True, timeout=30)
print(*db.execute("SELECT count(*), count(DISTINCT event_id) FROM inbox WHERE source_id = ?", ("bench",)).fetchone())' "$DB_LABEL"
    fi
}

# wait_drained EXPECTED T0 CALENDAR: polls GET /api/stats (bounded by MAX_WAIT) until no
# entry is pending and done + dead >= EXPECTED, then PROPFINDs CALENDAR until it holds
# EXPECTED items (or the deadline). Sets DRAINED_AT (epoch s), VISIBLE_AT, ITEMS,
# PENDING/DONE/DEAD.
wait_drained() {
    local expected="$1" t0="$2" calendar="$3" deadline=$((SECONDS + MAX_WAIT)) last=$SECONDS
    DRAINED_AT=""
    while :; do
        read -r PENDING DONE DEAD < <(inbox || true) || true
        if ! [[ "${PENDING:-}" =~ ^[0-9]+$ && "${DONE:-}" =~ ^[0-9]+$ && "${DEAD:-}" =~ ^[0-9]+$ ]]; then
            [ "$SECONDS" -lt "$deadline" ] || die "GET /api/stats keeps failing"
            sleep 1
            continue
        fi
        if [ "$PENDING" = 0 ] && [ $((DONE + DEAD)) -ge "$expected" ]; then
            DRAINED_AT="$(now)"
            break
        fi
        if [ $((SECONDS - last)) -ge 10 ]; then
            last=$SECONDS
            printf '  %5.0f s: inbox pending %s, done %s, dead %s (%s/s so far)\n' \
                "$(calc "$(now) - $t0")" "$PENDING" "$DONE" "$DEAD" \
                "$(calc "round(($DONE + $DEAD) / ($(now) - $t0), 1)")" >&2
        fi
        [ "$SECONDS" -lt "$deadline" ] || break
        sleep 0.25
    done
    while :; do
        ITEMS="$(count_items "$calendar")"
        VISIBLE_AT="$(now)"
        [ "$ITEMS" -lt "$expected" ] || break
        [ "$SECONDS" -lt "$deadline" ] || break
        sleep 1
    done
    [ -n "$DRAINED_AT" ] || echo "warning: the inbox did not drain within MAX_WAIT=$MAX_WAIT s" >&2
}

# ---- phase A: accept -------------------------------------------------------------------------

A_COL="/$DAV_USER/bench-accept/"
mkcalendar "$A_COL"
if [ "$PHASE_A_WORKER" = 1 ]; then A_WORKER=true; else A_WORKER=false; fi
start_serve accept "$A_WORKER"
make_source "$A_COL"
URL="$BASE/api/webhook/event/created"
# One webhook by hand first: the route works and answers 202 with a request id.
curl -sS --max-time 10 -o "$WORK/probe.json" -w '%{http_code}' -H 'X-Calendar-Source: bench' \
    -H "X-API-Key: $SOURCE_KEY" -H 'Content-Type: application/json' --data-binary \
    '{"id":"PROBE-1","iCalUId":"UID-PROBE-1","subject":"Probe","start":{"dateTime":"2027-01-04T09:00:00.0000000","timeZone":"W. Europe Standard Time"},"end":{"dateTime":"2027-01-04T10:00:00.0000000","timeZone":"W. Europe Standard Time"},"lastModifiedDateTime":"2026-12-02T10:00:00Z"}' \
    "$URL" >"$WORK/probe.code"
[ "$(cat "$WORK/probe.code")" = 202 ] || die "a webhook answered $(cat "$WORK/probe.code"): $(head -c 500 "$WORK/probe.json")"
PROBE_REQ="$(json 'd["request_id"]' <"$WORK/probe.json")"
api "$BASE/api/inbox/$PROBE_REQ" >/dev/null || die "GET /api/inbox/$PROBE_REQ failed"

say "phase A (accept): wrk -t$THREADS -c$CONNECTIONS -d$DURATION, a new event id per request," \
    "worker $A_WORKER, database $DB"
A_T0="$(now)"
timeout --kill-after=10 $((DURATION_S + 120)) wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$LUA" "$URL" \
    -- "$SOURCE_KEY" bench EVT >"$WORK/wrk.out" 2>&1 || { cat "$WORK/wrk.out" >&2; die "wrk failed"; }
# Requests wrk abandoned at the end may still be stored: give them a moment.
sleep 1
read -r _ dur_us requests sent p50_us p90_us p99_us max_us < <(
    sed -n 's/^INGEST duration_us=\([0-9]*\) requests=\([0-9]*\) sent=\([0-9]*\) p50_us=\([0-9]*\) p90_us=\([0-9]*\) p99_us=\([0-9]*\) max_us=\([0-9]*\)$/x \1 \2 \3 \4 \5 \6 \7/p' "$WORK/wrk.out")
[ -n "${dur_us:-}" ] || { cat "$WORK/wrk.out" >&2; die "no summary from $LUA in wrk's output"; }
ERRORS="$(sed -n 's/^INGEST errors //p' "$WORK/wrk.out")"
A202="$(sed -n 's/^INGEST status=202 count=\([0-9]*\)$/\1/p' "$WORK/wrk.out")"
A202="${A202:-0}"
NON202="$(awk -F'[= ]' '/^INGEST status=/ && $3 != 202 {s += $5} END {print s + 0}' "$WORK/wrk.out")"
NON202_BY="$(awk -F'[= ]' '/^INGEST status=/ && $3 != 202 {printf "%s%s x%s", sep, $3, $5; sep = ", "}' "$WORK/wrk.out")"
SOCKET_ERRORS="$(awk '{for (i = 1; i <= NF; i++) {split($i, kv, "="); s += kv[2]}} END {print s + 0}' <<<"$ERRORS")"
WRK_RPS="$(awk '/^Requests\/sec/ {print $2}' "$WORK/wrk.out")"
A_SECONDS="$(calc "round($dur_us / 1e6, 2)")"
A_RATE="$(calc "round($A202 / ($dur_us / 1e6), 1)")"
ms() { calc "round($1 / 1000, 2)"; }
read -r A_ROWS A_DISTINCT < <(inbox_rows)
read -r A_PENDING A_DONE A_DEAD < <(inbox)
A_INBOX=$((A_PENDING + A_DONE + A_DEAD))
# The probe is one entry more than wrk's requests.
A_ROWS=$((A_ROWS - 1)) A_DISTINCT=$((A_DISTINCT - 1)) A_INBOX=$((A_INBOX - 1))

printf 'accepted (202):       %d in %s s = %s webhooks/s   (wrk: %s req/s, %d requests completed, %d sent)\n' \
    "$A202" "$A_SECONDS" "$A_RATE" "$WRK_RPS" "$requests" "$sent"
printf 'latency to answer:    p50 %s ms   p90 %s ms   p99 %s ms   max %s ms\n' \
    "$(ms "$p50_us")" "$(ms "$p90_us")" "$(ms "$p99_us")" "$(ms "$max_us")"
printf 'non-202 answers:      %d%s   socket errors: %s (%s)\n' "$NON202" \
    "${NON202_BY:+ ($NON202_BY)}" "$SOCKET_ERRORS" "$ERRORS"
printf 'inbox:                %d entries, %d distinct event ids (GET /api/stats: %d; pending %d, done %d, dead %d)\n' \
    "$A_ROWS" "$A_DISTINCT" "$A_INBOX" "$A_PENDING" "$A_DONE" "$A_DEAD"
# Every 202 is stored (none lost); nothing beyond what was sent (at most the requests in
# flight when wrk stopped); one entry per event id (no duplicate).
A_INFLIGHT=$((sent - requests))
if [ "$A_ROWS" -ge "$A202" ] && [ "$A_ROWS" -le $((A202 + A_INFLIGHT)) ] &&
    [ "$A_DISTINCT" = "$A_ROWS" ] && [ "$A_INBOX" = "$A_ROWS" ]; then
    A_LOSS=PASS
else
    A_LOSS=MISS
fi
printf 'inbox check:          202s %d <= entries %d <= 202s + in flight at stop %d; distinct ids %d: %s\n' \
    "$A202" "$A_ROWS" "$((A202 + A_INFLIGHT))" "$A_DISTINCT" "$([ "$A_LOSS" = PASS ] && echo ok || echo MISMATCH)"

A_APPLY=""
if [ "$PHASE_A_WORKER" = 1 ]; then
    say "phase A: waiting (up to $MAX_WAIT s) until the worker has applied all $((A_ROWS + 1)) entries"
    wait_drained $((A_ROWS + 1)) "$A_T0" "$A_COL"
    A_ITEMS=$((ITEMS - 1))
    A_APPLY="$(calc "round($VISIBLE_AT - $A_T0, 1)")"
    printf 'applied:              %d items on Radicale %s s after the load began (done %d, dead %d)\n' \
        "$A_ITEMS" "$A_APPLY" "$DONE" "$DEAD"
    if [ "$A_ITEMS" != "$A_ROWS" ] || [ "$DEAD" != 0 ]; then A_LOSS=MISS; fi
fi
stop_serve
A_RSS="$SERVE_RSS"
printf 'calport serve peak RSS (phase A): %s kB\n' "$A_RSS"

# ---- phase B: apply --------------------------------------------------------------------------

B_COL="/$DAV_USER/bench-apply/"
mkcalendar "$B_COL"
start_serve apply true
make_source "$B_COL"
URL="$BASE/api/webhook/event/created"
cat >"$WORK/send.sh" <<'SH'
# send.sh N: one webhook for event EVB-N; prints the status.
n="$1"
day=$((n % 28 + 1))
hour=$((8 + n % 10))
printf -v body '{"id":"EVB-%d","iCalUId":"UID-EVB-%d","subject":"Bench %d","start":{"dateTime":"2027-01-%02dT%02d:00:00.0000000","timeZone":"W. Europe Standard Time"},"end":{"dateTime":"2027-01-%02dT%02d:30:00.0000000","timeZone":"W. Europe Standard Time"},"lastModifiedDateTime":"2026-12-02T10:00:00Z"}' \
    "$n" "$n" "$n" "$day" "$hour" "$day" "$hour"
curl -s --max-time 30 -o /dev/null -w '%{http_code}\n' -H 'X-Calendar-Source: bench' \
    -H "X-API-Key: $BENCH_SOURCE_KEY" -H 'Content-Type: application/json' \
    --data-binary "$body" "$BENCH_URL" || echo "curl-$?"
SH

say "phase B (apply): $APPLY_COUNT webhooks from $SENDERS curls, the worker applying into $B_COL"
B_T0="$(now)"
seq 1 "$APPLY_COUNT" | BENCH_SOURCE_KEY="$SOURCE_KEY" BENCH_URL="$URL" \
    timeout --kill-after=10 "$MAX_WAIT" xargs -P "$SENDERS" -n 1 bash "$WORK/send.sh" >"$WORK/send.codes"
B_SENT_AT="$(now)"
B202="$(grep -c '^202$' "$WORK/send.codes" || true)"
B_NON202=$((APPLY_COUNT - B202))
B_SEND_SECONDS="$(calc "round($B_SENT_AT - $B_T0, 2)")"
printf 'sent:                 %d webhooks, %d answered 202 in %s s%s\n' "$APPLY_COUNT" "$B202" \
    "$B_SEND_SECONDS" "$([ "$B_NON202" = 0 ] || echo " (others: $(grep -v '^202$' "$WORK/send.codes" | sort | uniq -c | tr -s ' \n' ' '))")"
wait_drained "$B202" "$B_T0" "$B_COL"
B_ITEMS="$ITEMS"
B_DRAIN_SECONDS="$(calc "round(${DRAINED_AT:-$VISIBLE_AT} - $B_T0, 2)")"
B_SECONDS="$(calc "round($VISIBLE_AT - $B_T0, 2)")"
B_RATE="$(calc "round($B_ITEMS / ($VISIBLE_AT - $B_T0), 1)")"
B_DECISIONS="$(api "$BASE/api/stats" | json '", ".join(f"{k} {v}" for k, v in sorted(d["ingest"]["decisions"].items())) or "none"')"
read -r B_ROWS B_DISTINCT < <(inbox_rows)
B_BYTES="$(curl -sS --max-time 60 -u "$RAD_AUTH" -X REPORT -H 'Depth: 1' -H 'Content-Type: application/xml' \
    --data-binary '<?xml version="1.0"?><C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-data/></D:prop><C:filter><C:comp-filter name="VCALENDAR"/></C:filter></C:calendar-query>' \
    "$RAD$B_COL" | "$PY" -c 'import sys, xml.etree.ElementTree as ET
bodies = [e.text or "" for e in ET.parse(sys.stdin).getroot().iter("{urn:ietf:params:xml:ns:caldav}calendar-data")]
print(sum(len(b.replace("\r\n", "\n").replace("\n", "\r\n").encode()) for b in bodies) // max(len(bodies), 1))')" || B_BYTES="?"
printf 'inbox:                %d entries, %d distinct event ids; pending %d, done %d, dead %d; decisions: %s\n' \
    "$B_ROWS" "$B_DISTINCT" "$PENDING" "$DONE" "$DEAD" "$B_DECISIONS"
printf 'on Radicale:          %d items (%s bytes each as Radicale serves them)\n' "$B_ITEMS" "$B_BYTES"
printf 'apply:                first send -> inbox drained %s s, -> last item visible %s s = %s items/s\n' \
    "$B_DRAIN_SECONDS" "$B_SECONDS" "$B_RATE"
B_RATIO="$(calc "round($B_RATE / $RAW_RATE, 2)")"
printf 'vs Radicale raw PUT:  %s items/s / %s PUT/s = %s of the raw rate\n' "$B_RATE" "$RAW_RATE" "$B_RATIO"
if [ "$B_NON202" = 0 ] && [ "$B_ROWS" = "$B202" ] && [ "$B_DISTINCT" = "$B202" ] &&
    [ "$B_ITEMS" = "$B202" ] && [ "$DONE" = "$B202" ] && [ "$DEAD" = 0 ] && [ "$PENDING" = 0 ]; then
    B_LOSS=PASS
else
    B_LOSS=MISS
fi
stop_serve
B_RSS="$SERVE_RSS"
printf 'calport serve peak RSS (phase B): %s kB\n' "$B_RSS"

# ---- summary ---------------------------------------------------------------------------------

verdict() { if [ "$1" = PASS ]; then echo PASS; else echo MISS; fi; }
RATE_OK="$(calc "'PASS' if $A_RATE >= $TARGET_RATE else 'MISS'")"
if [ "$A_LOSS" = PASS ] && [ "$B_LOSS" = PASS ]; then LOSS_OK=PASS; else LOSS_OK=MISS; fi
cat <<EOF

==== webhook ingest: DB=$DB, $(nproc) cores, wrk -t$THREADS -c$CONNECTIONS -d$DURATION ====
phase A (accept, worker $A_WORKER)
  accepted webhooks/s      $A_RATE  ($A202 x 202 in $A_SECONDS s)
  latency to 202           p50 $(ms "$p50_us") ms, p99 $(ms "$p99_us") ms
  non-202 answers          $NON202$([ "$SOCKET_ERRORS" = 0 ] || echo " (+ $SOCKET_ERRORS socket errors)")
  inbox entries            $A_ROWS ($A_DISTINCT distinct ids; 202s $A202, in flight at stop <= $A_INFLIGHT)$([ -z "$A_APPLY" ] || echo "
  all on Radicale after    $A_APPLY s ($A_ITEMS items)")
  peak RSS                 $A_RSS kB
phase B (apply, $APPLY_COUNT webhooks, worker on)
  last item visible after  $B_SECONDS s  ($B_ITEMS of $B202 accepted on Radicale; done $DONE, dead $DEAD)
  apply rate               $B_RATE items/s  vs Radicale raw PUT $RAW_RATE PUT/s  (ratio $B_RATIO)
  peak RSS                 $B_RSS kB
targets
  >= $TARGET_RATE accepted webhooks/s      $(verdict "$RATE_OK")  ($A_RATE/s)
  none lost or duplicated           $(verdict "$LOSS_OK")  (phase A inbox $A_LOSS, phase B end to end $B_LOSS)
EOF
[ "$LOSS_OK" = PASS ] || exit 2
