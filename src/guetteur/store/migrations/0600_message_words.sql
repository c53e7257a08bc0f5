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
-- This reference path is `guetteur_message_words_matched` (regular-expression matches); the
-- indexed `guetteur_message_words` below finds the same words by one split when it can.
CREATE OR REPLACE FUNCTION guetteur_message_words_matched(doc jsonb) RETURNS text[]
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


-- The word index's function, three times cheaper than the matched path.
-- Same words as the matched path (the GIN index keeps its entries: order and duplicates do not matter to it),
-- found by one split on the separators instead of a set of regular-expression matches: the matched path costs
-- ~18 us per event, this ~6 us (bench/search.py --ingest-cost measures the writer).
-- The separator is the compiler's (guetteur.search.plan._separator, PostgreSQL dialect): anything
-- but `[[:alnum:]_.]`, or a dot that is not between two word characters. A string of at most
-- 1500 bytes cannot hold a word too long for a GIN key (even if `lower` makes it half as long
-- again), so it is split at once; no message (or a number...) is `{}` at once (the matched path cost
-- ~40 us per event for those); a longer string, or an array, takes the matched path, which leaves out
-- words longer than 256 bytes (the compiler never looks those up in the index).
CREATE OR REPLACE FUNCTION guetteur_message_words(doc jsonb) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE
        WHEN jsonb_typeof(doc -> 'message') = 'string' AND octet_length(doc ->> 'message') <= 1500
        THEN array_remove(regexp_split_to_array(lower(doc ->> 'message'),
                                                '(?:[^[:alnum:]_.]|\.(?![[:alnum:]_])|(?<![[:alnum:]_])\.)+'), '')
        WHEN jsonb_typeof(doc -> 'message') IS DISTINCT FROM 'array'
             AND jsonb_typeof(doc -> 'message') IS DISTINCT FROM 'string' THEN '{}'::text[]
        ELSE public.guetteur_message_words_matched(doc)  -- qualified: maintenance runs with a safe search_path
    END
$$;


-- The index itself is NOT created here: measured, it costs the writer far more than the 10% budget
-- (bench/search.py --ingest-cost: 41-51% fewer rows/s; end to end within noise, docs/search.md),
-- for free-text counts over long ranges (5M events, 24 h: 7.2 s -> 0.1 s). An operator who wants
-- that trade creates it (docs/search.md, "Speed"):
--   CREATE INDEX events_message_words ON events USING gin (guetteur_message_words(doc));
-- and the search service uses it as soon as it exists (guetteur.store.search.has_word_index).
