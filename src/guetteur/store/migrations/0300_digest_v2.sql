-- 0300: batch content digest version 2 (owner: store area, see docs/storage.md "The hash chain").
-- Runs as the database owner, in one transaction.
--
-- From this migration on, the writer hashes the binary COPY tuples it sends (the fields of
-- every column but `ingested`, `doc` in canonical form: orjson, sorted keys) and PostgreSQL only
-- stores them: version 1 had the server render each stored row as text again in the batch's
-- transaction and send it back to be hashed, about half of PostgreSQL's CPU per event.
-- `guetteur verify` recomputes version 2 from the stored rows (a binary COPY of the batch, each
-- `doc` put back in canonical form; guetteur/store/chain.py) and version 1, for the batches
-- written before, with guetteur_batch_digest as before. The chain hash is unchanged.
ALTER TABLE batches ALTER COLUMN digest_version SET DEFAULT 2;
ALTER TABLE batches ADD CONSTRAINT batches_digest_version CHECK (digest_version IN (1, 2));
COMMENT ON COLUMN batches.digest_version IS
    '1: guetteur_batch_digest over row texts; 2: SHA-256 of the sorted SHA-256 of each row''s binary COPY tuple, doc canonical (guetteur/store/chain.py)';
