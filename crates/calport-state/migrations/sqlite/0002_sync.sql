-- Continuous sync (issue 3).

-- What the collection listing (discovery) showed as the collection's version (getctag,
-- else the DAV:sync-token property) at the last complete pass: when it has not moved,
-- nothing in the collection changed and no listing is needed.
ALTER TABLE pairs ADD COLUMN src_marker TEXT;
ALTER TABLE pairs ADD COLUMN dst_marker TEXT;

-- The time span of an event's occurrences (unix seconds) when last seen, for sync windows.
-- span_start NULL: no span (not an event: always in scope); span_end NULL with a start:
-- recurs without end.
ALTER TABLE items ADD COLUMN span_start INTEGER;
ALTER TABLE items ADD COLUMN span_end INTEGER;

-- Items changed on both sides that the job's policy parks for a person to decide.
CREATE TABLE conflicts (
    id          INTEGER PRIMARY KEY,
    pair_id     INTEGER NOT NULL REFERENCES pairs (id) ON DELETE CASCADE,
    uid         TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    a_ref       TEXT,
    a_etag      TEXT,
    a_body      BLOB,
    b_ref       TEXT,
    b_etag      TEXT,
    b_body      BLOB,
    -- The common ancestor: each side's content hash at the last sync (NULL: none).
    base_a_hash TEXT,
    base_b_hash TEXT,
    -- What the user chose: 'a', 'b' or 'both'; applied by the next run.
    resolution  TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (pair_id, uid)
);

-- What a store learned in discovery (home sets, server traits), so that a periodic run
-- can list collections with one request instead of walking from the server root.
CREATE TABLE discovery (
    account    TEXT PRIMARY KEY,
    state      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
);
