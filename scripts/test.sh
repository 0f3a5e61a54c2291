#!/usr/bin/env bash
# The one command that installs what the tests need and runs the whole suite:
# Python venv with Radicale and Xandikos, PostgreSQL up, fmt, clippy, tests.
# Usage: scripts/test.sh            (CI runs it through .ci/run)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV="$ROOT/.venv"
RADICALE_VERSION="3.9.0"
XANDIKOS_VERSION="0.4.10"
PYTHON="${PYTHON:-python3}"

step() { printf '\n==> %s\n' "$*"; }

step "Python venv with radicale==$RADICALE_VERSION xandikos==$XANDIKOS_VERSION at $VENV"
if [ ! -x "$VENV/bin/python" ]; then
    echo "creating $VENV"
    "$PYTHON" -m venv "$VENV"
fi
installed_version() {
    "$VENV/bin/python" -c 'import sys
from importlib.metadata import version, PackageNotFoundError
try:
    print(version(sys.argv[1]))
except PackageNotFoundError:
    pass' "$1"
}
if [ "$(installed_version radicale)" = "$RADICALE_VERSION" ] &&
    [ "$(installed_version xandikos)" = "$XANDIKOS_VERSION" ]; then
    echo "already installed"
else
    echo "installing from PyPI"
    "$VENV/bin/python" -m pip install --disable-pip-version-check --quiet \
        "radicale==$RADICALE_VERSION" "xandikos==$XANDIKOS_VERSION"
fi
"$VENV/bin/radicale" --version 2>/dev/null
"$VENV/bin/xandikos" --version
export CALPORT_VENV="$VENV"

step "PostgreSQL on 127.0.0.1"
if pg_isready -q -h 127.0.0.1 2>/dev/null; then
    echo "answering"
else
    cluster="$(ls /etc/postgresql 2>/dev/null | head -n1 || true)"
    if [ -n "$cluster" ] &&
        pg_ctlcluster --skip-systemctl-redirect "$cluster" main start; then
        for _ in $(seq 1 30); do
            pg_isready -q -h 127.0.0.1 && break
            sleep 1
        done
    fi
    if pg_isready -q -h 127.0.0.1 2>/dev/null; then
        echo "started cluster $cluster/main"
    else
        echo "PostgreSQL does not answer on 127.0.0.1:5432; the state and service tests need it" >&2
        exit 1
    fi
fi

step "Chromium and ui-tests/node_modules (the web UI browser test)"
if [ -x /usr/bin/chromium ]; then
    echo "chromium already installed"
else
    echo "installing Debian's chromium"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q chromium || { apt-get update -q && apt-get install -y -q chromium; }
fi
if command -v npm >/dev/null 2>&1; then
    # The stamp is the lock file npm ci last installed: a changed lock means outdated.
    stamp="$ROOT/ui-tests/node_modules/.calport-lock"
    if cmp -s "$ROOT/ui-tests/package-lock.json" "$stamp"; then
        echo "ui-tests/node_modules up to date"
    else
        # playwright-core never downloads a browser; the test drives /usr/bin/chromium.
        PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix "$ROOT/ui-tests" --no-audit --no-fund
        cp "$ROOT/ui-tests/package-lock.json" "$stamp"
    fi
else
    echo "node/npm not found: the web UI browser test (crates/calport-cli/tests/ui.rs) will be skipped"
fi

step "cargo fmt --all -- --check"
cargo fmt --all -- --check

step "cargo clippy --workspace --all-targets --locked -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

if cargo nextest --version >/dev/null 2>&1; then
    step "cargo nextest run --workspace --locked"
    cargo nextest run --workspace --locked
else
    step "cargo test --workspace --locked (cargo-nextest not installed)"
    cargo test --workspace --locked
fi

step "all checks passed"
