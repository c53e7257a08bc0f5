-- 0200: the quarantine (owner: store area, see docs/storage.md "Quarantine").
-- Runs as the database owner, in one transaction.

-- Records PostgreSQL refused for their content (a value a column type cannot hold, a
-- constraint, a detection hit that cannot be stored) are isolated by the writer and stored in
-- their batch, in the events table, in a minimal form tagged `quarantined`: so they are in the
-- batch's content hash and the hash chain (`guetteur verify`), append-only like every event,
-- and dropped only by retention with their day. `original` holds the whole event as ASCII JSON
-- (escapes keep NUL characters and lone surrogates exact). Rows written before this migration
-- in the same form were tagged `store_fallback`.
--
-- This view is how an operator lists them: `SELECT * FROM quarantined_events ORDER BY
-- quarantined_at DESC LIMIT 50`. It scans the events (no index: quarantined rows are rare and
-- an index on the tags would tax every insert). Read-only for the application role.
CREATE VIEW quarantined_events AS
    SELECT e.id,
           e.ingested                       AS quarantined_at,
           e.batch_id,
           e.doc->'input'->>'type'          AS source,
           e.doc->'error'->>'type'          AS error_kind,
           e.doc->'error'->>'code'          AS sqlstate,
           e.doc->'error'->>'message'       AS error,
           e.original                       AS record
    FROM events e
    WHERE e.doc->'tags' ?| ARRAY['quarantined', 'store_fallback'];
SELECT guetteur_grant_app('SELECT', 'quarantined_events');
