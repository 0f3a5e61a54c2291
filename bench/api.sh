#!/usr/bin/env bash
# API throughput of `calport serve` under load from wrk (Debian package `wrk`; installed
# with apt-get when missing and possible).
#
# Prints requests/s and latency percentiles for:
#   GET  /api/health          (no auth: the floor)
#   GET  /api/runs/{id}       (auth + one run read + JSON)
#   POST /api/sync            (auth + a write path: queue runs of every enabled job; the
#                              inbound webhook receivers of issue 6 will be measured the same
#                              way once they exist)
# on SQLite (default) and, with DB=postgres, on a fresh PostgreSQL database.
#
# Knobs: DB=sqlite|postgres  DURATION=10s  CONNECTIONS=32  THREADS=2
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DB="${DB:-sqlite}"
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-2}"

say() { printf '\n==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

if ! command -v wrk >/dev/null; then
    say "installing wrk (apt-get)"
    apt-get install -y -q wrk >/dev/null || die "wrk is needed: apt-get install wrk"
fi

say "building calport (release)"
cargo build --release --locked -p calport-cli --quiet
CALPORT="$ROOT/target/release/calport"

WORK="$(mktemp -d)"
SERVER_PID=""
PGDB=""
cleanup() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [ -n "$PGDB" ]; then
        psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $PGDB WITH (FORCE)" >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
export CALPORT_DATA_DIR="$WORK/data" CALPORT_LISTEN="127.0.0.1:$PORT" CALPORT_WORKER_ENABLED=false
if [ "$DB" = postgres ]; then
    PGDB="calport_bench_$$"
    psql -q -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE $PGDB" >/dev/null
    export CALPORT_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$PGDB"
fi

KEY="$("$CALPORT" apikey create --name bench 2>/dev/null)"
"$CALPORT" serve >"$WORK/serve.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$PORT/api/health" >/dev/null && break
    sleep 0.1
done
curl -sf "http://127.0.0.1:$PORT/api/health" >/dev/null || die "calport serve did not start: $(cat "$WORK/serve.log")"

api() {
    curl -sf -H "Authorization: Bearer $KEY" -H 'content-type: application/json' "$@"
}
ACCOUNT="$(api -d '{"name":"a","url":"http://127.0.0.1:9/","username":"u","password":"p"}' \
    "http://127.0.0.1:$PORT/api/accounts" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')"
OTHER="$(api -d '{"name":"b","url":"http://127.0.0.1:9/","username":"u","password":"p"}' \
    "http://127.0.0.1:$PORT/api/accounts" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')"
JOB="$(api -d "{\"name\":\"j\",\"a_account_id\":$ACCOUNT,\"b_account_id\":$OTHER}" \
    "http://127.0.0.1:$PORT/api/sync-jobs" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')"
RUN="$(api -X POST "http://127.0.0.1:$PORT/api/sync-jobs/$JOB/start" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')"

cat >"$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer $KEY"
wrk.headers["Content-Type"] = "application/json"
wrk.body = "{}"
LUA

measure() {
    local label="$1"
    shift
    local out rps p50 p99
    out="$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$@")"
    rps="$(awk '/^Requests\/sec/ {print $2}' <<<"$out")"
    p50="$(awk '$1 == "50%" {print $2}' <<<"$out")"
    p99="$(awk '$1 == "99%" {print $2}' <<<"$out")"
    non2xx="$(awk '/Non-2xx/ {print $5}' <<<"$out")"
    printf '%-22s %10s req/s   p50 %8s   p99 %8s   non-2xx %s\n' "$label" "$rps" "$p50" "$p99" "${non2xx:-0}"
}

say "load: $THREADS threads, $CONNECTIONS connections, $DURATION each, database $DB ($(nproc) cores)"
measure "GET /api/health" "http://127.0.0.1:$PORT/api/health"
measure "GET /api/runs/{id}" -H "Authorization: Bearer $KEY" "http://127.0.0.1:$PORT/api/runs/$RUN"
measure "POST /api/sync" -s "$WORK/post.lua" "http://127.0.0.1:$PORT/api/sync"
measure "GET (wrong key → 401)" -H "Authorization: Bearer cpk_wrong" "http://127.0.0.1:$PORT/api/runs/$RUN"
RSS="$(awk '/VmHWM/ {print $2}' "/proc/$SERVER_PID/status" 2>/dev/null || echo '?')"
printf 'calport serve peak RSS: %s kB\n' "$RSS"
