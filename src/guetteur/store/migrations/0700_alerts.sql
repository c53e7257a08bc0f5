-- 0700: alerts (owner: alert area, see docs/alerts.md). Runs as the database owner, in one
-- transaction.
--
-- Hits (0100) are the only input. The alert manager (`guetteur.alert.manager`, one task in the
-- `guetteur up` main process) turns each hit into a new alert or an update of an open one, and
-- writes, in one transaction: the alert, its `alert_history` system row (created / updated /
-- escalated / silenced), the `alert_hits` link of every hit it consumed, and its cursor. The
-- link's primary key on `hit_id` makes "each hit once" a database fact, across restarts.

-- Silences: data, not code. `matchers` is a JSON array of {"field", "value"} objects, all of
-- which must match (field `rule_id`, `tags`, or an entity field such as `host.name`,
-- `source.ip`; values are exact, `*`/`?` wildcards, or CIDR for addresses). An expired silence
-- stays (`ends_at` in the past); expiring one early sets `ends_at` and `expired_by`.
CREATE TABLE silences (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created     timestamptz NOT NULL DEFAULT now(),
    updated     timestamptz NOT NULL DEFAULT now(),
    author      text        NOT NULL,
    reason      text        NOT NULL,
    matchers    jsonb       NOT NULL,
    starts_at   timestamptz NOT NULL,
    ends_at     timestamptz NOT NULL,
    expired_by  text,
    CHECK (ends_at > starts_at),
    CHECK (jsonb_typeof(matchers) = 'array' AND jsonb_array_length(matchers) > 0)
);
CREATE INDEX silences_ends_at ON silences (ends_at);
SELECT guetteur_grant_app('SELECT, INSERT, UPDATE', 'silences');

CREATE TABLE alerts (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rule_id      text        NOT NULL,
    rule_title   text        NOT NULL,
    severity     text        NOT NULL CHECK (severity IN ('low', 'medium', 'critical')),
    status       text        NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged', 'closed')),
    entity       jsonb       NOT NULL DEFAULT '{}',   -- {"host.name": ..., "source.ip": ...}
    entity_key   text        NOT NULL DEFAULT '',     -- canonical text of `entity` (grouping key)
    tags         text[]      NOT NULL DEFAULT '{}',
    techniques   text[]      NOT NULL DEFAULT '{}',   -- ATT&CK technique ids (T1110.001)
    tactics      text[]      NOT NULL DEFAULT '{}',   -- ATT&CK tactic shortnames (credential-access)
    first_seen   timestamptz NOT NULL,                -- event time of the first contributing event
    last_seen    timestamptz NOT NULL,                -- event time of the last one
    count        bigint      NOT NULL DEFAULT 1,      -- hits grouped into this alert
    event_ids    text[]      NOT NULL DEFAULT '{}',   -- the first contributing event ids (bounded)
    event_total  bigint      NOT NULL DEFAULT 0,      -- every contributing event, counted
    risk_score   smallint    NOT NULL DEFAULT 0 CHECK (risk_score BETWEEN 0 AND 100),
    silenced     boolean     NOT NULL DEFAULT false,
    silence_id   bigint      REFERENCES silences (id),
    assignee     bigint      REFERENCES users (id),
    close_reason text        CHECK (close_reason IN ('true_positive', 'false_positive', 'benign_positive',
                                                     'duplicate', 'other')),
    created      timestamptz NOT NULL DEFAULT now(),
    updated      timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'closed') = (close_reason IS NOT NULL))
);
-- the manager's look-up: the newest not-closed alert of a (rule, entity)
CREATE INDEX alerts_grouping ON alerts (rule_id, entity_key, last_seen DESC) WHERE status <> 'closed';
-- the list's keyset order (newest activity first) and its common filters
CREATE INDEX alerts_last_seen ON alerts (last_seen DESC, id DESC);
CREATE INDEX alerts_status ON alerts (status, last_seen DESC);
CREATE INDEX alerts_techniques ON alerts USING gin (techniques);
CREATE INDEX alerts_entity ON alerts USING gin (entity jsonb_path_ops);
CREATE INDEX alerts_rule_created ON alerts (rule_id, created);
SELECT guetteur_grant_app('SELECT, INSERT, UPDATE', 'alerts');

-- Every change of an alert: who (`system` or a user name), when, what. System rows (created,
-- updated, escalated, silenced) come from the single manager task, in the transaction of the
-- change, so their ids commit in order (notifications read `created`/`escalated` by id).
CREATE TABLE alert_history (
    id        bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id  bigint      NOT NULL REFERENCES alerts (id),
    at        timestamptz NOT NULL DEFAULT now(),
    actor     text        NOT NULL,
    action    text        NOT NULL CHECK (action IN ('created', 'updated', 'escalated', 'acknowledged', 'closed',
                                                     'reopened', 'assigned', 'commented', 'silenced')),
    details   jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX alert_history_alert ON alert_history (alert_id, id);
CREATE INDEX alert_history_action ON alert_history (action, id) WHERE action IN ('created', 'escalated');
SELECT guetteur_grant_app('SELECT, INSERT', 'alert_history');

-- Which hit went into which alert: one row per hit, ever.
CREATE TABLE alert_hits (
    hit_id    bigint      PRIMARY KEY,
    alert_id  bigint      NOT NULL REFERENCES alerts (id),
    event_time timestamptz
);
CREATE INDEX alert_hits_alert ON alert_hits (alert_id);
SELECT guetteur_grant_app('SELECT, INSERT', 'alert_hits');

-- The manager's cursor: every hit with id <= hit_id has its link (later ids may too).
CREATE TABLE alert_cursor (
    name      text        PRIMARY KEY,
    hit_id    bigint      NOT NULL,
    updated   timestamptz NOT NULL DEFAULT now()
);
SELECT guetteur_grant_app('SELECT, INSERT, UPDATE', 'alert_cursor');
