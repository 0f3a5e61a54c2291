-- One row per collection pair of a job: which source collection feeds which destination,
-- and the incremental-listing tokens of both sides at the last complete pass.
CREATE TABLE pairs (
    id             INTEGER PRIMARY KEY,
    job            TEXT    NOT NULL,
    src_collection TEXT    NOT NULL,
    dst_collection TEXT    NOT NULL,
    src_token      TEXT,
    dst_token      TEXT,
    updated_at     INTEGER NOT NULL,
    UNIQUE (job, src_collection, dst_collection)
);

-- Last-known state of each item (by UID) of a pair, on each side. A side's columns are
-- NULL when the item is not (known to be) there.
CREATE TABLE items (
    pair_id    INTEGER NOT NULL REFERENCES pairs (id) ON DELETE CASCADE,
    uid        TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    src_ref    TEXT,
    src_etag   TEXT,
    src_hash   TEXT,
    dst_ref    TEXT,
    dst_etag   TEXT,
    dst_hash   TEXT,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (pair_id, uid)
);
CREATE INDEX items_by_src ON items (pair_id, src_ref);
CREATE INDEX items_by_dst ON items (pair_id, dst_ref);

-- Source members that could not be transferred: retried on every run until they land.
CREATE TABLE failures (
    pair_id    INTEGER NOT NULL REFERENCES pairs (id) ON DELETE CASCADE,
    src_ref    TEXT    NOT NULL,
    src_etag   TEXT,
    uid        TEXT    NOT NULL DEFAULT '',
    class      TEXT    NOT NULL,
    reason     TEXT    NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 1,
    last_at    INTEGER NOT NULL,
    PRIMARY KEY (pair_id, src_ref, uid)
);
