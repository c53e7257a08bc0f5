-- 0790: the `message` text of every event, lower-cased, in a narrow table for free-text counts
-- and histograms (owner: search area, see docs/search.md "Free text"). Runs as the database
-- owner, in one transaction.

-- One row per event whose document has a `message` (any JSON type), written by the writer in the
-- batch's own transaction (guetteur.store.writer): `m` is `lower(doc ->> 'message')` when the
-- value is a string, NULL otherwise (an array, a number...: those rows are tested on `events`).
-- A free-text count reads these ~100-byte rows instead of the ~800-byte rows of `events`
-- (5M events: 0.7 s instead of 6 s on an idle 2-core machine); storing a row costs the writer's
-- PostgreSQL session ~1.5 us (a 4 us event row). The search compiler uses it only for queries
-- on `message` alone that no event without a message can match (guetteur.search.compile,
-- `Compiled.text`), so a count from here is the same number as a count of `events`.
-- Derived data, like an index: not in the hash chain (`verify` proves `events`), append-only,
-- partitioned by the same UTC day of `ingested` as `events` so retention drops both together.
CREATE TABLE event_text (
    ingested timestamptz NOT NULL,
    ts       timestamptz NOT NULL,
    id       uuid        NOT NULL,
    m        text
) PARTITION BY RANGE (ingested);

CREATE INDEX event_text_ts_brin ON event_text USING brin (ts timestamptz_minmax_multi_ops)
    WITH (pages_per_range = 32, autosummarize = on);
-- The few rows whose message is not a string, found without reading the others.
CREATE INDEX event_text_not_string ON event_text (ts) WHERE m IS NULL;

CREATE TRIGGER event_text_append_only BEFORE UPDATE OR DELETE ON event_text
    FOR EACH ROW EXECUTE FUNCTION guetteur_forbid_change();
CREATE TRIGGER event_text_no_truncate BEFORE TRUNCATE ON event_text
    FOR EACH STATEMENT EXECUTE FUNCTION guetteur_forbid_change();

SELECT guetteur_grant_app('SELECT, INSERT', 'event_text');

-- Gives every partition `events_X` of `events` its twin `event_text_X` (same bounds) and drops
-- the twins whose `events_X` is gone (a retention cut, a partition dropped by hand). Returns how
-- many it created and dropped. SECURITY DEFINER, like the partition function that calls it.
CREATE OR REPLACE FUNCTION guetteur_pair_text_partitions() RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public AS $$
DECLARE
    part record;
    changed integer := 0;
BEGIN
    FOR part IN
        SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'public.events'::regclass AND c.relname LIKE 'events\_%'
          AND to_regclass(format('public.%I', 'event_text_' || substr(c.relname, 8))) IS NULL
    LOOP
        EXECUTE format('CREATE TABLE public.%I PARTITION OF public.event_text %s',
                       'event_text_' || substr(part.name, 8), part.bound);
        changed := changed + 1;
    END LOOP;
    FOR part IN
        SELECT c.relname AS name
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'public.event_text'::regclass AND c.relname LIKE 'event\_text\_%'
          AND to_regclass(format('public.%I', 'events_' || substr(c.relname, 12))) IS NULL
    LOOP
        EXECUTE format('DROP TABLE public.%I', part.name);
        changed := changed + 1;
    END LOOP;
    RETURN changed;
END $$;
REVOKE ALL ON FUNCTION guetteur_pair_text_partitions() FROM PUBLIC;

-- Migration 0001's partition function keeps its body under a new name, and the name callers use
-- (the writer, the partition helper) now also pairs what it created.
ALTER FUNCTION guetteur_ensure_event_partitions(integer) RENAME TO guetteur_ensure_event_days;
CREATE FUNCTION guetteur_ensure_event_partitions(days_ahead integer) RETURNS date
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public AS $$
DECLARE
    last_day date := public.guetteur_ensure_event_days(days_ahead);
BEGIN
    PERFORM public.guetteur_pair_text_partitions();
    RETURN last_day;
END $$;
REVOKE ALL ON FUNCTION guetteur_ensure_event_partitions(integer) FROM PUBLIC;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'guetteur_app') THEN
        GRANT EXECUTE ON FUNCTION guetteur_ensure_event_partitions(integer) TO guetteur_app;
        REVOKE EXECUTE ON FUNCTION guetteur_ensure_event_days(integer) FROM guetteur_app;
    END IF;
END $$;

-- The events stored before this migration.
SELECT guetteur_pair_text_partitions();
INSERT INTO event_text (ingested, ts, id, m)
SELECT ingested, ts, id, CASE jsonb_typeof(doc -> 'message') WHEN 'string' THEN lower(doc ->> 'message') END
FROM events WHERE doc ? 'message';
