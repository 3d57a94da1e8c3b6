package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/hcstream/hcstream/schemas"
	chschema "github.com/hcstream/hcstream/schemas/clickhouse"
)

// Scope selects the checks an analytics query covers: one check of a project, or every
// check of the project when Check is zero.
type Scope struct {
	Project schemas.ID
	Check   schemas.ID
}

func (s Scope) where(projectColumn string) (string, []any) {
	if s.Check.IsZero() {
		return projectColumn + " = ?", []any{uuid.UUID(s.Project)}
	}
	return projectColumn + " = ? AND check_id = ?", []any{uuid.UUID(s.Project), uuid.UUID(s.Check)}
}

// hourTable is the hourly rollup that answers for the scope: a check's own rows, or a
// project's rows per partition, a few per hour however many checks it has.
func (s Scope) hourTable() string {
	if s.Check.IsZero() {
		return "project_hours"
	}
	return "check_hours"
}

// Bucket is the ping counts of one time bucket, from the hourly rollup.
type Bucket struct {
	Start                                                   time.Time
	Pings, Successes, Failures, Starts, Logs, Ignored, Runs uint64
	RunTotal                                                time.Duration
}

// Buckets returns the scope's hourly rollup summed into buckets of the given length
// (a whole number of hours) over [from, to), oldest first; buckets without pings are
// absent.
func (c *ClickHouse) Buckets(ctx context.Context, s Scope, from, to time.Time, bucket time.Duration) ([]Bucket, error) {
	where, args := s.where("project_id")
	seconds := int64(bucket / time.Second)
	// intDiv on the Unix time keeps buckets in UTC whatever the server's time zone.
	rows, err := c.conn.Query(ctx, fmt.Sprintf("SELECT intDiv(toUInt32(hour), %d) * %d AS bucket, sum(pings), sum(successes), sum(failures), "+
		"sum(starts), sum(logs), sum(ignored), sum(runs), sum(run_us_sum) FROM %s.%s FINAL WHERE %s AND hour >= toDateTime(?) AND hour < toDateTime(?) "+
		"GROUP BY bucket ORDER BY bucket", seconds, seconds, c.database, s.hourTable(), where), append(args, chschema.DateTime(from), chschema.DateTime(to))...)
	if err != nil {
		return nil, fmt.Errorf("reading hourly counts: %w", err)
	}
	defer rows.Close()
	var out []Bucket
	for rows.Next() {
		var b Bucket
		var start uint64
		var runTotal int64
		if err := rows.Scan(&start, &b.Pings, &b.Successes, &b.Failures, &b.Starts, &b.Logs, &b.Ignored, &b.Runs, &runTotal); err != nil {
			return nil, fmt.Errorf("scanning hourly counts: %w", err)
		}
		b.Start, b.RunTotal = time.Unix(int64(start), 0).UTC(), time.Duration(runTotal)*time.Microsecond
		out = append(out, b)
	}
	return out, rows.Err()
}

// RunStats describes the durations of the runs that completed in a window.
type RunStats struct {
	Count         uint64
	Mean, Longest time.Duration
	// Percentiles are ranked for one check only: a project's runs mix jobs of every
	// length, and ranking them would read every ping of the window.
	HasPercentiles bool
	P50, P95, P99  time.Duration
}

// RunDurations returns the scope's run durations over [from, to): for one check from
// the pings that completed a run, for a project from the hourly rollup.
func (c *ClickHouse) RunDurations(ctx context.Context, s Scope, from, to time.Time) (RunStats, error) {
	where, args := s.where("project_id")
	var st RunStats
	var mean float64
	var longest int64
	if s.Check.IsZero() {
		var total int64
		err := c.conn.QueryRow(ctx, "SELECT sum(runs), sum(run_us_sum), max(run_us_max) FROM "+c.database+".project_hours FINAL WHERE "+where+
			" AND hour >= toDateTime(?) AND hour < toDateTime(?)", append(args, chschema.DateTime(from), chschema.DateTime(to))...).Scan(&st.Count, &total, &longest)
		if err != nil {
			return RunStats{}, fmt.Errorf("reading run durations: %w", err)
		}
		if st.Count > 0 {
			st.Mean, st.Longest = time.Duration(total/int64(st.Count))*time.Microsecond, time.Duration(longest)*time.Microsecond
		}
		return st, nil
	}
	var p50, p95, p99 int64
	// The ts bounds prune by partition and sorting key; received_us is the exact instant.
	// Grouping by event ID drops a redelivered ping's second row as FINAL would, at a
	// tenth of the cost: FINAL merges every part the check's range touches.
	// Percentiles are nearest-rank (the smallest duration at least that share of runs
	// do not exceed: the median of 60 s and 120 s is 60 s). quantilesExact takes the
	// element above on 18.16, and quantileExactLow is newer than 18.16.
	err := c.conn.QueryRow(ctx, "SELECT length(s), "+nearestRank("s", 50)+", "+nearestRank("s", 95)+", "+nearestRank("s", 99)+
		", if(empty(s), 0, arraySum(s) / length(s)), if(empty(s), 0, s[length(s)]) FROM (SELECT arraySort(groupArray(d)) AS s FROM (SELECT any(duration_us) AS d FROM "+c.database+
		".pings WHERE "+where+" AND ts >= toDateTime(?) AND ts <= toDateTime(?) AND received_us >= ? AND received_us < ? AND duration_us >= 0 GROUP BY event_id))",
		append(args, chschema.DateTime(from), chschema.DateTime(to), from.UnixMicro(), to.UnixMicro())...).Scan(&st.Count, &p50, &p95, &p99, &mean, &longest)
	if err != nil {
		return RunStats{}, fmt.Errorf("reading run durations: %w", err)
	}
	if st.Count > 0 {
		st.HasPercentiles = true
		st.Mean, st.Longest = micros(mean), time.Duration(longest)*time.Microsecond
		st.P50, st.P95, st.P99 = time.Duration(p50)*time.Microsecond, time.Duration(p95)*time.Microsecond, time.Duration(p99)*time.Microsecond
	}
	return st, nil
}

// nearestRank is the SQL for the nearest-rank percentile of the sorted array named
// sorted: its element ceil(percent × length / 100), 1-based, in whole numbers (a float
// product such as 0.95 × 20 may land above 19), or 0 for an empty array.
func nearestRank(sorted string, percent int) string {
	return fmt.Sprintf("if(empty(%[1]s), toInt64(0), %[1]s[intDiv(%[2]d * length(%[1]s) + 99, 100)])", sorted, percent)
}

func micros(us float64) time.Duration { return time.Duration(us * float64(time.Microsecond)) }

// StatusHistory is one check's stored status through a window: the status in force
// when it began, then each change within it.
type StatusHistory struct {
	Check   schemas.ID
	Initial string
	Changes []StatusChange
}

// StatusChange is a flip: the check's stored status became Status at At.
type StatusChange struct {
	At     time.Time
	Status string
}

// StatusHistories returns the status history over [from, to) of every check in scope
// that has one: a check that never flipped before to is absent (it was new throughout).
func (c *ClickHouse) StatusHistories(ctx context.Context, s Scope, from, to time.Time) ([]StatusHistory, error) {
	where, args := s.where("project_id")
	byCheck := map[schemas.ID]*StatusHistory{}
	var out []*StatusHistory
	history := func(id uuid.UUID) *StatusHistory {
		h := byCheck[schemas.ID(id)]
		if h == nil {
			h = &StatusHistory{Check: schemas.ID(id), Initial: "new"}
			byCheck[h.Check] = h
			out = append(out, h)
		}
		return h
	}
	rows, err := c.conn.Query(ctx, "SELECT check_id, argMax(toString(new_status), flip_seq) FROM "+c.database+".flips FINAL WHERE "+where+
		" AND at_us < ? GROUP BY check_id", append(args, from.UnixMicro())...)
	if err != nil {
		return nil, fmt.Errorf("reading the status before the window: %w", err)
	}
	for rows.Next() {
		var id uuid.UUID
		var status string
		if err := rows.Scan(&id, &status); err != nil {
			rows.Close()
			return nil, fmt.Errorf("scanning a status: %w", err)
		}
		history(id).Initial = status
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = c.conn.Query(ctx, "SELECT check_id, at_us, toString(new_status) FROM "+c.database+".flips FINAL WHERE "+where+
		" AND at_us >= ? AND at_us < ? ORDER BY check_id, flip_seq", append(args, from.UnixMicro(), to.UnixMicro())...)
	if err != nil {
		return nil, fmt.Errorf("reading flips: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id uuid.UUID
		var at int64
		var status string
		if err := rows.Scan(&id, &at, &status); err != nil {
			return nil, fmt.Errorf("scanning a flip: %w", err)
		}
		h := history(id)
		h.Changes = append(h.Changes, StatusChange{At: time.UnixMicro(at).UTC(), Status: status})
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	histories := make([]StatusHistory, len(out))
	for i, h := range out {
		histories[i] = *h
	}
	return histories, nil
}
