package history

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	chschema "github.com/hcstream/hcstream/schemas/clickhouse"
)

// CheckHoursFromPings writes check_hours for the pings stamped in [from, to), by the
// rules the projector's tally keeps (check.HourTally): every ping counts, and under
// its kind; a ping with a duration completed a run. A ping stored twice (redelivered
// before its rows were merged) counts once. Both times must be whole hours, so every
// hour is counted whole.
func CheckHoursFromPings(ctx context.Context, conn driver.Conn, database string, from, to time.Time) error {
	err := conn.Exec(ctx, fmt.Sprintf("INSERT INTO %[1]s.check_hours (project_id, check_id, hour, pings, successes, failures, starts, logs, ignored, runs, run_us_sum, run_us_max) "+
		"SELECT ping_project, check_id, toDateTime(intDiv(toUInt32(ping_ts), 3600) * 3600) AS hour, toUInt32(count()), toUInt32(countIf(ping_kind = 'success')), "+
		"toUInt32(countIf(ping_kind = 'fail')), toUInt32(countIf(ping_kind = 'start')), toUInt32(countIf(ping_kind = 'log')), toUInt32(countIf(ping_kind = 'ign')), "+
		"toUInt32(countIf(ping_duration >= 0)), sumIf(ping_duration, ping_duration >= 0), maxIf(ping_duration, ping_duration >= 0) "+
		// The aliases differ from the columns: ClickHouse 18.16 would read the WHERE's
		// columns as the aliases' aggregates.
		"FROM (SELECT any(project_id) AS ping_project, check_id, any(ts) AS ping_ts, any(kind) AS ping_kind, any(duration_us) AS ping_duration FROM %[1]s.pings "+
		"WHERE ts >= toDateTime(%[2]d) AND ts < toDateTime(%[3]d) GROUP BY check_id, event_id) "+
		"GROUP BY ping_project, check_id, hour", database, chschema.DateTime(from), chschema.DateTime(to)))
	if err != nil {
		return fmt.Errorf("rolling up the pings of %s to %s: %w", from.Format(time.RFC3339), to.Format(time.RFC3339), err)
	}
	return nil
}

// ProjectHoursFromCheckHours writes project_hours for the hours in [from, to) by
// summing check_hours, as the projectors of partitions partitions would have written
// them (a check's partition drawn from its ID), each row with the given version.
func ProjectHoursFromCheckHours(ctx context.Context, conn driver.Conn, database string, from, to time.Time, partitions int, version uint64) error {
	err := conn.Exec(ctx, fmt.Sprintf("INSERT INTO %[1]s.project_hours (project_id, hour, partition, version, pings, successes, failures, starts, logs, ignored, runs, run_us_sum, run_us_max) "+
		"SELECT project_id, hour, toUInt32(cityHash64(toString(check_id)) %% %[4]d) AS partition, toUInt64(%[5]d), toUInt32(sum(pings)), toUInt32(sum(successes)), toUInt32(sum(failures)), "+
		"toUInt32(sum(starts)), toUInt32(sum(logs)), toUInt32(sum(ignored)), toUInt32(sum(runs)), sum(run_us_sum), max(run_us_max) "+
		"FROM %[1]s.check_hours FINAL WHERE hour >= toDateTime(%[2]d) AND hour < toDateTime(%[3]d) GROUP BY project_id, hour, partition",
		database, chschema.DateTime(from), chschema.DateTime(to), partitions, version))
	if err != nil {
		return fmt.Errorf("rolling up the projects of %s to %s: %w", from.Format(time.RFC3339), to.Format(time.RFC3339), err)
	}
	return nil
}

// RollupsBegan returns the first hour a projector counted in project_hours: its rows
// carry the offset after the events they count, never 0, where backfilled rows carry 0.
// False when no projector has written one yet.
func RollupsBegan(ctx context.Context, conn driver.Conn, database string) (time.Time, bool, error) {
	var first uint32
	var rows uint64
	if err := conn.QueryRow(ctx, "SELECT toUInt32(min(hour)), count() FROM "+database+".project_hours WHERE version > 0").Scan(&first, &rows); err != nil {
		return time.Time{}, false, fmt.Errorf("finding the first hour of the rollups: %w", err)
	}
	return time.Unix(int64(first), 0).UTC(), rows > 0, nil
}

// BackfillResult is what BackfillRollups did.
type BackfillResult struct {
	// Before is the first hour the projector counted; only earlier hours were filled.
	Before time.Time
	// Pings is how many pings were stamped before it; zero when there was nothing to fill.
	Pings uint64
	// From is the hour of the first of them.
	From time.Time
}

// BackfillRollups fills check_hours and project_hours for the hours before the
// projector began counting them, from the pings table: a database that held pings
// before the rollups existed (migrations 004 and 005) then answers analytics for them
// too. Days are filled newest first, so an interrupted run leaves whole days done and
// the next run does them again, to the same rows (check_hours keeps the row with the
// most pings, project_hours the one with the highest version, and the backfilled rows
// of an hour are always the same). project_hours is filled as partition 0 with
// version 0: no projector row shares those hours. progress is called after each day.
func BackfillRollups(ctx context.Context, conn driver.Conn, database string, progress func(day time.Time)) (BackfillResult, error) {
	before, began, err := RollupsBegan(ctx, conn, database)
	if err != nil {
		return BackfillResult{}, err
	}
	if !began {
		var pings uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM "+database+".pings").Scan(&pings); err != nil {
			return BackfillResult{}, fmt.Errorf("counting pings: %w", err)
		}
		if pings == 0 {
			return BackfillResult{}, nil
		}
		return BackfillResult{}, ErrRollupsNotBegun
	}
	result := BackfillResult{Before: before}
	var first uint32
	if err := conn.QueryRow(ctx, fmt.Sprintf("SELECT toUInt32(min(ts)), count() FROM %s.pings WHERE ts < toDateTime(%d)", database, chschema.DateTime(before))).Scan(&first, &result.Pings); err != nil {
		return result, fmt.Errorf("counting the pings before the rollups: %w", err)
	}
	if result.Pings == 0 {
		return result, nil
	}
	result.From = time.Unix(int64(first), 0).UTC().Truncate(time.Hour)
	for end := before; end.After(result.From); {
		start := end.Add(-24 * time.Hour)
		if start.Before(result.From) {
			start = result.From
		}
		if err := CheckHoursFromPings(ctx, conn, database, start, end); err != nil {
			return result, err
		}
		if err := ProjectHoursFromCheckHours(ctx, conn, database, start, end, 1, 0); err != nil {
			return result, err
		}
		if progress != nil {
			progress(start)
		}
		end = start
	}
	return result, nil
}

// ErrRollupsNotBegun is BackfillRollups' answer when pings are stored but no projector
// has counted one into the rollups yet: there is no telling which hours it will count.
var ErrRollupsNotBegun = errors.New("no projector has written the hourly rollups yet: run the backfill once hcstream has folded a ping")
