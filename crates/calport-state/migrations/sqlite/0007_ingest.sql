-- Pushed changes (issue 6): Microsoft 365 / Power Automate event webhooks written into
-- CalDAV calendars. A source is one sender with its own key; every webhook it sends is
-- first stored in the inbox (answered 202), then applied by a worker; each source event
-- maps to one CalDAV item; every decision is audited.
CREATE TABLE ingest_sources (
    -- Chosen by the user; sent by the caller in X-Calendar-Source.
    id                TEXT    PRIMARY KEY,
    name              TEXT    NOT NULL,
    kind              TEXT    NOT NULL DEFAULT 'm365',
    account_id        INTEGER NOT NULL REFERENCES accounts (id),
    -- The target calendar collection (its href on the account's server).
    calendar          TEXT    NOT NULL,
    priority          INTEGER NOT NULL DEFAULT 0,
    -- 'last_write_wins', 'priority_based' or 'manual'.
    conflict          TEXT    NOT NULL DEFAULT 'last_write_wins',
    -- The source's API key: public lookup id and SHA-256 (never the key).
    key_lookup        TEXT    NOT NULL,
    key_hash          TEXT    NOT NULL,
    -- SHA-256 of the Graph subscription clientState, when Graph notifications are used.
    client_state_hash TEXT,
    enabled           INTEGER NOT NULL DEFAULT 1,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);
CREATE INDEX ingest_sources_key ON ingest_sources (key_lookup);

CREATE TABLE inbox (
    id          INTEGER PRIMARY KEY,
    request_id  TEXT    NOT NULL UNIQUE,
    source_id   TEXT    NOT NULL REFERENCES ingest_sources (id) ON DELETE CASCADE,
    -- 'created', 'updated', 'deleted' or 'notification' (Graph change notification).
    action      TEXT    NOT NULL,
    event_id    TEXT    NOT NULL,
    body        BLOB    NOT NULL,
    -- 'pending', 'done' or 'dead'.
    state       TEXT    NOT NULL DEFAULT 'pending',
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     INTEGER NOT NULL,
    lease_owner TEXT,
    lease_until INTEGER,
    last_error  TEXT,
    -- What applying it did: 'create', 'update', 'delete', 'skip', 'conflict', 'noted'.
    outcome     TEXT,
    received_at INTEGER NOT NULL,
    applied_at  INTEGER
);
CREATE INDEX inbox_due ON inbox (state, next_at, id);
CREATE INDEX inbox_source ON inbox (source_id, id);

-- One row per source event: where it lives on CalDAV and which version was applied.
CREATE TABLE ingest_events (
    source_id        TEXT    NOT NULL REFERENCES ingest_sources (id) ON DELETE CASCADE,
    event_id         TEXT    NOT NULL,
    ical_uid         TEXT,
    -- For occurrences and exceptions: the series master's event id.
    series_master_id TEXT,
    caldav_uid       TEXT,
    href             TEXT,
    etag             TEXT,
    -- lastModifiedDateTime (unix ms) of the version applied, or of the deletion.
    modified_at      INTEGER,
    -- 'active', 'superseded' (another source's copy of the meeting is shown), 'conflict'
    -- (parked for a person), 'pending_master' (an exception waiting for its series),
    -- 'cancelled' (a cancelled occurrence), 'deleted'.
    status           TEXT    NOT NULL,
    -- For 'superseded': the source whose version is shown.
    winner           TEXT,
    -- The last accepted body (JSON), rendered again when the series changes.
    payload          BLOB,
    request_id       TEXT,
    error            TEXT,
    updated_at       INTEGER NOT NULL,
    PRIMARY KEY (source_id, event_id)
);
CREATE INDEX ingest_events_ical ON ingest_events (ical_uid);
CREATE INDEX ingest_events_master ON ingest_events (source_id, series_master_id);

-- Every decision taken on a pushed change.
CREATE TABLE ingest_audit (
    id         INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    request_id TEXT    NOT NULL,
    source_id  TEXT    NOT NULL,
    event_id   TEXT    NOT NULL,
    -- 'create', 'update', 'delete', 'skip', 'conflict', 'retry', 'dead', 'noted'.
    action     TEXT    NOT NULL,
    detail     TEXT    NOT NULL
);
CREATE INDEX ingest_audit_source ON ingest_audit (source_id, id);
CREATE INDEX ingest_audit_request ON ingest_audit (request_id);

-- The same meeting from two sources under the 'manual' strategy, until a person picks.
CREATE TABLE ingest_conflicts (
    id             INTEGER PRIMARY KEY,
    source_id      TEXT    NOT NULL REFERENCES ingest_sources (id) ON DELETE CASCADE,
    event_id       TEXT    NOT NULL,
    ical_uid       TEXT    NOT NULL,
    other_source   TEXT    NOT NULL,
    other_event    TEXT    NOT NULL,
    request_id     TEXT    NOT NULL,
    -- 'open' or 'resolved'; resolution 'incoming' or 'existing'.
    state          TEXT    NOT NULL DEFAULT 'open',
    resolution     TEXT,
    created_at     INTEGER NOT NULL,
    resolved_at    INTEGER,
    UNIQUE (source_id, event_id)
);
