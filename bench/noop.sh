#!/usr/bin/env bash
# No-op re-run benchmark at full size (a script, not a test).
#
#   bench/noop.sh                          # 10 000 events + 5 000 contacts (~10-15 min)
#   EVENTS=2000 CONTACTS=1000 bench/noop.sh
#
# Ingesting 15 000 items into Radicale or Xandikos one PUT at a time takes hours, so this
# script builds the "already migrated" state the fast way: it seeds the SAME generated data
# into two Radicale instances with one whole-collection PUT each, then lets calport adopt the
# destination's copies (first run: it fetches both sides, finds every item already there
# and writes nothing). The second run is the no-op re-run the issue asks about: its wall
# time, requests and peak RSS are printed. Both runs' peak RSS show how memory behaves at
# 15 000 items (the first run reads every body of both sides, in batches).
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

EVENTS="${EVENTS:-10000}"
CONTACTS="${CONTACTS:-5000}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/calport-noop.XXXXXX")"
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_servers
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ensure_venv
build_calport
say "generating $EVENTS events and $CONTACTS contacts"
davbench gen --events "$EVENTS" --todos 0 --contacts "$CONTACTS" --seed 1 --out "$WORK/data" >/dev/null

declare -a URLS=()
for side in source destination; do
    start_server radicale "$WORK/$side"
    URLS+=("$STARTED_URL")
    say "seeding the $side ($STARTED_URL) with whole-collection PUTs"
    davbench seed --url "$STARTED_URL/alice/events/" --kind calendar --name "Bench events" \
        --components VEVENT --file "$WORK/data/events.ics" --expect "$EVENTS" >/dev/null
    davbench seed --url "$STARTED_URL/alice/contacts/" --kind addressbook --name "Bench contacts" \
        --file "$WORK/data/contacts.vcf" --expect "$CONTACTS" >/dev/null
done

write_migrate_toml "$WORK/migrate.toml" "${URLS[0]}/" "${URLS[1]}/" 8
export CALPORT_BENCH_SRC_PASSWORD="$DAV_PASSWORD" CALPORT_BENCH_DST_PASSWORD="$DAV_PASSWORD"
run() { # label
    local start end
    start=$(date +%s.%N)
    /usr/bin/time -v -o "$WORK/$1.time" "$CALPORT" migrate --config "$WORK/migrate.toml" \
        --state "$WORK/state.sqlite" --json >"$WORK/$1.json" 2>"$WORK/$1.err" || true
    end=$(date +%s.%N)
    "$PY" - "$1" "$start" "$end" "$WORK/$1.json" "$WORK/$1.time" <<'PYEOF'
import json, re, sys
label, start, end, report, timefile = sys.argv[1:]
r = json.load(open(report))
timing = open(timefile).read()
rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", timing)
cpu = sum(float(m) for m in re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", timing))
writes = sum(n for m, n in r["requests"]["destination"]["by_method"].items()
             if m not in ("PROPFIND", "REPORT", "GET", "OPTIONS", "HEAD"))
print(f"{label}: {float(end) - float(start):.2f} s wall, calport CPU {cpu:.2f} s, peak RSS {int(rss.group(1)) / 1024:.1f} MB, "
      f"totals {r['totals']}, destination writes {writes}, "
      f"requests source {r['requests']['source']['by_method']}, destination {r['requests']['destination']['by_method']}")
PYEOF
}
say "first run: adopt the destination's copies (no writes expected)"
run adopt
say "second run: the no-op re-run"
run noop
say "third run: another no-op re-run"
run noop2
