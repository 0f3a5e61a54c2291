#!/usr/bin/env bash
# Benchmark of `calport migrate` against real servers on 127.0.0.1 (a script, not a test).
#
#   bench/migrate.sh                          # 10 000 events + 5 000 contacts: ~3-4 hours
#   EVENTS=300 CONTACTS=150 bench/migrate.sh  # a few minutes
#
# Knobs (environment variables):
#   EVENTS=10000     generated events (one UID each; recurring ones carry overrides)
#   CONTACTS=5000    generated vCards (3.0 and 4.0, ~20 % with a PNG PHOTO of 3-6 KB)
#   CONCURRENCY=8    parallel requests: calport --concurrency and the raw-PUT threads
#   DEST=xandikos    destination server kind (only xandikos so far; see dest_* below)
#   KEEP=0           1: keep the work directory (servers' storage, logs, calport state)
#   SEED=1           generator seed (same seed, same bytes)
#   CALPORT=...      calport binary (default: target/release/calport, built if missing)
#
# Steps: generate and validate the data; start Radicale (source) and two destination
# instances; seed the source with one whole-collection PUT per collection; measure the raw
# ingest rate of the destination (every item PUT once, If-None-Match: *, CONCURRENCY
# threads); run `calport migrate --json` under /usr/bin/time -v into the second destination
# instance; run it again (must write nothing); count what arrived; print the figures and
# write them to bench/out/<timestamp>.json.
#
# Both servers' ingest is slow and gets slower as a collection grows (~30 items/s when
# empty, < 1/s at 10 000): the full-size run takes 1.5-2 h per pass (raw PUT, then calport).
# Radicale stores items through vobject, which cuts vCard 4 `PHOTO:data:...;base64,...`
# values at the first comma, so only the vCard 3.0 photos reach calport intact.
#
# Adding a destination: write dest_<kind>_start, which must set
#   RAW_CAL_URL RAW_BOOK_URL  empty calendar / address book for the raw PUT measurement
#   DEST_URL                  calport's destination (any URL discovery starts from)
#   DEST_BASE DEST_HOMES      origin and home-set paths for the inventory of what arrived
#   DEST_USER DEST_PASSWORD   credentials for both
# and append any PIDs it starts to SERVER_PIDS (or register its own stop in dest_stop).
# For the shared servers (../shared/servers/{sogo,sabredav,davical}.sh start|stop, env in
# run/<name>.env) the raw PUT can use separate collections on the same instance.
set -euo pipefail

EVENTS="${EVENTS:-10000}"
CONTACTS="${CONTACTS:-5000}"
CONCURRENCY="${CONCURRENCY:-8}"
DEST="${DEST:-xandikos}"
KEEP="${KEEP:-0}"
SEED="${SEED:-1}"

# shellcheck source=bench/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

for knob in EVENTS CONTACTS CONCURRENCY SEED; do
    [[ "${!knob}" =~ ^[0-9]+$ ]] || die "$knob must be a non-negative integer, got '${!knob}'"
done
if [ "$CONCURRENCY" -lt 1 ] || [ "$CONCURRENCY" -gt 64 ]; then die "CONCURRENCY must be 1-64"; fi
[ $((EVENTS + CONTACTS)) -ge 1 ] || die "nothing to migrate: EVENTS=0 and CONTACTS=0"
case "$DEST" in
xandikos) ;;
radicale | sogo | sabredav | davical)
    die "DEST=$DEST is not wired up yet (write dest_${DEST}_start in $0)"
    ;;
*) die "unknown DEST=$DEST (known: xandikos)" ;;
esac

STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
OUT_DIR="$BENCH_LIB_DIR/out"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/calport-bench.XXXXXX")"

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_servers
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

# ---- destinations ----------------------------------------------------------------------------

dest_xandikos_start() {
    start_server xandikos "$WORK/raw-xandikos"
    RAW_CAL_URL="$STARTED_URL/user/calendars/calendar/"
    RAW_BOOK_URL="$STARTED_URL/user/contacts/addressbook/"
    start_server xandikos "$WORK/dest-xandikos"
    DEST_BASE="$STARTED_URL"
    DEST_URL="$STARTED_URL/"
    DEST_HOMES=(/user/calendars/ /user/contacts/)
    DEST_USER="$DAV_USER"
    DEST_PASSWORD="$DAV_PASSWORD"
}

# ---- tools -----------------------------------------------------------------------------------

ensure_venv
if [ -n "${CALPORT:-}" ]; then
    [ -x "$CALPORT" ] || die "CALPORT=$CALPORT is not executable"
elif [ -x "$ROOT/target/release/calport" ]; then
    CALPORT="$ROOT/target/release/calport"
else
    build_calport
fi
TIME_BIN=/usr/bin/time
if ! "$TIME_BIN" -v true >/dev/null 2>&1; then
    echo "GNU time missing: trying apt-get install -y time" >&2
    apt-get install -y time >/dev/null 2>&1 || true
fi
"$TIME_BIN" -v true >/dev/null 2>&1 || TIME_BIN=""

# timed OUT_TIME CMD...: runs CMD, GNU time -v figures to OUT_TIME (peak RSS, wall, CPU).
timed() {
    local out="$1"
    shift
    if [ -n "$TIME_BIN" ]; then
        "$TIME_BIN" -v -o "$out" "$@"
    else
        davbench rusage --out "$out" -- "$@"
    fi
}

echo "calport bench: EVENTS=$EVENTS CONTACTS=$CONTACTS CONCURRENCY=$CONCURRENCY DEST=$DEST" \
    "SEED=$SEED; work dir $WORK" >&2
echo "calport: $CALPORT ($("$CALPORT" --version 2>/dev/null || echo '?'))" >&2

# ---- 1. data ---------------------------------------------------------------------------------

say "generating $EVENTS events and $CONTACTS contacts (seed $SEED)"
davbench gen --events "$EVENTS" --contacts "$CONTACTS" --seed "$SEED" \
    --calendar-name "Bench events" --out "$WORK/data" >"$WORK/manifest.out"
"$PY" -c 'import json,sys; m=json.load(open(sys.argv[1])); print("kinds:", m["kinds"], "photos:", m["photos"], "bytes:", m["bytes"])' \
    "$WORK/data/manifest.json" >&2
davbench validate --dir "$WORK/data" >&2

# ---- 2. servers and source -------------------------------------------------------------------

say "starting Radicale (source) and $DEST (raw PUT target, calport destination)"
start_server radicale "$WORK/source-radicale"
SRC_BASE="$STARTED_URL"
"dest_${DEST}_start"

say "seeding the source: MKCALENDAR / MKCOL + one whole-collection PUT each"
SRC_CAL="$SRC_BASE/alice/bench-events/"
SRC_BOOK="$SRC_BASE/alice/bench-contacts/"
: >"$WORK/seed-parts.jsonl"
pairs=()
if [ "$EVENTS" -gt 0 ]; then
    davbench seed --url "$SRC_CAL" --kind calendar --name "Bench events" --components VEVENT \
        --color "#3a87ad" --file "$WORK/data/events.ics" --expect "$EVENTS" >>"$WORK/seed-parts.jsonl"
    pairs+=(--pair "$SRC_CAL=>$RAW_CAL_URL")
fi
if [ "$CONTACTS" -gt 0 ]; then
    davbench seed --url "$SRC_BOOK" --kind addressbook --name "Bench contacts" \
        --file "$WORK/data/contacts.vcf" --expect "$CONTACTS" >>"$WORK/seed-parts.jsonl"
    pairs+=(--pair "$SRC_BOOK=>$RAW_BOOK_URL")
fi
"$PY" - "$WORK/seed-parts.jsonl" "$WORK/seed.json" <<'PYEOF'
import json, sys
parts = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
total = {"seconds": round(sum(p["seconds"] for p in parts), 3),
         "items": sum(p["items"] for p in parts), "parts": parts}
json.dump(total, open(sys.argv[2], "w"), indent=2)
for p in parts:
    print(f"  {p['collection']}: {p['items']} items, {p['bytes'] / 1e6:.1f} MB in {p['seconds']:.1f} s", file=sys.stderr)
print(f"source seeded in {total['seconds']:.1f} s", file=sys.stderr)
PYEOF

# ---- 3. raw ingest rate of the destination ---------------------------------------------------

say "raw PUT into $DEST: every item once, If-None-Match: *, $CONCURRENCY threads"
davbench raw-put "${pairs[@]}" --card-path /alice/bench-contacts/ \
    --dst-user "$DEST_USER" --dst-password "$DEST_PASSWORD" \
    --concurrency "$CONCURRENCY" >"$WORK/raw.json"

# ---- 4. calport --------------------------------------------------------------------------------

write_migrate_toml "$WORK/migrate.toml" "$SRC_BASE/" "$DEST_URL" "$CONCURRENCY"
export CALPORT_BENCH_SRC_PASSWORD="$DAV_PASSWORD" CALPORT_BENCH_DST_PASSWORD="$DEST_PASSWORD"
STATE="$WORK/state.sqlite"

run_calport() { # n: run number
    local n="$1" rc=0
    timed "$WORK/run$n.time" "$CALPORT" migrate --config "$WORK/migrate.toml" --state "$STATE" \
        --json --concurrency "$CONCURRENCY" >"$WORK/run$n.json" 2> >(tee "$WORK/run$n.log" >&2) ||
        rc=$?
    echo "$rc" >"$WORK/run$n.rc"
    # Let tee finish writing the log.
    sleep 0.2
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 2 ]; then
        echo "calport run $n exited $rc; stdout:" >&2
        head -c 2000 "$WORK/run$n.json" >&2 || true
    fi
}

say "calport migrate (first run, $CONCURRENCY parallel requests)"
run_calport 1
say "calport migrate again (nothing changed: must write nothing)"
run_calport 2

say "inventory of the destination"
davbench inventory --base "$DEST_BASE" "${DEST_HOMES[@]/#/--home=}" \
    --user "$DEST_USER" --password "$DEST_PASSWORD" >"$WORK/inventory.json"

# ---- 5. figures ------------------------------------------------------------------------------

mkdir -p "$OUT_DIR"
davbench figures --dir "$WORK" --out "$OUT_DIR/$STAMP.json" --dest "$DEST" \
    --concurrency "$CONCURRENCY" --timestamp "$STAMP" \
    --rc1 "$(cat "$WORK/run1.rc")" --rc2 "$(cat "$WORK/run2.rc")" >/dev/null
cp "$WORK/run1.json" "$OUT_DIR/$STAMP.run1.json" 2>/dev/null || true

rc1="$(cat "$WORK/run1.rc")"
writes2="$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["noop"]["destination_writes"])' "$OUT_DIR/$STAMP.json")"
if [ "$rc1" -ne 0 ]; then
    echo "calport's first run exited $rc1 (see $OUT_DIR/$STAMP.run1.json)" >&2
    exit 2
fi
if [ "$writes2" != 0 ]; then
    echo "the no-op re-run wrote $writes2 times to the destination (expected 0)" >&2
    exit 2
fi
