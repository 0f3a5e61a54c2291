-- calport serve (issue 4): API keys, accounts, jobs, runs and their logs, outbound
-- webhooks and their deliveries, workers. Times are unix milliseconds.

CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY,
    name         TEXT    NOT NULL,
    lookup_id    TEXT    NOT NULL UNIQUE,
    hash         TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);

CREATE TABLE accounts (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    kind       TEXT    NOT NULL,
    url        TEXT    NOT NULL,
    username   TEXT    NOT NULL,
    -- The password, encrypted (never stored in clear).
    secret     BLOB,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE jobs (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    kind       TEXT    NOT NULL,
    a_account  INTEGER NOT NULL REFERENCES accounts (id),
    b_account  INTEGER NOT NULL REFERENCES accounts (id),
    -- Every engine option, as JSON.
    spec       TEXT    NOT NULL,
    schedule   TEXT,
    enabled    INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE runs (
    id          INTEGER PRIMARY KEY,
    job_id      INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    -- queued, running, paused, completed, partial_failure, failed, cancelled
    state       TEXT    NOT NULL,
    trigger     TEXT    NOT NULL,
    dry_run     INTEGER NOT NULL DEFAULT 0,
    -- What a user asked of a running run: pause or cancel.
    control     TEXT,
    lease_owner TEXT,
    lease_until INTEGER,
    attempts    INTEGER NOT NULL DEFAULT 0,
    progress    TEXT,
    stats       TEXT,
    report      TEXT,
    error       TEXT,
    queued_at   INTEGER NOT NULL,
    started_at  INTEGER,
    finished_at INTEGER,
    updated_at  INTEGER NOT NULL
);
-- A job never has two runs in flight.
CREATE UNIQUE INDEX runs_one_active_per_job ON runs (job_id)
    WHERE state IN ('queued', 'running', 'paused');
CREATE INDEX runs_by_state ON runs (state, id);

CREATE TABLE run_logs (
    id      INTEGER PRIMARY KEY,
    run_id  INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    at      INTEGER NOT NULL,
    level   TEXT    NOT NULL,
    message TEXT    NOT NULL
);
CREATE INDEX run_logs_by_run ON run_logs (run_id, id);

CREATE TABLE webhooks (
    id         INTEGER PRIMARY KEY,
    url        TEXT    NOT NULL,
    job_id     INTEGER REFERENCES jobs (id) ON DELETE CASCADE,
    secret     BLOB    NOT NULL,
    enabled    INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY,
    webhook_id      INTEGER NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    run_id          INTEGER,
    msg_id          TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    -- pending, delivered, failed
    state           TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_status     INTEGER,
    last_error      TEXT,
    next_attempt_at INTEGER,
    created_at      INTEGER NOT NULL,
    delivered_at    INTEGER
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);

CREATE TABLE workers (
    id           TEXT    PRIMARY KEY,
    hostname     TEXT    NOT NULL,
    pid          INTEGER NOT NULL,
    started_at   INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL,
    running      INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
