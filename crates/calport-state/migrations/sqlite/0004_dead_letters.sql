-- Items that keep failing (issue 4), and later pushed changes that cannot be applied
-- (issue 6): retried on every run until they fail `attempts` times in a row, then parked
-- as a dead letter with the reason and the payload until a person retries or skips them.
CREATE TABLE dead_letters (
    id         INTEGER PRIMARY KEY,
    -- 'sync' (an item of a collection pair) or 'inbox' (a pushed change).
    source     TEXT    NOT NULL,
    pair_id    INTEGER REFERENCES pairs (id) ON DELETE CASCADE,
    -- The side of href ('a' or 'b'), where a retry reads the item again.
    side       TEXT    NOT NULL DEFAULT '',
    uid        TEXT    NOT NULL,
    href       TEXT,
    reason     TEXT    NOT NULL,
    payload    BLOB,
    attempts   INTEGER NOT NULL DEFAULT 1,
    -- 'failing' (still retried), 'open' (parked), 'retry' (a person asked to try again),
    -- 'skipped' (a person chose to leave it alone).
    state      TEXT    NOT NULL DEFAULT 'failing',
    first_at   INTEGER NOT NULL,
    last_at    INTEGER NOT NULL,
    UNIQUE (source, pair_id, uid)
);
