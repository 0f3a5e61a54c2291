-- Web UI sessions (issue 5): a browser's signed-in session, found by the hash of its
-- cookie token, with its CSRF token. Times are unix milliseconds.
CREATE TABLE sessions (
    token_hash   TEXT    PRIMARY KEY,
    csrf         TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
