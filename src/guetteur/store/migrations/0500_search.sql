-- 0500: search (owner: search area, see docs/search.md). Runs as the database owner, in one
-- transaction.

-- A B-tree on `ts`: the console's views are "newest first" (a page of 100, the top values over
-- the 500 most recent matches), which an index scan backwards answers after reading only those
-- rows, instead of reading and sorting the whole time range. bench/search.py, 500 000 events
-- over 24 h: first page of a field query over 24 h p95 176 -> 3.4 ms, free text 594 -> 87 ms,
-- top-10 392 -> 6 ms; writer throughput -2.3%, -7.0%, +0.9% in three interleaved runs
-- (`--ingest-cost`, 300 000 events). Events arrive
-- nearly in `ts` order, so the index grows at its right edge. Counts and histograms still read
-- the whole range (BRIN on `ts` narrows it to the range).
CREATE INDEX IF NOT EXISTS events_ts_btree ON events (ts);

-- A document value as an address, or NULL when it is not one (never an error, so a KQL query on
-- an `ip` field cannot fail on a stored value). Plain addresses only: no prefix, no zone.
CREATE OR REPLACE FUNCTION guetteur_try_inet(value text) RETURNS inet
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
    IF length(value) > 64 OR position('/' in value) > 0 OR position('%' in value) > 0 THEN
        RETURN NULL;
    END IF;
    RETURN value::inet;
EXCEPTION WHEN others THEN
    RETURN NULL;
END $$;

-- Saved searches, per person (`owner` is the principal's name: a user, or an API key's name).
CREATE TABLE saved_searches (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner      text        NOT NULL,
    name       text        NOT NULL,
    query      text        NOT NULL,
    time_range text,                               -- e.g. "now-15m" (optional)
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (owner, name)
);
SELECT guetteur_grant_app('SELECT, INSERT, UPDATE, DELETE', 'saved_searches');
