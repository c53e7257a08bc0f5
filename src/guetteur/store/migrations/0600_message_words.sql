-- 0600: a word index on `message` (owner: search area, see docs/search.md). Runs as the database
-- owner, in one transaction (on an existing store it builds the index over every stored event).

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

CREATE INDEX IF NOT EXISTS events_message_words ON events USING gin (guetteur_message_words(doc));
