-- 0500: search (owner: search area, see docs/search.md). Runs as the database owner, in one
-- transaction. No index on `events`: the figures of bench/search.py did not call for one
-- (see docs/search.md "Speed"), and every index taxes every insert.

-- A document value as an address, or NULL when it is not one (never an error, so a KQL query on
-- an `ip` field cannot fail on a stored value). Plain addresses only: no prefix, no zone.
CREATE OR REPLACE FUNCTION guetteur_try_inet(value text) RETURNS inet
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
    IF length(value) > 64 OR position('/' in value) > 0 OR position('%' in value) > 0 THEN
        RETURN NULL;
    END IF;
    RETURN value::inet;
EXCEPTION WHEN others THEN
    RETURN NULL;
END $$;

-- Saved searches, per person (`owner` is the principal's name: a user, or an API key's name).
CREATE TABLE saved_searches (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner      text        NOT NULL,
    name       text        NOT NULL,
    query      text        NOT NULL,
    time_range text,                               -- e.g. "now-15m" (optional)
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (owner, name)
);
SELECT guetteur_grant_app('SELECT, INSERT, UPDATE, DELETE', 'saved_searches');
