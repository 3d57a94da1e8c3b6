-- Ingest outages: a check's deadline postponed by the outages it lived through, and a
-- record of every outage the projector detected. ClickHouse 18.16 has no
-- ADD COLUMN IF NOT EXISTS; the migrator skips an ADD COLUMN whose column exists.

ALTER TABLE {db}.checks ADD COLUMN held_us Int64;

CREATE TABLE IF NOT EXISTS {db}.incidents (
    partition UInt32,
    from_us Int64,
    to_us Int64,
    ts DateTime,
    checks_held UInt64
) ENGINE = ReplacingMergeTree
ORDER BY (partition, from_us);
