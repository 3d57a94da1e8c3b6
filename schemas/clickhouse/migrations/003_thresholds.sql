-- Failure and recovery thresholds (CheckConfig v2) and the count of consecutive pings
-- toward one. Rows written before this migration read 0, which means a threshold of 1.

ALTER TABLE {db}.checks ADD COLUMN failure_threshold UInt16;

ALTER TABLE {db}.checks ADD COLUMN recovery_threshold UInt16;

ALTER TABLE {db}.checks ADD COLUMN streak UInt16;
