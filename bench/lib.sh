# Shared helpers for bench/migrate.sh and scripts/demo.sh (sourced, not executed).
# shellcheck shell=bash
#
# Servers are started from the Python venv (radicale, xandikos) on 127.0.0.1, each on a free
# port and in its own directory, with the settings calport-testkit uses
# (crates/calport-testkit/src/{radicale,xandikos}.rs). Their PIDs are kept in SERVER_PIDS;
# stop_servers kills exactly those PIDs and reaps them. Callers install the trap.

BENCH_LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_LIB_DIR/.." && pwd)"
VENV="${CALPORT_VENV:-$ROOT/.venv}"
RADICALE_VERSION="3.9.0"
XANDIKOS_VERSION="0.4.10"
DAVBENCH="$BENCH_LIB_DIR/davbench.py"
DAV_USER="alice"
DAV_PASSWORD="alicepw"
SERVER_PIDS=()

say() { printf '\n==> %s\n' "$*" >&2; }
die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

# The venv with radicale and xandikos, made the way scripts/test.sh makes it.
ensure_venv() {
    local python="${PYTHON:-python3}"
    if [ ! -x "$VENV/bin/python" ]; then
        say "creating the Python venv $VENV"
        "$python" -m venv "$VENV" || die "cannot create $VENV (is python3-venv installed?)"
    fi
    local have
    have="$("$VENV/bin/python" -c 'import sys
from importlib.metadata import version, PackageNotFoundError
out = []
for name in sys.argv[1:]:
    try:
        out.append(version(name))
    except PackageNotFoundError:
        out.append("-")
print(" ".join(out))' radicale xandikos)"
    if [ "$have" != "$RADICALE_VERSION $XANDIKOS_VERSION" ]; then
        say "installing radicale==$RADICALE_VERSION xandikos==$XANDIKOS_VERSION into $VENV"
        "$VENV/bin/python" -m pip install --disable-pip-version-check --quiet \
            "radicale==$RADICALE_VERSION" "xandikos==$XANDIKOS_VERSION"
    fi
    PY="$VENV/bin/python"
}

davbench() { "$PY" "$DAVBENCH" "$@"; }

# stop_pid PID: SIGTERM, up to 5 s for it to go, then SIGKILL; reaps it. Only that PID.
stop_pid() {
    local pid="$1" i
    kill "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null || true
}

stop_servers() {
    local pid
    for pid in "${SERVER_PIDS[@]}"; do
        stop_pid "$pid"
    done
    SERVER_PIDS=()
}

radicale_config() { # dir port
    local dir="$1" port="$2"
    printf '%s:%s\n' "$DAV_USER" "$DAV_PASSWORD" >"$dir/users"
    cat >"$dir/radicale.conf" <<EOF
[server]
hosts = 127.0.0.1:$port
max_connections = 20
timeout = 300

[auth]
type = htpasswd
htpasswd_filename = $dir/users
htpasswd_encryption = plain
delay = 0

[storage]
filesystem_folder = $dir/storage

[logging]
level = warning

[reporting]
max_expand_occurrence = 0
EOF
}

# start_server KIND DIR: starts radicale or xandikos with a fresh storage in DIR and waits
# (bounded) until it answers. Sets STARTED_URL (http://127.0.0.1:PORT, no slash) and
# STARTED_PID. Retries on a new port when the chosen one was taken meanwhile.
start_server() {
    local kind="$1" dir="$2" attempt port pid probes
    local -a args
    mkdir -p "$dir"
    for attempt in 1 2 3 4 5; do
        port="$(davbench free-port)"
        case "$kind" in
        radicale)
            radicale_config "$dir" "$port"
            args=(-C "$dir/radicale.conf")
            probes=(/alice/)
            ;;
        xandikos)
            args=(serve -d "$dir/storage" --defaults -l 127.0.0.1 -p "$port"
                --state-dir "$dir/state" --no-detect-systemd)
            # --defaults creates its collections lazily: probe both.
            probes=(/user/calendars/calendar/ /user/contacts/addressbook/)
            ;;
        *) die "unknown server kind $kind" ;;
        esac
        # fds 8 and 9 may hold bench/migrate.sh's flocks: the server must not inherit them.
        PYTHONUNBUFFERED=1 "$VENV/bin/$kind" "${args[@]}" </dev/null >"$dir/server.log" 2>&1 8>&- 9>&- &
        pid=$!
        SERVER_PIDS+=("$pid")
        local ready=1 probe
        for probe in "${probes[@]}"; do
            if ! davbench wait --url "http://127.0.0.1:$port$probe" --pid "$pid" \
                --user "$DAV_USER" --password "$DAV_PASSWORD" \
                --timeout 30 --max-probes 300 >/dev/null 2>"$dir/wait.err"; then
                ready=0
                break
            fi
        done
        if [ "$ready" = 1 ]; then
            STARTED_URL="http://127.0.0.1:$port"
            # shellcheck disable=SC2034 # for callers
            STARTED_PID="$pid"
            echo "$kind started: $STARTED_URL (pid $pid, dir $dir)" >&2
            return 0
        fi
        stop_pid "$pid"
        if grep -qi "address already in use" "$dir/server.log" && [ "$attempt" -lt 5 ]; then
            echo "$kind: port $port taken meanwhile, trying another" >&2
            continue
        fi
        cat "$dir/wait.err" >&2
        echo "--- last lines of $dir/server.log:" >&2
        tail -n 40 "$dir/server.log" >&2
        die "$kind did not start"
    done
    die "$kind found no free port"
}

# build_calport: release build of the CLI; sets CALPORT.
build_calport() {
    command -v cargo >/dev/null || die "cargo not found: install Rust (https://rustup.rs)"
    say "building calport (cargo build --release --locked -p calport-cli; minutes on a fresh clone)"
    (cd "$ROOT" && cargo build --release --locked -p calport-cli) || die "cargo build failed"
    CALPORT="$ROOT/target/release/calport"
    [ -x "$CALPORT" ] || die "$CALPORT missing after the build"
}

# write_migrate_toml FILE SRC_URL DST_URL CONCURRENCY [DST_USER]: passwords come from the
# environment variables CALPORT_BENCH_SRC_PASSWORD / CALPORT_BENCH_DST_PASSWORD, never from
# the file. DST_USER defaults to $DAV_USER (the source's user).
write_migrate_toml() {
    local file="$1" src="$2" dst="$3" concurrency="$4" dst_user="${5:-$DAV_USER}"
    cat >"$file" <<EOF
# Written by ${0##*/}: a local Radicale (source) and a local DAV server (destination).
[source]
url = "$src"
username = "$DAV_USER"
password_env = "CALPORT_BENCH_SRC_PASSWORD"

[destination]
url = "$dst"
username = "$dst_user"
password_env = "CALPORT_BENCH_DST_PASSWORD"

[options]
concurrency = $concurrency
# Radicale and Xandikos slow down as a collection grows (< 1 PUT/s at 10 000 items).
timeout_seconds = 600
EOF
}
