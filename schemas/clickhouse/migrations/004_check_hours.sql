-- Hourly rollup of every check's pings, for uptime and run-duration analytics over long
-- windows. The projector folds each hour's counts with the check (check.HourTally) and
-- writes the hour's row with every batch that touches the check; the row with the most
-- pings is the hour's count, so a replay or a redelivered batch never counts a ping
-- twice. The open hour's tally lives in the checks row, so a restarted projector goes on
-- counting where the last one stopped.

CREATE TABLE IF NOT EXISTS {db}.check_hours (
    project_id UUID,
    check_id UUID,
    hour DateTime,
    pings UInt32,
    successes UInt32,
    failures UInt32,
    starts UInt32,
    logs UInt32,
    ignored UInt32,
    runs UInt32,
    run_us_sum Int64,
    run_us_max Int64
) ENGINE = ReplacingMergeTree(pings)
PARTITION BY toYYYYMM(hour)
ORDER BY (project_id, check_id, hour);

ALTER TABLE {db}.checks ADD COLUMN tally_hour_us Int64;

ALTER TABLE {db}.checks ADD COLUMN tally_pings UInt32;

ALTER TABLE {db}.checks ADD COLUMN tally_successes UInt32;

ALTER TABLE {db}.checks ADD COLUMN tally_failures UInt32;

ALTER TABLE {db}.checks ADD COLUMN tally_starts UInt32;

ALTER TABLE {db}.checks ADD COLUMN tally_logs UInt32;

ALTER TABLE {db}.checks ADD COLUMN tally_ignored UInt32;

ALTER TABLE {db}.checks ADD COLUMN tally_runs UInt32;

ALTER TABLE {db}.checks ADD COLUMN tally_run_us_sum Int64;

ALTER TABLE {db}.checks ADD COLUMN tally_run_us_max Int64;
