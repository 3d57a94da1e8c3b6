-- Initial tables. Every statement runs on ClickHouse 18.16 and on current releases:
-- no DateTime64, Map, JSON, TTL, codecs or data-skipping indexes. Times that need more
-- than second precision are Int64 microseconds since the Unix epoch (0 = none).

CREATE TABLE IF NOT EXISTS {db}.projects (
    project_id UUID,
    name String,
    api_key_hash String,
    api_key_readonly_hash String,
    ping_key String,
    created_us Int64,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY project_id;

-- Current state of every check, one row per projector batch that touched it; FINAL (or
-- argMax by version) gives the latest. version is the Kafka offset of the last event
-- folded into the row, so a replayed event is recognised as already applied.
CREATE TABLE IF NOT EXISTS {db}.checks (
    project_id UUID,
    check_id UUID,
    partition UInt32,
    version UInt64,
    deleted UInt8,
    name String,
    slug String,
    tags String,
    description String,
    kind Enum8('simple' = 0, 'cron' = 1, 'oncalendar' = 2),
    timeout UInt32,
    grace UInt32,
    schedule String,
    tz String,
    manual_resume UInt8,
    methods String,
    start_kw String,
    success_kw String,
    failure_kw String,
    filter_subject UInt8,
    filter_body UInt8,
    filter_http_body UInt8,
    filter_default_fail UInt8,
    channels Array(String),
    status Enum8('new' = 0, 'up' = 1, 'down' = 2, 'paused' = 3),
    created_us Int64,
    last_ping_us Int64,
    last_start_us Int64,
    last_start_rid String,
    last_duration_us Int64,
    n_pings UInt64,
    flip_seq UInt64,
    open_runs_rid Array(String),
    open_runs_us Array(Int64)
) ENGINE = ReplacingMergeTree(version)
ORDER BY (project_id, check_id);

-- Every ping, exactly once: a replayed ping has the same check, time and event ID and
-- collapses into one row.
CREATE TABLE IF NOT EXISTS {db}.pings (
    project_id UUID,
    check_id UUID,
    event_id UUID,
    n UInt64,
    ts DateTime,
    received_us Int64,
    kind Enum8('success' = 0, 'start' = 1, 'fail' = 2, 'log' = 3, 'ign' = 4),
    exit_status Int16,
    rid String,
    duration_us Int64,
    scheme String,
    remote_addr String,
    method String,
    ua String,
    body String
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (check_id, ts, event_id);

CREATE TABLE IF NOT EXISTS {db}.flips (
    project_id UUID,
    check_id UUID,
    flip_seq UInt64,
    ts DateTime,
    at_us Int64,
    old_status Enum8('new' = 0, 'up' = 1, 'down' = 2, 'paused' = 3),
    new_status Enum8('new' = 0, 'up' = 1, 'down' = 2, 'paused' = 3),
    reason String
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (check_id, flip_seq);
