-- 0770: the login throttle's counters (owner: auth area, see docs/security.md "Guessing").
-- Runs as the database owner, in one transaction.

-- Failed logins per account name (lower-cased) and per source address, kept in the database so a
-- restart does not give an attacker a fresh start and several API processes share one count.
-- Times are the database's clock (`now()`), the same for every process. A row whose last failure
-- is older than its forgiveness period and whose lockout has ended counts for nothing: the
-- throttle deletes such rows a few at a time on each failure (guetteur.store.login_throttle), so
-- the table holds only the keys that failed recently.
CREATE TABLE login_failures (
    kind         text        NOT NULL CHECK (kind IN ('account', 'address')),
    key          text        NOT NULL,
    failures     integer     NOT NULL,
    last_at      timestamptz NOT NULL,
    locked_until timestamptz,
    PRIMARY KEY (kind, key)
);
CREATE INDEX login_failures_last_at ON login_failures (last_at);
SELECT guetteur_grant_app('SELECT, INSERT, UPDATE, DELETE', 'login_failures');

-- One failed login for a key: the count starts again after `forgive` seconds without a failure;
-- from the `free`-th failure on, the key is locked for backoff * 2^(failures - free) seconds,
-- at most `backoff_max`. Returns the count.
CREATE OR REPLACE FUNCTION guetteur_login_failed(p_kind text, p_key text, p_free integer, p_backoff float8,
                                                 p_backoff_max float8, p_forgive float8) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    INSERT INTO login_failures AS f (kind, key, failures, last_at)
    VALUES (p_kind, p_key, 1, now())
    ON CONFLICT (kind, key) DO UPDATE SET
        failures = CASE WHEN now() - f.last_at > make_interval(secs => p_forgive) THEN 1
                        ELSE f.failures + 1 END,
        last_at = now()
    RETURNING failures INTO n;
    IF n >= p_free THEN
        UPDATE login_failures
        SET locked_until = now() + make_interval(secs => least(p_backoff_max, p_backoff * 2 ^ least(n - p_free, 30)))
        WHERE kind = p_kind AND key = p_key;
    END IF;
    RETURN n;
END $$;
