-- 0720: risk scores (owner: risk, see docs/risk.md and src/guetteur/alert/risk.py). Runs as the
-- database owner, in one transaction.
--
-- The risk scorer (`guetteur.alert.risk_scorer`, one task in the `guetteur up` main process)
-- reads the hits the alert manager linked to alerts (`alert_hits`, 0700) and writes, in one
-- transaction per round: each hit's score (`hit_risk`), one contribution per entity field of
-- its alert (`risk_contributions`), the risk hits it raises (`hits`), the per-entity alert
-- state (`risk_entities`) and its cursor (`risk_cursor`).

-- The score of each alert hit (0-100): what the API shows as `event.risk_score` for the hit's
-- events (events are append-only and hash-chained: the score is kept beside them, not in them).
-- `factors` says how it was computed ({"base", "tactic", "asset", "anomaly"}).
CREATE TABLE hit_risk (
    hit_id     bigint      PRIMARY KEY,
    alert_id   bigint      NOT NULL,
    score      smallint    NOT NULL CHECK (score BETWEEN 0 AND 100),
    factors    jsonb       NOT NULL DEFAULT '{}',
    created    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX hit_risk_alert ON hit_risk (alert_id);
SELECT guetteur_grant_app('SELECT, INSERT, DELETE', 'hit_risk');

-- What each hit adds to the risk of each entity of its alert (host.name, user.name, source.ip),
-- at the event time of the hit. Risk hits (`guetteur.risk.*`) never contribute. Rows older than
-- the window are deleted by the scorer.
CREATE TABLE risk_contributions (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entity_field  text        NOT NULL,
    entity_value  text        NOT NULL CHECK (length(entity_value) <= 512),
    at            timestamptz NOT NULL,                 -- event time of the hit
    score         smallint    NOT NULL CHECK (score BETWEEN 0 AND 100),
    hit_id        bigint      NOT NULL,
    alert_id      bigint      NOT NULL,
    rule_id       text        NOT NULL,
    rule_title    text        NOT NULL,
    tactics       text[]      NOT NULL DEFAULT '{}'
);
CREATE INDEX risk_contributions_entity ON risk_contributions (entity_field, entity_value, at DESC);
CREATE INDEX risk_contributions_at ON risk_contributions (at);
CREATE INDEX risk_contributions_alert ON risk_contributions (alert_id);
SELECT guetteur_grant_app('SELECT, INSERT, DELETE', 'risk_contributions');

-- When each entity last raised a risk alert (so it raises one per kind per window, not one per hit).
CREATE TABLE risk_entities (
    entity_field     text        NOT NULL,
    entity_value     text        NOT NULL CHECK (length(entity_value) <= 512),
    score_alert_at   timestamptz,       -- event time of the last guetteur.risk.score hit
    score_alerted    real,              -- the score it reported
    tactics_alert_at timestamptz,       -- event time of the last guetteur.risk.tactics hit
    tactics_alerted  text[]      NOT NULL DEFAULT '{}',
    updated          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (entity_field, entity_value)
);
SELECT guetteur_grant_app('SELECT, INSERT, UPDATE, DELETE', 'risk_entities');

-- The scorer's cursor: every alert hit with id <= hit_id has its `hit_risk` row.
CREATE TABLE risk_cursor (
    name      text        PRIMARY KEY,
    hit_id    bigint      NOT NULL,
    updated   timestamptz NOT NULL DEFAULT now()
);
SELECT guetteur_grant_app('SELECT, INSERT, UPDATE', 'risk_cursor');
