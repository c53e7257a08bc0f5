-- 0100: detection state and hits (owner: detect area, see docs/correlation.md).
-- Runs as the database owner, in one transaction.

-- Correlation window snapshots (`guetteur.detect.state`): one row per engine instance
-- (`main` on a single node; one per partition of the entity key when scaled out).
-- `data` is `CorrelationEngine.snapshot()` (orjson bytes), replaced on every save.
CREATE TABLE correlation_state (
    engine      text        PRIMARY KEY,
    version     integer     NOT NULL,
    saved_at    timestamptz NOT NULL DEFAULT now(),
    rules       integer     NOT NULL DEFAULT 0,   -- rules with open windows (for the health page)
    groups      integer     NOT NULL DEFAULT 0,   -- open groups
    data        bytea       NOT NULL
);
SELECT guetteur_grant_app('SELECT, INSERT, UPDATE, DELETE', 'correlation_state');

-- Detections as produced by `detect/` (stateless rules and correlations), before alerting
-- groups them. Append-mostly; retention deletes old rows as the owner.
CREATE TABLE hits (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created      timestamptz NOT NULL DEFAULT now(),
    rule_id      text        NOT NULL,
    rule_title   text        NOT NULL,
    level        text        NOT NULL,
    tags         text[]      NOT NULL DEFAULT '{}',
    event_ids    text[]      NOT NULL DEFAULT '{}',   -- event.id of the contributing events (may hold NULL)
    event_times  timestamptz[] NOT NULL DEFAULT '{}', -- their @timestamp, same order
    group_key    jsonb,                               -- correlations: {group-by field: value}
    correlation  text,                                -- correlations: event_count, value_count, temporal...
    extra        jsonb
);
CREATE INDEX hits_created_brin ON hits USING brin (created) WITH (pages_per_range = 32, autosummarize = on);
CREATE INDEX hits_rule_created ON hits (rule_id, created);
SELECT guetteur_grant_app('SELECT, INSERT', 'hits');
