-- 0610: the word index's function, three times cheaper (owner: search area, see docs/search.md).
-- Same words as 0600 (the GIN index keeps its entries: order and duplicates do not matter to it),
-- found by one split on the separators instead of a set of regular-expression matches: 0600 cost
-- ~18 us per event to evaluate, this ~6 us (bench/search.py --ingest-cost measures the writer).
-- The separator is the compiler's (guetteur.search.plan._separator, PostgreSQL dialect): anything
-- but `[[:alnum:]_.]`, or a dot that is not between two word characters. A string of at most
-- 1500 bytes cannot hold a word too long for a GIN key (even if `lower` makes it half as long
-- again), so it is split at once; no message (or a number...) is `{}` at once (0600's path cost
-- ~40 us per event for those); a longer string, or an array, takes 0600's path, which leaves out
-- words longer than 256 bytes (the compiler never looks those up in the index).
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
