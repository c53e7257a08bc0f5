-- 0785: retention (owner: store area, see docs/storage.md "Retention" and src/guetteur/store/retention.py).
-- Runs as the database owner, in one transaction.
--
-- Three SECURITY DEFINER functions delete what is older than the retention settings: whole day
-- partitions of `events`, detection `hits`, and closed alerts with their rows. They belong to the
-- owner and are NOT granted to the application role: Guetteur runs them with the owner's
-- connection (the retention task of `guetteur up`, `guetteur retention run`). So the API and the
-- workers, which connect as `guetteur_app`, still cannot delete an event. Every cut that removed
-- something is recorded in `retention_log` (append-only), which `guetteur verify` reads to tell a
-- day cut by retention (links still checked, contents gone by design) from rows that vanished.

CREATE TABLE retention_log (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at              timestamptz NOT NULL DEFAULT now(),
    kind            text        NOT NULL CHECK (kind IN ('events', 'hits', 'alerts')),
    days            integer     NOT NULL,              -- the retention setting applied
    cutoff          timestamptz NOT NULL,              -- what is older is deleted (events: a UTC midnight)
    partitions      text[]      NOT NULL DEFAULT '{}', -- events: the day partitions dropped
    rows_deleted    bigint      NOT NULL DEFAULT 0,    -- events: rows their batches held; hits; alerts
    batches         bigint      NOT NULL DEFAULT 0,    -- events: chain batches whose content went
    last_batch_seq  bigint,                            -- events: the newest of them in the chain...
    last_chain_hash bytea,                             -- ...and its chain hash
    detail          jsonb       NOT NULL DEFAULT '{}', -- alerts: history, links and scores deleted with them
    actor           text        NOT NULL,              -- who asked: "retention" (the task), "cli"...
    session_role    text        NOT NULL DEFAULT session_user
);
CREATE TRIGGER retention_log_append_only BEFORE UPDATE OR DELETE ON retention_log
    FOR EACH ROW EXECUTE FUNCTION guetteur_forbid_change();
CREATE TRIGGER retention_log_no_truncate BEFORE TRUNCATE ON retention_log
    FOR EACH STATEMENT EXECUTE FUNCTION guetteur_forbid_change();
SELECT guetteur_grant_app('SELECT', 'retention_log');

-- The batches of a day (retention counts what a partition held; verify is unchanged).
CREATE INDEX batches_stored_at ON batches (stored_at);
-- Closed alerts by their last change (the alerts retention).
CREATE INDEX alerts_closed_updated ON alerts (updated) WHERE status = 'closed';

-- Drop the day partitions `events_YYYYMMDD` strictly older than today (UTC) - p_days, oldest
-- first, at most p_max_partitions of them (1..400), and the per-minute counts of those days
-- (event_rollup, 0780). p_days >= 1, so today and the future are never touched. Names that are
-- not a valid `events_YYYYMMDD` are left alone. Batches rows stay (the chain's links remain
-- checkable). With p_dry_run nothing changes and nothing is recorded; the same figures come back.
-- The caller sets lock_timeout: dropping a partition locks `events` briefly.
CREATE OR REPLACE FUNCTION guetteur_retention_events(p_days integer, p_max_partitions integer, p_actor text,
                                                     p_dry_run boolean)
RETURNS TABLE (cutoff date, partitions text[], rows_deleted bigint, batches bigint, last_batch_seq bigint,
               last_chain_hash bytea, more boolean)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public SET TimeZone = 'UTC' AS $$
DECLARE
    v_cutoff date;
    v_limit integer := least(greatest(coalesce(p_max_partitions, 1), 1), 400);
    v_part text;
    v_day date;
    v_found integer := 0;
    v_count bigint;
    v_rows bigint;
    v_seq bigint;
    v_hash bytea;
BEGIN
    IF p_days IS NULL OR p_days < 1 OR p_days > 36500 THEN
        RAISE EXCEPTION 'retention days must be between 1 and 36500 (0 = keep forever is not a cut): %', p_days
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_actor IS NULL OR length(p_actor) = 0 OR length(p_actor) > 200 THEN
        RAISE EXCEPTION 'retention actor: 1 to 200 characters' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM pg_advisory_xact_lock(7240103);
    v_cutoff := now()::date - p_days;
    cutoff := v_cutoff;
    partitions := '{}';
    rows_deleted := 0;
    batches := 0;
    more := false;
    FOR v_part IN
        SELECT c.relname FROM pg_inherits i
            JOIN pg_class c ON c.oid = i.inhrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE i.inhparent = 'public.events'::regclass AND n.nspname = 'public'
          AND c.relname ~ '^events_[0-9]{8}$' AND c.relname < 'events_' || to_char(v_cutoff, 'YYYYMMDD')
        ORDER BY c.relname
    LOOP
        BEGIN
            v_day := to_date(substr(v_part, 8), 'YYYYMMDD');
        EXCEPTION WHEN others THEN
            CONTINUE;  -- not a day: not ours to drop
        END;
        IF to_char(v_day, 'YYYYMMDD') <> substr(v_part, 8) OR v_day >= v_cutoff THEN
            CONTINUE;
        END IF;
        IF v_found >= v_limit THEN
            more := true;
            EXIT;
        END IF;
        v_found := v_found + 1;
        SELECT count(*), coalesce(sum(b.row_count), 0) INTO v_count, v_rows
            FROM batches b WHERE b.stored_at >= v_day::timestamptz AND b.stored_at < (v_day + 1)::timestamptz;
        SELECT b.seq, b.chain_hash INTO v_seq, v_hash
            FROM batches b WHERE b.stored_at >= v_day::timestamptz AND b.stored_at < (v_day + 1)::timestamptz
            ORDER BY b.seq DESC LIMIT 1;
        IF v_seq IS NOT NULL AND (last_batch_seq IS NULL OR v_seq > last_batch_seq) THEN
            last_batch_seq := v_seq;
            last_chain_hash := v_hash;
        END IF;
        partitions := partitions || v_part;
        rows_deleted := rows_deleted + v_rows;
        batches := batches + v_count;
        IF NOT p_dry_run THEN
            EXECUTE format('DROP TABLE public.%I', v_part);
            DELETE FROM event_rollup r WHERE r.day = v_day;
        END IF;
    END LOOP;
    IF NOT p_dry_run AND cardinality(partitions) > 0 THEN
        INSERT INTO retention_log (kind, days, cutoff, partitions, rows_deleted, batches, last_batch_seq,
                                   last_chain_hash, actor)
        VALUES ('events', p_days, v_cutoff::timestamptz, partitions, rows_deleted, batches, last_batch_seq,
                last_chain_hash, p_actor);
    END IF;
    RETURN NEXT;
END $$;
REVOKE ALL ON FUNCTION guetteur_retention_events(integer, integer, text, boolean) FROM PUBLIC;

-- Delete at most p_limit (1..1,000,000) hits created before now() - p_days, oldest first.
-- `more`: some are left (call again). Their alert links (alert_hits) go with their alerts.
CREATE OR REPLACE FUNCTION guetteur_retention_hits(p_days integer, p_limit integer, p_actor text,
                                                   p_dry_run boolean)
RETURNS TABLE (cutoff timestamptz, rows_deleted bigint, more boolean)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public SET TimeZone = 'UTC' AS $$
DECLARE
    v_limit integer := least(greatest(coalesce(p_limit, 1), 1), 1000000);
BEGIN
    IF p_days IS NULL OR p_days < 1 OR p_days > 36500 THEN
        RAISE EXCEPTION 'retention days must be between 1 and 36500: %', p_days
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_actor IS NULL OR length(p_actor) = 0 OR length(p_actor) > 200 THEN
        RAISE EXCEPTION 'retention actor: 1 to 200 characters' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM pg_advisory_xact_lock(7240104);
    cutoff := now() - make_interval(days => p_days);
    IF p_dry_run THEN
        SELECT count(*) INTO rows_deleted FROM hits h WHERE h.created < cutoff;
        more := false;
        RETURN NEXT;
        RETURN;
    END IF;
    DELETE FROM hits h WHERE h.id IN (
        SELECT h2.id FROM hits h2 WHERE h2.created < cutoff ORDER BY h2.id LIMIT v_limit);
    GET DIAGNOSTICS rows_deleted = ROW_COUNT;
    more := rows_deleted >= v_limit;
    IF rows_deleted > 0 THEN
        INSERT INTO retention_log (kind, days, cutoff, rows_deleted, actor)
        VALUES ('hits', p_days, cutoff, rows_deleted, p_actor);
    END IF;
    RETURN NEXT;
END $$;
REVOKE ALL ON FUNCTION guetteur_retention_hits(integer, integer, text, boolean) FROM PUBLIC;

-- Delete at most p_limit (1..100,000) CLOSED alerts whose last change (`updated`) is before
-- now() - p_days, with their history, hit links (alert_hits) and risk rows (hit_risk,
-- risk_contributions). Open and acknowledged alerts are never deleted, however old.
CREATE OR REPLACE FUNCTION guetteur_retention_alerts(p_days integer, p_limit integer, p_actor text,
                                                     p_dry_run boolean)
RETURNS TABLE (cutoff timestamptz, rows_deleted bigint, more boolean)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public SET TimeZone = 'UTC' AS $$
DECLARE
    v_limit integer := least(greatest(coalesce(p_limit, 1), 1), 100000);
    v_ids bigint[];
    v_history bigint;
    v_links bigint;
    v_scores bigint;
    v_contributions bigint;
BEGIN
    IF p_days IS NULL OR p_days < 1 OR p_days > 36500 THEN
        RAISE EXCEPTION 'retention days must be between 1 and 36500: %', p_days
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_actor IS NULL OR length(p_actor) = 0 OR length(p_actor) > 200 THEN
        RAISE EXCEPTION 'retention actor: 1 to 200 characters' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM pg_advisory_xact_lock(7240105);
    cutoff := now() - make_interval(days => p_days);
    IF p_dry_run THEN
        SELECT count(*) INTO rows_deleted FROM alerts a WHERE a.status = 'closed' AND a.updated < cutoff;
        more := false;
        RETURN NEXT;
        RETURN;
    END IF;
    -- FOR UPDATE: an alert reopened meanwhile waits for us, or we see it open and keep it
    SELECT coalesce(array_agg(x.id), '{}') INTO v_ids FROM (
        SELECT a.id FROM alerts a WHERE a.status = 'closed' AND a.updated < cutoff
        ORDER BY a.updated, a.id LIMIT v_limit FOR UPDATE SKIP LOCKED) x;
    rows_deleted := cardinality(v_ids);
    more := rows_deleted >= v_limit;
    IF rows_deleted = 0 THEN
        RETURN NEXT;
        RETURN;
    END IF;
    DELETE FROM alert_history WHERE alert_id = ANY (v_ids);
    GET DIAGNOSTICS v_history = ROW_COUNT;
    DELETE FROM alert_hits WHERE alert_id = ANY (v_ids);
    GET DIAGNOSTICS v_links = ROW_COUNT;
    DELETE FROM hit_risk WHERE alert_id = ANY (v_ids);
    GET DIAGNOSTICS v_scores = ROW_COUNT;
    DELETE FROM risk_contributions WHERE alert_id = ANY (v_ids);
    GET DIAGNOSTICS v_contributions = ROW_COUNT;
    DELETE FROM alerts WHERE id = ANY (v_ids);
    INSERT INTO retention_log (kind, days, cutoff, rows_deleted, detail, actor)
    VALUES ('alerts', p_days, cutoff, rows_deleted,
            jsonb_build_object('history', v_history, 'hit_links', v_links, 'hit_scores', v_scores,
                               'risk_contributions', v_contributions), p_actor);
    RETURN NEXT;
END $$;
REVOKE ALL ON FUNCTION guetteur_retention_alerts(integer, integer, text, boolean) FROM PUBLIC;
