-- 0730: statistical detection state (owner: stats area, see docs/statistics.md).
-- Runs as the database owner, in one transaction.

-- What the statistical detectors learnt, so a restart does not start them from nothing:
-- one row per part (`frequency`: the series and their baselines; `sources`: each host's and
-- each source type's last arrival and usual gap; `first_seen:<rule id>`: the values a
-- first-seen rule has seen and when). `data` is the part's orjson snapshot, replaced on every
-- save (`guetteur.store.stats`); `version` lets a newer Guetteur ignore an older layout.
CREATE TABLE stats_state (
    part        text        PRIMARY KEY,
    version     integer     NOT NULL,
    saved_at    timestamptz NOT NULL DEFAULT now(),
    entries     integer     NOT NULL DEFAULT 0,   -- series, sources or values held (for the health page)
    data        bytea       NOT NULL
);
SELECT guetteur_grant_app('SELECT, INSERT, UPDATE, DELETE', 'stats_state');
