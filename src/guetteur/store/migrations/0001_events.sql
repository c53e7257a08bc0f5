-- 0001: the append-only event store (day partitions by ingest time), its hash chain, API keys.
-- Runs as the database owner, in one transaction. Objects live in the `public` schema.

-- The restricted application role. Created when the migrating user may (superuser or
-- CREATEROLE); otherwise a DBA creates it, or Guetteur falls back to the owner role.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'guetteur_app') THEN
        BEGIN
            CREATE ROLE guetteur_app LOGIN;
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE WARNING 'cannot create role guetteur_app: Guetteur will connect as the owner';
        END;
    END IF;
END $$;

-- GRANT to the application role when it exists (later migrations use this too).
-- `privileges` is migration text, never user input; it is checked to be plain words.
CREATE OR REPLACE FUNCTION guetteur_grant_app(privileges text, target regclass) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF privileges !~ '^[A-Za-z ,()_]+$' THEN
        RAISE EXCEPTION 'bad privilege list %', privileges;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'guetteur_app') THEN
        EXECUTE format('GRANT %s ON %s TO guetteur_app', privileges, target);
    END IF;
END $$;

-- Refuses any change to an append-only table (row UPDATE/DELETE, statement TRUNCATE).
CREATE OR REPLACE FUNCTION guetteur_forbid_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'table % is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TABLE events (
    id             uuid        NOT NULL,          -- UUIDv7 (guetteur.store.ids), = doc event.id
    ts             timestamptz NOT NULL,          -- @timestamp (write time when it does not parse)
    ingested       timestamptz NOT NULL DEFAULT now(),  -- storage time: one value per batch
    batch_id       bigint      NOT NULL,
    host           text,                          -- host.name
    user_name      text,                          -- user.name
    source_ip      inet,                          -- source.ip
    destination_ip inet,                          -- destination.ip
    category       text[],                        -- event.category
    action         text,                          -- event.action
    outcome        text,                          -- event.outcome
    severity       smallint,                      -- event.severity
    source_type    text,                          -- event.dataset
    doc            jsonb       NOT NULL,          -- the ECS document without event.original
    original       text                           -- event.original
) PARTITION BY RANGE (ingested);

-- BRIN only on time: tiny and nearly free to maintain on an append-only table. minmax-multi on
-- `ts` so a few late or far-future events do not widen every block range.
CREATE INDEX events_ts_brin ON events USING brin (ts timestamptz_minmax_multi_ops)
    WITH (pages_per_range = 32, autosummarize = on);
CREATE INDEX events_ingested_brin ON events USING brin (ingested)
    WITH (pages_per_range = 32, autosummarize = on);
-- The batch hash and `verify` read one batch at a time; batch ids grow monotonically and repeat
-- per row, so this B-tree is appended at its right edge and deduplicated (small, cheap).
CREATE INDEX events_batch_id ON events (batch_id);

CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION guetteur_forbid_change();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION guetteur_forbid_change();

SELECT guetteur_grant_app('SELECT, INSERT', 'events');

-- One partition per UTC day of `ingested`, from today to today + days_ahead (capped at 60).
-- SECURITY DEFINER: the application role may ask for partitions but not create tables itself.
CREATE OR REPLACE FUNCTION guetteur_ensure_event_partitions(days_ahead integer) RETURNS date
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public SET TimeZone = 'UTC' AS $$
DECLARE
    first_day date := now()::date;
    last_day date := first_day + least(greatest(days_ahead, 0), 60);
    day date := first_day;
    part text;
BEGIN
    PERFORM pg_advisory_xact_lock(7240101);
    WHILE day <= last_day LOOP
        part := 'events_' || to_char(day, 'YYYYMMDD');
        IF to_regclass(format('public.%I', part)) IS NULL THEN
            EXECUTE format('CREATE TABLE public.%I PARTITION OF public.events FOR VALUES FROM (%L) TO (%L)',
                           part, day::timestamptz, (day + 1)::timestamptz);
        END IF;
        day := day + 1;
    END LOOP;
    RETURN last_day;
END $$;
REVOKE ALL ON FUNCTION guetteur_ensure_event_partitions(integer) FROM PUBLIC;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'guetteur_app') THEN
        GRANT EXECUTE ON FUNCTION guetteur_ensure_event_partitions(integer) TO guetteur_app;
    END IF;
END $$;

-- The hash chain: one row per stored batch, in chain order `seq`.
CREATE SEQUENCE event_batch_ids;
CREATE TABLE batches (
    batch_id       bigint      PRIMARY KEY,
    seq            bigint      NOT NULL UNIQUE,
    stored_at      timestamptz NOT NULL,          -- = events.ingested of the batch's rows
    row_count      integer     NOT NULL,
    digest_version smallint    NOT NULL DEFAULT 1,
    content_hash   bytea       NOT NULL,
    prev_hash      bytea       NOT NULL,
    chain_hash     bytea       NOT NULL
);
CREATE TRIGGER batches_append_only BEFORE UPDATE OR DELETE ON batches
    FOR EACH ROW EXECUTE FUNCTION guetteur_forbid_change();
CREATE TRIGGER batches_no_truncate BEFORE TRUNCATE ON batches
    FOR EACH STATEMENT EXECUTE FUNCTION guetteur_forbid_change();
SELECT guetteur_grant_app('SELECT, INSERT', 'batches');
SELECT guetteur_grant_app('USAGE', 'event_batch_ids');

-- Content digest of one batch, digest_version 1: the SHA-256 of the concatenated SHA-256 of
-- every row's canonical text (every stored column, in this order), rows in id order.
-- Output settings are pinned so the text does not depend on the session.
CREATE OR REPLACE FUNCTION guetteur_batch_digest(p_batch bigint, p_ingested timestamptz,
                                                 OUT row_count bigint, OUT digest bytea)
LANGUAGE sql STABLE
SET TimeZone = 'UTC' SET DateStyle = 'ISO, YMD' SET IntervalStyle = 'postgres'
SET extra_float_digits = 1 SET bytea_output = 'hex' AS $$
    -- MATERIALIZED: hash each row before the sort, so only (id, hash) pairs are sorted
    -- (otherwise the planner may sort whole row texts and spill to disk).
    WITH r AS MATERIALIZED (
        SELECT e.id, sha256(convert_to(ROW(e.id, e.ts, e.ingested, e.batch_id, e.host, e.user_name,
                    e.source_ip, e.destination_ip, e.category, e.action, e.outcome, e.severity,
                    e.source_type, e.doc, e.original)::text, 'UTF8')) AS d
        FROM events e
        WHERE e.batch_id = p_batch AND e.ingested = p_ingested
    )
    SELECT count(*), sha256(coalesce(string_agg(r.d, ''::bytea ORDER BY r.id, r.d), ''::bytea)) FROM r
$$;

CREATE TABLE api_keys (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text        NOT NULL,
    scope        text        NOT NULL CHECK (scope IN ('ingest', 'read')),
    token_sha256 bytea       NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    last_used_at timestamptz
);
CREATE UNIQUE INDEX api_keys_active_name ON api_keys (name) WHERE revoked_at IS NULL;
SELECT guetteur_grant_app('SELECT, INSERT, UPDATE (revoked_at, last_used_at)', 'api_keys');

-- The application role's password when Guetteur manages it (external servers); owner only.
CREATE TABLE app_role_secret (
    role_name text PRIMARY KEY,
    password  text NOT NULL,
    set_at    timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON app_role_secret FROM PUBLIC;
