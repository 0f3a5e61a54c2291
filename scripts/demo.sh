#!/usr/bin/env bash
# calport's main job on this machine, end to end, with nothing to set up:
#
#   scripts/demo.sh [extra calport migrate arguments, e.g. -v or --concurrency 4]
#
# 1. makes the Python venv with Radicale and Xandikos if missing (as scripts/test.sh does),
# 2. builds calport (cargo build --release; a few minutes on a fresh clone),
# 3. starts a local Radicale (the "old" server) holding a "Work" calendar (20 events), a
#    "Tasks" list (5 to-dos) and a "Contacts" address book (10 cards), and an empty local
#    Xandikos (the "new" server), both on 127.0.0.1,
# 4. writes a migrate.toml for them and runs
#      calport migrate --dry-run   (the plan; nothing written)
#      calport migrate             (the copy, with progress and the summary table)
#      calport migrate             (again: nothing left to transfer)
# 5. then (in a terminal; SERVE=0 skips it) starts `calport serve` with the web UI on
#    http://127.0.0.1:8080/ (PORT=… to change), the two servers already added as accounts
#    and a two-way "Keep in sync" job, until Ctrl-C. The first visit asks for an admin
#    password.
# 6. stops everything it started and deletes everything it made (KEEP=1 keeps the temp dir).
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/bench/lib.sh"

KEEP="${KEEP:-0}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/calport-demo.XXXXXX")"

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

ensure_venv
build_calport

say "generating demo data (20 events, 5 to-dos, 10 contacts)"
davbench gen --events 20 --todos 5 --contacts 10 --seed 7 \
    --calendar-name Work --tasks-name Tasks --out "$WORK/data" >/dev/null
davbench validate --dir "$WORK/data" >/dev/null

say "starting Radicale (source) and Xandikos (destination) on 127.0.0.1"
start_server radicale "$WORK/radicale"
SRC="$STARTED_URL"
start_server xandikos "$WORK/xandikos"
DST="$STARTED_URL"

davbench seed --url "$SRC/alice/work/" --kind calendar --name Work --components VEVENT \
    --color "#1e90ff" --file "$WORK/data/events.ics" --expect 20 >/dev/null
davbench seed --url "$SRC/alice/tasks/" --kind calendar --name Tasks --components VTODO \
    --color "#2e8b57" --file "$WORK/data/todos.ics" --expect 5 >/dev/null
davbench seed --url "$SRC/alice/contacts/" --kind addressbook --name Contacts \
    --file "$WORK/data/contacts.vcf" --expect 10 >/dev/null
echo "Radicale $SRC/ (user $DAV_USER): /alice/work/ (20 events), /alice/tasks/ (5 to-dos)," \
    "/alice/contacts/ (10 cards)" >&2
echo "Xandikos $DST/: empty (its default calendar and address book only)" >&2

write_migrate_toml "$WORK/migrate.toml" "$SRC/" "$DST/" 8
export CALPORT_BENCH_SRC_PASSWORD="$DAV_PASSWORD" CALPORT_BENCH_DST_PASSWORD="$DAV_PASSWORD"
STATE="$WORK/state.sqlite"
say "$WORK/migrate.toml"
cat "$WORK/migrate.toml" >&2

run() { # title, then calport migrate arguments
    local title="$1" rc=0
    shift
    say "$title"
    echo "+ calport migrate --config $WORK/migrate.toml --state $STATE $*" >&2
    "$CALPORT" migrate --config "$WORK/migrate.toml" --state "$STATE" "$@" || rc=$?
    if [ "$rc" -ne 0 ]; then
        echo "calport exited $rc (2: some items failed, 1: fatal error)" >&2
        exit "$rc"
    fi
}

run "1/3 dry run: the plan, nothing is written" --dry-run "$@"
run "2/3 the migration" "$@"
run "3/3 the same command again: only changes would be transferred (there are none)" "$@"

say "what Xandikos holds now"
davbench inventory --base "$DST" --home /user/calendars/ --home /user/contacts/ >/dev/null

SERVE="${SERVE:-}"
if [ -z "$SERVE" ]; then
    if [ -t 0 ]; then SERVE=1; else SERVE=0; fi
fi
if [ "$SERVE" = 1 ]; then
    PORT="${PORT:-8080}"
    export CALPORT_DATA_DIR="$WORK/serve" CALPORT_LISTEN="127.0.0.1:$PORT"
    say "calport serve: the web UI on http://127.0.0.1:$PORT/"
    KEY="$("$CALPORT" apikey create --name demo 2>/dev/null)"
    "$CALPORT" serve &
    SERVER_PIDS+=("$!")
    for _ in $(seq 1 100); do
        curl -sf "http://127.0.0.1:$PORT/api/health" >/dev/null && break
        sleep 0.1
    done
    api() { curl -sf -H "Authorization: Bearer $KEY" -H 'content-type: application/json' "$@"; }
    id_of() { "$PY" -c 'import json,sys; print(json.load(sys.stdin)["id"])'; }
    A="$(api -d "{\"name\":\"Radicale (old server)\",\"url\":\"$SRC/\",\"username\":\"$DAV_USER\",\"password\":\"$DAV_PASSWORD\"}" \
        "http://127.0.0.1:$PORT/api/accounts" | id_of)"
    B="$(api -d "{\"name\":\"Xandikos (new server)\",\"url\":\"$DST/\",\"username\":\"user\",\"password\":\"unused\"}" \
        "http://127.0.0.1:$PORT/api/accounts" | id_of)"
    api -d "{\"name\":\"Keep Work in sync\",\"a_account_id\":$A,\"b_account_id\":$B,\"schedule\":\"15m\",\"options\":{\"contacts\":false,\"tasks\":false,\"pairs\":[{\"a\":\"/alice/work/\",\"b\":\"Work\"}]}}" \
        "http://127.0.0.1:$PORT/api/sync-jobs" >/dev/null
    echo >&2
    echo "  Open http://127.0.0.1:$PORT/ in a browser. The first visit asks you to set an admin" >&2
    echo "  password. Accounts for both servers and a two-way job are already there." >&2
    echo "  API key for scripts (shown once): $KEY" >&2
    echo "  Ctrl-C stops calport and both servers." >&2
    wait "${SERVER_PIDS[-1]}" || true
fi

say "done: stopping the servers"
