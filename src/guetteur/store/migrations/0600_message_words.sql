-- 0600: the function of an optional word index on `message` (owner: search area, see
-- docs/search.md). Runs as the database owner, in one transaction.

-- The `message` words of a document, as the search language defines them (guetteur.search.values:
-- lower-cased runs of letters, digits and `_`, joined by single dots), from the string value of
-- `message` or from each string element of an array value; `{}` when there is none. It splits with
-- the same PostgreSQL `lower` and `[[:alnum:]_]` class as the compiler's exact regular expression,
-- so a row that regular expression matches always holds the query's words here: the compiler
-- ANDs `guetteur_message_words(doc) && / @> words` before the exact test, and the GIN index below
-- answers that part. Words longer than 256 bytes are left out (a GIN key must fit in a third of a
-- page, and an event must never fail to store for its message); the compiler does not use the
-- index for such a word.
CREATE OR REPLACE FUNCTION guetteur_message_words(doc jsonb) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(DISTINCT w.word), '{}')
    FROM (
        SELECT doc ->> 'message' AS t WHERE jsonb_typeof(doc -> 'message') = 'string'
        UNION ALL
        SELECT e #>> '{}' FROM jsonb_array_elements(
            CASE jsonb_typeof(doc -> 'message') WHEN 'array' THEN doc -> 'message' END) AS e
        WHERE jsonb_typeof(e) = 'string'
    ) AS s,
    LATERAL regexp_matches(lower(s.t), '[[:alnum:]_]+(?:\.[[:alnum:]_]+)*', 'g') AS m,
    LATERAL (SELECT m[1] AS word) AS w
    WHERE octet_length(w.word) <= 256
$$;

-- The index itself is NOT created here: measured, it costs the writer far more than the 10% budget
-- (bench/search.py --ingest-cost: 41-51% fewer rows/s; end to end within noise, docs/search.md),
-- for free-text counts over long ranges (5M events, 24 h: 7.2 s -> 0.1 s). An operator who wants
-- that trade creates it (docs/search.md, "Speed"):
--   CREATE INDEX events_message_words ON events USING gin (guetteur_message_words(doc));
-- and the search service uses it as soon as it exists (guetteur.store.search.has_word_index).
