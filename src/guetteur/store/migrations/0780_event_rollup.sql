-- 0780: per-minute event counts for counts and histograms (owner: search area, see
-- docs/search.md "Rollups"). Runs as the database owner, in one transaction.

-- Events per minute of `ts` and per value of three promoted columns, kept by a background task
-- of `guetteur up` (guetteur.search.rollups) that reads committed batches in chain order
-- (`batches.seq`) after `event_rollup_cursor.seq`: never inside the writers' transactions. A
-- batch never changes, so adding its counts once is exact; a late event adds to its old minute.
-- `day` is the UTC day of `ingested` (the partition the rows live in), so a retention that drops
-- a day's partition can drop that day's counts with it. `irregular`: some of the rows hold
-- host.name, event.outcome or event.dataset in a form the column does not mirror (an array, a
-- number...): a query that could read the document for them is not answered from here
-- (guetteur.store.rollup).
CREATE TABLE event_rollup (
    minute      timestamptz NOT NULL,
    day         date        NOT NULL,
    host        text,
    outcome     text,
    source_type text,
    irregular   boolean     NOT NULL,
    events      bigint      NOT NULL,
    CONSTRAINT event_rollup_key UNIQUE NULLS NOT DISTINCT (minute, day, host, outcome, source_type, irregular)
);
SELECT guetteur_grant_app('SELECT, INSERT, UPDATE, DELETE', 'event_rollup');

-- How far the counts go: every batch with `seq` <= this one is in them, no other.
CREATE TABLE event_rollup_cursor (
    only_row   boolean     PRIMARY KEY DEFAULT true CHECK (only_row),
    seq        bigint      NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO event_rollup_cursor (seq) VALUES (0);
SELECT guetteur_grant_app('SELECT, UPDATE', 'event_rollup_cursor');
