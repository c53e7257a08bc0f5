-- 0760: settings changed from the console, and the results of store verifications
-- (owner: settings area, see docs/security.md "Runtime settings" and "Audit verification").
-- Runs as the database owner, in one transaction.

-- One row per settings section changed at run time (`guetteur.runtime_settings`): its value
-- overrides the configuration file's for that section. Sections are a fixed list; the value is
-- validated by the API's pydantic model before it is written, and every change is audited
-- (audit_log action `settings.change` / `settings.reset`).
CREATE TABLE runtime_settings (
    section     text        PRIMARY KEY CHECK (section IN ('retention', 'criticality', 'stats')),
    value       jsonb       NOT NULL,
    updated_by  text        NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
SELECT guetteur_grant_app('SELECT, INSERT, UPDATE, DELETE', 'runtime_settings');

-- The outcome of each event-store chain verification (`guetteur verify`, or one started from
-- the console), so the console shows the last one without recomputing millions of rows per
-- request. Append-only for the application (SELECT, INSERT).
CREATE TABLE store_verifications (
    id                  bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at          timestamptz NOT NULL,
    finished_at         timestamptz NOT NULL DEFAULT now(),
    started_by          text        NOT NULL,
    ok                  boolean     NOT NULL,
    batches_checked     bigint      NOT NULL,
    rows_checked        bigint      NOT NULL,
    first_broken_batch  bigint,
    reason              text,
    head_hash           text
);
SELECT guetteur_grant_app('SELECT, INSERT', 'store_verifications');
