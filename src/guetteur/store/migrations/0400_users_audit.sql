-- 0400: people on the API and the audit trail (owner: api area, see docs/security.md "Users
-- and roles" and "Audit trail"). Runs as the database owner, in one transaction.

-- People. `password_hash` is an Argon2id PHC string; `totp_secret` the base32 secret once a
-- second factor is confirmed (`totp_pending` while enrolment waits for its first code);
-- `totp_last_step` the last accepted 30-second step, so one code is never accepted twice.
CREATE TABLE users (
    id                bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name              text        NOT NULL UNIQUE,
    role              text        NOT NULL CHECK (role IN ('admin', 'analyst', 'viewer')),
    password_hash     text        NOT NULL,
    totp_secret       text,
    totp_pending      text,
    totp_last_step    bigint,
    created_at        timestamptz NOT NULL DEFAULT now(),
    password_set_at   timestamptz NOT NULL DEFAULT now(),
    disabled_at       timestamptz
);
SELECT guetteur_grant_app('SELECT, INSERT, UPDATE', 'users');

-- A login session: every refresh token of one login belongs to its family. Revoking the
-- family (logout, password change, reuse of a spent refresh token, user disabled) ends the
-- session's access tokens too: they carry the family id (`sid`) and it is checked per request.
CREATE TABLE token_families (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id        bigint      NOT NULL REFERENCES users (id),
    created_at     timestamptz NOT NULL DEFAULT now(),
    revoked_at     timestamptz,
    revoked_reason text
);
CREATE INDEX token_families_user ON token_families (user_id) WHERE revoked_at IS NULL;
SELECT guetteur_grant_app('SELECT, INSERT, UPDATE', 'token_families');

-- Refresh tokens, by SHA-256 only. `used_at` set = spent (rotated): presenting it again
-- revokes its family.
CREATE TABLE refresh_tokens (
    token_sha256 bytea       PRIMARY KEY,
    family_id    bigint      NOT NULL REFERENCES token_families (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
SELECT guetteur_grant_app('SELECT, INSERT, UPDATE', 'refresh_tokens');

-- The audit trail: what people (and the CLI) did. Append-only like the events, and
-- hash-chained row by row: chain_hash = sha256("guetteur-audit-v1" | prev_hash | seq | at |
-- actor | action | outcome | source_address | target | detail) (see store/audit.py);
-- `guetteur verify` recomputes it. `seq` is given under an advisory lock (store/audit.py).
CREATE TABLE audit_log (
    seq            bigint      PRIMARY KEY,
    at             timestamptz NOT NULL,
    actor          text        NOT NULL,   -- user name, "key:<name>", "cli", or the name tried
    action         text        NOT NULL,   -- login, logout, user.create, key.revoke...
    outcome        text        NOT NULL CHECK (outcome IN ('success', 'failure')),
    source_address text        NOT NULL DEFAULT '',
    target         text        NOT NULL DEFAULT '',
    detail         text        NOT NULL DEFAULT '{}',  -- canonical JSON text (hashed as is)
    prev_hash      bytea       NOT NULL,
    chain_hash     bytea       NOT NULL
);
CREATE INDEX audit_log_at ON audit_log USING brin (at);
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION guetteur_forbid_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION guetteur_forbid_change();
SELECT guetteur_grant_app('SELECT, INSERT', 'audit_log');
