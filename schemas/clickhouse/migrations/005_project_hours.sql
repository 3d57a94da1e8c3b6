-- Hourly counts per project and partition, for fleet-wide analytics: a project's hour is
-- the sum over the partitions, a few rows instead of one per check. Each partition's
-- projector folds its pings into these counts; the row with the highest version (the
-- offset after the last event it counts) is the current one, so replays and redelivered
-- batches never count a ping twice.

CREATE TABLE IF NOT EXISTS {db}.project_hours (
    project_id UUID,
    hour DateTime,
    partition UInt32,
    version UInt64,
    pings UInt32,
    successes UInt32,
    failures UInt32,
    starts UInt32,
    logs UInt32,
    ignored UInt32,
    runs UInt32,
    run_us_sum Int64,
    run_us_max Int64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(hour)
ORDER BY (project_id, hour, partition);
