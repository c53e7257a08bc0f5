-- 0710: notifications of alerts (owner: notify area, see docs/notifications.md).
-- Runs as the database owner, in one transaction. No foreign key to the alert tables
-- (0700): the notifier reads them by id and must not depend on their migration order.

-- Where notifications go. `config` holds what may be shown (host, port, recipients, URL,
-- format); `secret` the Fernet token of the secrets (SMTP password, HMAC key), encrypted
-- with `data_dir/notify.key`; the API never returns it.
CREATE TABLE notify_channels (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text        NOT NULL UNIQUE,
    kind        text        NOT NULL CHECK (kind IN ('email', 'webhook')),
    config      jsonb       NOT NULL DEFAULT '{}',
    secret      bytea,
    enabled     boolean     NOT NULL DEFAULT true,
    created     timestamptz NOT NULL DEFAULT now(),
    updated     timestamptz NOT NULL DEFAULT now()
);
SELECT guetteur_grant_app('SELECT, INSERT, UPDATE, DELETE', 'notify_channels');

-- Which alert changes go to which channel: `match` = {severities, rules, tags, entity}
-- (all given must match; an empty match takes every alert), immediately or in a digest.
CREATE TABLE notify_routes (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name           text        NOT NULL UNIQUE,
    channel_id     bigint      NOT NULL REFERENCES notify_channels (id) ON DELETE CASCADE,
    match          jsonb       NOT NULL DEFAULT '{}',
    mode           text        NOT NULL CHECK (mode IN ('immediate', 'digest')),
    digest_minutes integer     NOT NULL DEFAULT 60 CHECK (digest_minutes BETWEEN 1 AND 10080),
    enabled        boolean     NOT NULL DEFAULT true,
    created        timestamptz NOT NULL DEFAULT now()
);
SELECT guetteur_grant_app('SELECT, INSERT, UPDATE, DELETE', 'notify_routes');

-- How far the router has read `alert_history` (created/escalated rows, by id).
CREATE TABLE notify_cursor (
    name        text        PRIMARY KEY,
    history_id  bigint      NOT NULL,
    updated     timestamptz NOT NULL DEFAULT now()
);
SELECT guetteur_grant_app('SELECT, INSERT, UPDATE', 'notify_cursor');

-- Messages to deliver, written in the transaction that advances the cursor. `payload` is
-- what the message says (alert snapshots or a digest/summary), rendered per channel at
-- delivery. pending -> sent, or -> dead after `notify.max_attempts` (or an unrecoverable error).
CREATE TABLE notify_outbox (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel_id    bigint      NOT NULL REFERENCES notify_channels (id) ON DELETE CASCADE,
    route_id      bigint,
    kind          text        NOT NULL CHECK (kind IN ('alert', 'digest', 'summary')),
    payload       jsonb       NOT NULL,
    status        text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'dead')),
    attempts      integer     NOT NULL DEFAULT 0,
    next_attempt  timestamptz NOT NULL DEFAULT now(),
    last_error    text,
    created       timestamptz NOT NULL DEFAULT now(),
    sent_at       timestamptz
);
CREATE INDEX notify_outbox_due ON notify_outbox (next_attempt) WHERE status = 'pending';
CREATE INDEX notify_outbox_dead ON notify_outbox (id) WHERE status = 'dead';
SELECT guetteur_grant_app('SELECT, INSERT, UPDATE, DELETE', 'notify_outbox');

-- Alert changes held for a later message: a route's digest (`digest:<route id>`) or what a
-- channel's throttle held back (`throttle:<channel id>`). Bounded: a count per severity and
-- a sample of at most `notify.summary_sample` alerts, whatever the storm.
CREATE TABLE notify_pending (
    key          text        PRIMARY KEY,
    channel_id   bigint      NOT NULL REFERENCES notify_channels (id) ON DELETE CASCADE,
    route_id     bigint,
    kind         text        NOT NULL CHECK (kind IN ('digest', 'summary')),
    window_start timestamptz NOT NULL,
    window_end   timestamptz NOT NULL,
    total        bigint      NOT NULL DEFAULT 0,
    by_severity  jsonb       NOT NULL DEFAULT '{}',
    sample       jsonb       NOT NULL DEFAULT '[]'
);
CREATE INDEX notify_pending_due ON notify_pending (window_end);
SELECT guetteur_grant_app('SELECT, INSERT, UPDATE, DELETE', 'notify_pending');

-- Each channel's throttle window: messages routed to it immediately since `window_start`.
CREATE TABLE notify_throttle (
    channel_id   bigint      PRIMARY KEY REFERENCES notify_channels (id) ON DELETE CASCADE,
    window_start timestamptz NOT NULL,
    sent         integer     NOT NULL DEFAULT 0
);
SELECT guetteur_grant_app('SELECT, INSERT, UPDATE, DELETE', 'notify_throttle');
