-- Items left out of a sync because they were outside the job's window (issue 3), with
-- the time span they cover: when the window moves over them, the next run reads them
-- again even though nothing changed them.
CREATE TABLE deferred (
    pair_id    BIGINT  NOT NULL REFERENCES pairs (id) ON DELETE CASCADE,
    uid        TEXT    COLLATE "C" NOT NULL,
    side       TEXT    NOT NULL,
    href       TEXT    NOT NULL,
    span_start BIGINT  NOT NULL,
    span_end   BIGINT,
    PRIMARY KEY (pair_id, uid, side)
);
