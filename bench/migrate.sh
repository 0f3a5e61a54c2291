#!/usr/bin/env bash
# Benchmark of `calport migrate` against real servers on 127.0.0.1 (a script, not a test).
#
#   bench/migrate.sh                                       # 10 000 events + 5 000 contacts
#   EVENTS=300 CONTACTS=150 bench/migrate.sh               # a few minutes
#   DEST=sogo EVENTS=1000 CONTACTS=500 bench/migrate.sh    # SOGo 5.8 (Mailcow), ~5 min
#
# Knobs (environment variables):
#   EVENTS=10000     generated events (one UID each; recurring ones carry overrides)
#   CONTACTS=5000    generated vCards (3.0 and 4.0, ~20 % with a PNG PHOTO of 3-6 KB)
#   CONCURRENCY=8    parallel requests: calport --concurrency and the raw-PUT threads
#   DEST=xandikos    destination: xandikos (PyPI, started here), or one of the shared servers
#                    sogo | sabredav | davical (../shared/servers/<name>.sh, Debian packages)
#   NOVERIFY_RUN=1   0: skip the `--no-verify` migration (and the verification overhead)
#   REPEAT=1         verify / --no-verify pairs (each into fresh destinations, the order
#                    alternating from pair to pair); >1 reports the median overhead too
#   SHARED_WAIT=1800 seconds to wait for a shared server that someone else is using
#   KEEP=0           1: keep the work directory (servers' storage, logs, calport state)
#   SEED=1           generator seed (same seed, same bytes)
#   CALPORT=...      calport binary (default: target/release/calport, rebuilt when older
#                    than the sources); copied into the work directory before the runs
#
# Steps: generate and validate the data; start Radicale (source) and the destination;
# seed the source with one whole-collection PUT per collection; measure the raw ingest rate
# of the destination (every item PUT once, If-None-Match: *, CONCURRENCY threads, into empty
# collections) and inventory what it stored from those original bytes (untimed: '(null)'
# bodies, mojibake, to check calport's workarounds and verdicts against); run
# `calport migrate --json` (read-back verification on, the default) under
# /usr/bin/time -v into a fresh destination; run it again (must write nothing); count what
# arrived; run `calport migrate --json --no-verify` into another fresh destination (and once
# more with verification, to see whether a later run notices what the unverified one left);
# print the figures and write them to bench/out/<timestamp>-<dest>.json.
#
# Every phase writes into a destination that holds none of the bench data: for Xandikos a
# new instance each; for the shared servers the raw PUT goes into new collections of alice,
# calport's verified run into bob's account (after the raw collections are DELETEd), the
# --no-verify run into alice's account (after the collections of bob's run are DELETEd), and
# so on alternating, so that no calport run pays for items another phase left in the
# server's tables.
#
# Xandikos (and Radicale) ingest slowly and slow down as a collection grows (~30 items/s when
# empty, < 1/s at 10 000): the full-size run takes 1.5-2 h per pass. The shared servers
# ingest 40-140 items/s (EVENTS=1000 CONTACTS=500 takes a few minutes per server).
# Radicale stores items through vobject, which cuts vCard 4 `PHOTO:data:...;base64,...`
# values at the first comma, so only the vCard 3.0 photos reach calport intact.
#
# Shared servers listen on FIXED ports and crates/calport-testkit (src/shared.rs) may use the
# same ones concurrently, so this script takes the same locks: an exclusive flock on
# <run>/<name>.calport.lock (fd 9) for the whole run, and <run>/calport-start.lock (fd 8)
# while `<name>.sh start` runs (serialises first-time apt installs); it waits (bounded by
# SHARED_WAIT) while an instance started by someone else is up, stops an instance left by a
# calport process that died (<run>/<name>.calport-owner, as the testkit does), and always
# runs `<name>.sh stop` on exit for the instance it started. <run> is $DAV_SERVERS_RUN, else
# ${TMPDIR:-/tmp}/dav-servers-run (as the scripts compute it).
#
# Adding a destination: write two functions.
#   dest_<kind>_start         starts the server(s); sets
#       RAW_CAL_URL RAW_BOOK_URL  empty calendar / address book for the raw PUT measurement
#       RAW_USER RAW_PASSWORD     their credentials
#       RAW_BASE RAW_HOMES        origin and home-set paths holding them (what the server
#                                 stored from the original bytes is inventoried: damage check)
#   dest_<kind>_target LABEL [PREV_RUN_JSON]
#                             a destination holding none of the bench data for calport's
#                             next first run (LABEL: unique, for directory names;
#                             PREV_RUN_JSON: the --json summary of the first run into the
#                             previous target, absent on the first call: its collections may
#                             be deleted); sets
#       DEST_URL                  calport's destination (any URL discovery starts from)
#       DEST_BASE DEST_HOMES      origin and home-set paths for the inventory of what arrived
#       DEST_USER DEST_PASSWORD   credentials for both
# and append any PIDs it starts to SERVER_PIDS (or stop them in cleanup, as the shared ones).
set -euo pipefail

EVENTS="${EVENTS:-10000}"
CONTACTS="${CONTACTS:-5000}"
CONCURRENCY="${CONCURRENCY:-8}"
DEST="${DEST:-xandikos}"
NOVERIFY_RUN="${NOVERIFY_RUN:-1}"
REPEAT="${REPEAT:-1}"
SHARED_WAIT="${SHARED_WAIT:-1800}"
KEEP="${KEEP:-0}"
SEED="${SEED:-1}"

# shellcheck source=bench/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

for knob in EVENTS CONTACTS CONCURRENCY SEED SHARED_WAIT REPEAT; do
    [[ "${!knob}" =~ ^[0-9]+$ ]] || die "$knob must be a non-negative integer, got '${!knob}'"
done
if [ "$CONCURRENCY" -lt 1 ] || [ "$CONCURRENCY" -gt 64 ]; then die "CONCURRENCY must be 1-64"; fi
[ $((EVENTS + CONTACTS)) -ge 1 ] || die "nothing to migrate: EVENTS=0 and CONTACTS=0"
case "$NOVERIFY_RUN" in 0 | 1) ;; *) die "NOVERIFY_RUN must be 0 or 1" ;; esac
if [ "$REPEAT" -lt 1 ] || [ "$REPEAT" -gt 20 ]; then die "REPEAT must be 1-20"; fi
if [ "$REPEAT" -gt 1 ] && [ "$NOVERIFY_RUN" = 0 ]; then die "REPEAT>1 needs NOVERIFY_RUN=1"; fi
case "$DEST" in
xandikos | sogo | sabredav | davical) ;;
radicale) die "DEST=radicale is not wired up yet (write dest_radicale_start/_target in $0)" ;;
*) die "unknown DEST=$DEST (known: xandikos, sogo, sabredav, davical)" ;;
esac

STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
OUT_DIR="$BENCH_LIB_DIR/out"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/calport-bench.XXXXXX")"

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    shared_stop
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
    RAW_USER="$DAV_USER"
    RAW_PASSWORD="$DAV_PASSWORD"
    RAW_BASE="$STARTED_URL"
    RAW_HOMES=(/user/calendars/ /user/contacts/)
}

dest_xandikos_target() { # label: a new instance each (the previous one is stopped)
    if [ -n "${XANDIKOS_TARGET_PID:-}" ]; then stop_pid "$XANDIKOS_TARGET_PID"; fi
    start_server xandikos "$WORK/dest-$1-xandikos"
    XANDIKOS_TARGET_PID="$STARTED_PID"
    DEST_BASE="$STARTED_URL"
    DEST_URL="$STARTED_URL/"
    DEST_HOMES=(/user/calendars/ /user/contacts/)
    DEST_USER="$DAV_USER"
    DEST_PASSWORD="$DAV_PASSWORD"
}

# -- the shared servers (../shared/servers/<name>.sh) --

SHARED_DIR="${CALPORT_SHARED_DIR:-$ROOT/../shared}/servers"
SHARED_RUN="${DAV_SERVERS_RUN:-${TMPDIR:-/tmp}/dav-servers-run}"
SHARED_NAME=""    # set once we hold <name>.calport.lock (fd 9)
SHARED_STARTED="" # set once `<name>.sh start` succeeded for us (we must stop it)

# shared_env_get KEY: a value from the env file the script wrote (KEY=VALUE, maybe quoted).
shared_env_get() {
    local v
    v="$(sed -n "s/^$1=//p" "$SHARED_RUN/$SHARED_NAME.env" | tail -n 1)"
    v="${v%\"}"
    v="${v#\"}"
    [ -n "$v" ] || die "$1 is missing from $SHARED_RUN/$SHARED_NAME.env"
    printf '%s' "$v"
}

# Whether the running instance was left by a calport process that died: the owner file
# holds its PID and the very env text (crates/calport-testkit/src/shared.rs does the same).
shared_stale_own_instance() {
    local owner="$SHARED_RUN/$SHARED_NAME.calport-owner" env="$SHARED_RUN/$SHARED_NAME.env" pid
    [ -s "$owner" ] || return 1
    pid="$(head -n 1 "$owner")"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    [ ! -e "/proc/$pid" ] || return 1
    tail -n +2 "$owner" | cmp -s - "$env"
}

# shared_script ACTION LOG: runs `<name>.sh ACTION` without our lock fds (the servers it
# starts keep running and must not hold our flocks), bounded in time.
shared_script() {
    local action="$1" log="$2" limit=900
    [ "$action" = stop ] && limit=180
    DAV_SERVERS_RUN="$SHARED_RUN" timeout --kill-after=10 "$limit" \
        bash "$SHARED_DIR/$SHARED_NAME.sh" "$action" </dev/null >"$log" 2>&1 8>&- 9>&-
}

# shared_start NAME: lock, wait for other users, start, read the env file.
shared_start() {
    local name="$1"
    [ -f "$SHARED_DIR/$name.sh" ] || die "$SHARED_DIR/$name.sh is missing (set CALPORT_SHARED_DIR)"
    command -v flock >/dev/null || die "flock missing (util-linux)"
    mkdir -p "$SHARED_RUN"
    local lock="$SHARED_RUN/$name.calport.lock" env="$SHARED_RUN/$name.env"
    local owner="$SHARED_RUN/$name.calport-owner"
    exec 9<>"$lock"
    if ! flock -n 9; then
        echo "waiting up to $SHARED_WAIT s for $lock (held by $(head -c 200 "$lock"))" >&2
        flock -w "$SHARED_WAIT" 9 || die "$lock stayed locked for $SHARED_WAIT s"
    fi
    SHARED_NAME="$name"
    printf 'pid %s (bench/migrate.sh)\n' "$$" >"$lock" # a note for the next waiter
    local deadline=$((SECONDS + SHARED_WAIT)) announced=0 rc log="$WORK/$name-start.log"
    while :; do
        if [ -s "$env" ]; then
            if shared_stale_own_instance; then
                echo "$name was left running by a calport process that died; stopping it" >&2
                shared_script stop "$WORK/$name-stale-stop.log" ||
                    { cat "$WORK/$name-stale-stop.log" >&2; die "$name.sh stop failed"; }
                rm -f "$owner"
                continue
            fi
            if [ "$announced" = 0 ]; then
                echo "$name is running for someone else ($env exists; see" \
                    "$SHARED_DIR/$name.sh status); waiting up to $SHARED_WAIT s" >&2
                announced=1
            fi
            [ "$SECONDS" -lt "$deadline" ] || die "$name stayed busy for $SHARED_WAIT s ($env)"
            sleep 2
            continue
        fi
        rm -f "$owner"
        exec 8<>"$SHARED_RUN/calport-start.lock"
        flock -w 900 8 || die "$SHARED_RUN/calport-start.lock stayed locked for 900 s"
        printf 'pid %s (bench/migrate.sh)\n' "$$" >"$SHARED_RUN/calport-start.lock"
        say "starting $name: $SHARED_DIR/$name.sh start (installs Debian packages the first time)"
        rc=0
        shared_script start "$log" || rc=$?
        exec 8>&-
        if [ "$rc" = 0 ]; then
            [ -s "$env" ] || { cat "$log" >&2; die "$name.sh start wrote no $env"; }
            SHARED_STARTED="$name"
            { echo "$$"; cat "$env"; } >"$owner"
            tail -n 3 "$log" >&2
            break
        fi
        if grep -qE "already started|in use" "$log" && [ "$SECONDS" -lt "$deadline" ]; then
            if [ "$announced" = 0 ]; then
                echo "$name cannot start yet (someone else has it or its port):" >&2
                tail -n 3 "$log" >&2
                announced=1
            fi
            sleep 2
            continue
        fi
        echo "--- $name.sh start exited $rc:" >&2
        tail -n 40 "$log" >&2
        # Nothing of anyone else's runs (we hold the lock and there was no env file): clean up.
        SHARED_STARTED="$name"
        die "$name did not start"
    done
}

# shared_stop: `<name>.sh stop` for the instance we started, then release the lock.
shared_stop() {
    [ -n "$SHARED_NAME" ] || return 0
    if [ -n "$SHARED_STARTED" ]; then
        echo "stopping $SHARED_STARTED ($SHARED_DIR/$SHARED_STARTED.sh stop)" >&2
        if ! shared_script stop "$WORK/$SHARED_STARTED-stop.log"; then
            echo "warning: $SHARED_STARTED.sh stop failed:" >&2
            tail -n 20 "$WORK/$SHARED_STARTED-stop.log" >&2
        fi
        rm -f "$SHARED_RUN/$SHARED_STARTED.calport-owner"
        SHARED_STARTED=""
    fi
    exec 9>&-
    SHARED_NAME=""
}

# parent of a collection URL, with a trailing slash
url_parent() {
    local u="${1%/}"
    printf '%s/' "${u%/*}"
}

dest_shared_start() { # name ENV_PREFIX
    local name="$1" p="$2"
    shared_start "$name"
    SHARED_URL="$(shared_env_get "${p}_URL")"
    SHARED_BASE="$(printf '%s' "$SHARED_URL" | sed -E 's#^(https?://[^/]+).*#\1#')"
    SHARED_USER1="$(shared_env_get "${p}_USER")"
    SHARED_PASS1="$(shared_env_get "${p}_PASS")"
    SHARED_USER2="$(shared_env_get "${p}_USER2")"
    SHARED_PASS2="$(shared_env_get "${p}_PASS2")"
    # Home sets: the parents of each user's default collections (SOGo .../alice/Calendar/,
    # SabreDAV /calendars/alice/, DAViCal /caldav.php/alice/).
    SHARED_CALHOME1="$(url_parent "$(shared_env_get "${p}_CAL")")"
    SHARED_BOOKHOME1="$(url_parent "$(shared_env_get "${p}_BOOK")")"
    SHARED_CALHOME2="$(url_parent "$(shared_env_get "${p}_CAL2")")"
    SHARED_BOOKHOME2="$(url_parent "$(shared_env_get "${p}_BOOK2")")"
    davbench wait --url "$(shared_env_get "${p}_CAL")" --user "$SHARED_USER1" \
        --password "$SHARED_PASS1" --timeout 60 --max-probes 600 >/dev/null
    echo "$name: $SHARED_URL (raw PUT as $SHARED_USER1, calport into $SHARED_USER2, then" \
        "--no-verify into $SHARED_USER1)" >&2
    RAW_CAL_URL="${SHARED_CALHOME1}bench-raw-events/"
    RAW_BOOK_URL="${SHARED_BOOKHOME1}bench-raw-contacts/"
    RAW_USER="$SHARED_USER1"
    RAW_PASSWORD="$SHARED_PASS1"
    RAW_BASE="$SHARED_BASE"
    RAW_HOMES=("${SHARED_CALHOME1#"$SHARED_BASE"}")
    [ "$SHARED_BOOKHOME1" = "$SHARED_CALHOME1" ] || RAW_HOMES+=("${SHARED_BOOKHOME1#"$SHARED_BASE"}")
    # SOGo ignores the MKCOL displayname (the name is the URL segment); it does not matter here.
    if [ "$EVENTS" -gt 0 ]; then
        davbench mkcol --url "$RAW_CAL_URL" --kind calendar --name "Bench raw events" \
            --components VEVENT --user "$RAW_USER" --password "$RAW_PASSWORD" >/dev/null
    fi
    if [ "$CONTACTS" -gt 0 ]; then
        davbench mkcol --url "$RAW_BOOK_URL" --kind addressbook --name "Bench raw contacts" \
            --user "$RAW_USER" --password "$RAW_PASSWORD" >/dev/null
    fi
}

dest_shared_target() { # label [previous target's first run summary]
    local prev="${2:-}"
    if [ -z "$prev" ]; then
        # The raw PUT's collections go first (no later phase pays for their rows).
        local -a urls=()
        [ "$EVENTS" -eq 0 ] || urls+=(--url "$RAW_CAL_URL")
        [ "$CONTACTS" -eq 0 ] || urls+=(--url "$RAW_BOOK_URL")
        say "deleting the raw PUT's collections"
        davbench delete "${urls[@]}" --user "$RAW_USER" --password "$RAW_PASSWORD" >/dev/null
        SHARED_NEXT=2
    else
        say "deleting the collections calport created for $DEST_USER"
        davbench delete --report "$prev" --base "$SHARED_BASE" \
            --user "$DEST_USER" --password "$DEST_PASSWORD" >/dev/null
    fi
    # Alternate between the two accounts: bob first (alice held the raw collections).
    if [ "$SHARED_NEXT" = 2 ]; then
        DEST_USER="$SHARED_USER2"
        DEST_PASSWORD="$SHARED_PASS2"
        DEST_HOMES=("${SHARED_CALHOME2#"$SHARED_BASE"}" "${SHARED_BOOKHOME2#"$SHARED_BASE"}")
        SHARED_NEXT=1
    else
        DEST_USER="$SHARED_USER1"
        DEST_PASSWORD="$SHARED_PASS1"
        DEST_HOMES=("${SHARED_CALHOME1#"$SHARED_BASE"}" "${SHARED_BOOKHOME1#"$SHARED_BASE"}")
        SHARED_NEXT=2
    fi
    DEST_BASE="$SHARED_BASE"
    DEST_URL="$SHARED_URL"
    # Identical home sets (DAViCal: both are the principal): inventory it once.
    [ "${DEST_HOMES[0]}" != "${DEST_HOMES[1]}" ] || DEST_HOMES=("${DEST_HOMES[0]}")
}

dest_sogo_start() { dest_shared_start sogo SOGO; }
dest_sogo_target() { dest_shared_target "$@"; }
dest_sabredav_start() { dest_shared_start sabredav SABREDAV; }
dest_sabredav_target() { dest_shared_target "$@"; }
dest_davical_start() { dest_shared_start davical DAVICAL; }
dest_davical_target() { dest_shared_target "$@"; }

# ---- tools -----------------------------------------------------------------------------------

ensure_venv
if [ -n "${CALPORT:-}" ]; then
    [ -x "$CALPORT" ] || die "CALPORT=$CALPORT is not executable"
elif [ -x "$ROOT/target/release/calport" ] && [ -z "$(find "$ROOT/Cargo.lock" "$ROOT/crates" \
    -newer "$ROOT/target/release/calport" \( -name '*.rs' -o -name 'Cargo.*' \) -print -quit)" ]; then
    CALPORT="$ROOT/target/release/calport"
else
    build_calport
fi
# A snapshot: a rebuild by someone else during the bench must not change the binary measured.
cp "$CALPORT" "$WORK/calport"
CALPORT_ORIG="$CALPORT"
CALPORT="$WORK/calport"
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
    "NOVERIFY_RUN=$NOVERIFY_RUN REPEAT=$REPEAT SEED=$SEED; work dir $WORK" >&2
echo "calport: $CALPORT_ORIG ($("$CALPORT" --version 2>/dev/null || echo '?'))" >&2

# The machine may be shared: the load around the run goes into the report.
cat /proc/loadavg >"$WORK/loadavg.start" 2>/dev/null || true

# ---- 1. data ---------------------------------------------------------------------------------

say "generating $EVENTS events and $CONTACTS contacts (seed $SEED)"
davbench gen --events "$EVENTS" --contacts "$CONTACTS" --seed "$SEED" \
    --calendar-name "Bench events" --out "$WORK/data" >"$WORK/manifest.out"
"$PY" -c 'import json,sys; m=json.load(open(sys.argv[1])); print("kinds:", m["kinds"], "photos:", m["photos"], "bytes:", m["bytes"])' \
    "$WORK/data/manifest.json" >&2
davbench validate --dir "$WORK/data" >&2

# ---- 2. servers and source -------------------------------------------------------------------

say "starting Radicale (source) and $DEST (raw PUT target, calport destinations)"
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
    --dst-user "$RAW_USER" --dst-password "$RAW_PASSWORD" \
    --concurrency "$CONCURRENCY" >"$WORK/raw.json"
say "what $DEST stored from the original bytes (untimed)"
davbench inventory --base "$RAW_BASE" "${RAW_HOMES[@]/#/--home=}" \
    --user "$RAW_USER" --password "$RAW_PASSWORD" >"$WORK/inventory-raw.json"

# ---- 4. calport --------------------------------------------------------------------------------

export CALPORT_BENCH_SRC_PASSWORD="$DAV_PASSWORD"

# use_target LABEL [PREV_RUN_JSON]: a fresh destination, its migrate.toml and state database.
use_target() {
    "dest_${DEST}_target" "$@"
    TOML="$WORK/migrate-$1.toml"
    STATE="$WORK/state-$1.sqlite"
    write_migrate_toml "$TOML" "$SRC_BASE/" "$DEST_URL" "$CONCURRENCY" "$DEST_USER"
    export CALPORT_BENCH_DST_PASSWORD="$DEST_PASSWORD"
    echo "calport destination ($1): $DEST_URL as $DEST_USER" >&2
}

run_calport() { # n, then extra calport arguments
    local n="$1" rc=0
    shift
    timed "$WORK/run$n.time" "$CALPORT" migrate --config "$TOML" --state "$STATE" \
        --json --concurrency "$CONCURRENCY" "$@" >"$WORK/run$n.json" \
        2> >(tee "$WORK/run$n.log" >&2) || rc=$?
    echo "$rc" >"$WORK/run$n.rc"
    # Let tee finish writing the log.
    sleep 0.2
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 2 ]; then
        echo "calport run $n exited $rc; stdout:" >&2
        head -c 2000 "$WORK/run$n.json" >&2 || true
    fi
}

inventory() { # output file
    davbench inventory --base "$DEST_BASE" "${DEST_HOMES[@]/#/--home=}" \
        --user "$DEST_USER" --password "$DEST_PASSWORD" >"$1"
}

use_target verify
# Radicale builds its sync-token history on the first sync-collection REPORT of a collection
# (seconds for 1000s of items): a first, untimed dry run pays for that, so that the timed
# runs all find the source in the same state.
say "warm-up (untimed): calport migrate --dry-run"
warmup_rc=0
"$CALPORT" migrate --config "$TOML" --state "$WORK/state-warmup.sqlite" --dry-run --json \
    --concurrency "$CONCURRENCY" >"$WORK/warmup.json" 2>"$WORK/warmup.log" || warmup_rc=$?
if [ "$warmup_rc" != 0 ] && [ "$warmup_rc" != 2 ]; then
    tail -n 20 "$WORK/warmup.log" >&2
    die "the warm-up dry run exited $warmup_rc"
fi
say "calport migrate (read-back verification on; $CONCURRENCY parallel requests)"
run_calport 1
say "calport migrate again (nothing changed: must write nothing)"
run_calport 2
say "inventory of the destination"
inventory "$WORK/inventory.json"
PREV="$WORK/run1.json"

if [ "$NOVERIFY_RUN" = 1 ]; then
    use_target noverify "$PREV"
    say "calport migrate --no-verify (into a fresh destination)"
    run_calport 3 --no-verify
    say "calport migrate again, verification on (what did the unverified run leave?)"
    run_calport 4
    say "inventory of the --no-verify destination"
    inventory "$WORK/inventory-noverify.json"
    PREV="$WORK/run3.json"
fi

# More pairs for the overhead's spread; the order alternates (pair 2: --no-verify first).
for ((pair = 2; pair <= REPEAT; pair++)); do
    if [ $((pair % 2)) = 0 ]; then order=(nv v); else order=(v nv); fi
    for mode in "${order[@]}"; do
        use_target "$mode$pair" "$PREV"
        say "pair $pair of $REPEAT: calport migrate$([ "$mode" = v ] || echo ' --no-verify')"
        if [ "$mode" = v ]; then run_calport "-v$pair"; else run_calport "-nv$pair" --no-verify; fi
        PREV="$WORK/run-$mode$pair.json"
    done
done

# ---- 5. figures ------------------------------------------------------------------------------

cat /proc/loadavg >"$WORK/loadavg.end" 2>/dev/null || true
mkdir -p "$OUT_DIR"
REPORT="$OUT_DIR/$STAMP-$DEST.json"
davbench figures --dir "$WORK" --out "$REPORT" --dest "$DEST" \
    --concurrency "$CONCURRENCY" --timestamp "$STAMP" >/dev/null
cp "$WORK/run1.json" "$OUT_DIR/$STAMP-$DEST.run1.json" 2>/dev/null || true
[ "$NOVERIFY_RUN" = 0 ] || cp "$WORK/run3.json" "$OUT_DIR/$STAMP-$DEST.run3-noverify.json" 2>/dev/null || true

rc1="$(cat "$WORK/run1.rc")"
writes2="$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["noop"]["destination_writes"])' "$REPORT")"
failed=0
if [ "$rc1" -ne 0 ]; then
    echo "calport's first run exited $rc1 (see $OUT_DIR/$STAMP-$DEST.run1.json)" >&2
    failed=1
fi
if [ "$writes2" != 0 ]; then
    echo "the no-op re-run wrote $writes2 times to the destination (expected 0)" >&2
    failed=1
fi
if [ "$NOVERIFY_RUN" = 1 ] && [ "$(cat "$WORK/run3.rc")" -ne 0 ]; then
    echo "calport --no-verify exited $(cat "$WORK/run3.rc") (see $OUT_DIR/$STAMP-$DEST.run3-noverify.json)" >&2
    failed=1
fi
if [ "$failed" = 1 ]; then
    exit 2
fi
