package history

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"

	"github.com/hcstream/hcstream/projector/check"
	"github.com/hcstream/hcstream/schemas"
)

// ClickHouse writes batches with one INSERT per table. Idempotence comes from the tables:
// ReplacingMergeTree keyed by event ID (pings), flip seq (flips) and versioned by Kafka
// offset (checks, projects), because insert deduplication does nothing on non-replicated
// tables.
type ClickHouse struct {
	conn     driver.Conn
	database string
}

// NewClickHouse returns a writer into database, which must already be migrated.
func NewClickHouse(conn driver.Conn, database string) *ClickHouse {
	return &ClickHouse{conn: conn, database: database}
}

// Write sends the batch; checks go last so a check row is never ahead of its pings.
func (c *ClickHouse) Write(ctx context.Context, b Batch) error {
	if err := c.writePings(ctx, b.Pings); err != nil {
		return fmt.Errorf("writing %d pings: %w", len(b.Pings), err)
	}
	if err := c.writeFlips(ctx, b.Flips); err != nil {
		return fmt.Errorf("writing %d flips: %w", len(b.Flips), err)
	}
	if err := c.writeProjects(ctx, b.Projects); err != nil {
		return fmt.Errorf("writing %d projects: %w", len(b.Projects), err)
	}
	if err := c.writeIncidents(ctx, b.Incidents); err != nil {
		return fmt.Errorf("writing %d incidents: %w", len(b.Incidents), err)
	}
	if err := c.writeHours(ctx, b.HourRows()); err != nil {
		return fmt.Errorf("writing check hours: %w", err)
	}
	if err := c.writeProjectHours(ctx, b.ProjectHours); err != nil {
		return fmt.Errorf("writing project hours: %w", err)
	}
	if err := c.writeChecks(ctx, b.Checks); err != nil {
		return fmt.Errorf("writing %d check states: %w", len(b.Checks), err)
	}
	return nil
}

func (c *ClickHouse) send(ctx context.Context, insert string, n int, appendRow func(batch driver.Batch, i int) error) error {
	if n == 0 {
		return nil
	}
	ctx, release := batchContext(ctx)
	defer release()
	batch, err := c.conn.PrepareBatch(ctx, insert)
	if err != nil {
		return err
	}
	defer batch.Abort() //nolint:errcheck // after Send, Abort is a no-op that reports "already sent"
	for i := range n {
		if err := appendRow(batch, i); err != nil {
			return err
		}
	}
	return batch.Send()
}

// batchContext returns the context for one clickhouse-go batch: it ends with ctx while
// the batch runs, but once release is called it is cancelled only after watchdogGrace.
// The driver's Send watches its context from a goroutine that closes the connection on
// cancellation; when that goroutine had not run yet by the time Send returned and the
// caller cancelled at once, it could close a connection already back in the pool, and
// the next batch on it failed with "use of closed network connection" (about 1 % of
// batches on a busy box; none with the cancellation delayed).
func batchContext(ctx context.Context) (context.Context, func()) {
	batchCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stopFollowing := context.AfterFunc(ctx, cancel)
	return batchCtx, func() {
		stopFollowing()
		time.AfterFunc(watchdogGrace, cancel)
	}
}

// watchdogGrace is how long a batch's context outlives the batch.
const watchdogGrace = 5 * time.Second

func (c *ClickHouse) writePings(ctx context.Context, pings []Ping) error {
	insert := "INSERT INTO " + c.database + ".pings (project_id, check_id, event_id, n, ts, received_us, kind, exit_status, rid, duration_us, scheme, remote_addr, method, ua, body)"
	return c.send(ctx, insert, len(pings), func(batch driver.Batch, i int) error {
		p := pings[i]
		exitStatus := int16(-1)
		if p.Ping.Kind == schemas.PingExitStatus {
			exitStatus = int16(p.Ping.ExitStatus)
		}
		rid := ""
		if p.Ping.HasRunID {
			rid = p.Ping.RunID.String()
		}
		duration := int64(-1)
		if p.Recorded.HasDuration {
			duration = p.Recorded.Duration.Microseconds()
		}
		return batch.Append(uuid.UUID(p.ProjectID), uuid.UUID(p.CheckID), uuid.UUID(p.EventID), p.Recorded.N,
			p.At.UTC(), p.At.UnixMicro(), p.Recorded.Kind.String(), exitStatus, rid, duration,
			p.Ping.Scheme, p.Ping.RemoteAddr, p.Ping.Method, p.Ping.UserAgent, string(p.Ping.Body))
	})
}

func (c *ClickHouse) writeFlips(ctx context.Context, flips []Flip) error {
	insert := "INSERT INTO " + c.database + ".flips (project_id, check_id, flip_seq, ts, at_us, old_status, new_status, reason)"
	return c.send(ctx, insert, len(flips), func(batch driver.Batch, i int) error {
		f := flips[i]
		ch := f.Flipped.Change
		return batch.Append(uuid.UUID(f.ProjectID), uuid.UUID(f.CheckID), ch.FlipSeq, f.Flipped.At.UTC(), f.Flipped.At.UnixMicro(),
			ch.Old.String(), ch.New.String(), ch.Reason)
	})
}

func (c *ClickHouse) writeProjects(ctx context.Context, projects []Project) error {
	insert := "INSERT INTO " + c.database + ".projects (project_id, name, api_key_hash, api_key_readonly_hash, ping_key, created_us, version)"
	return c.send(ctx, insert, len(projects), func(batch driver.Batch, i int) error {
		p := projects[i]
		return batch.Append(uuid.UUID(p.ProjectID), p.Body.Name, p.Body.APIKeyHash, p.Body.APIKeyReadonlyHash, p.Body.PingKey, p.Created.UnixMicro(), p.Version)
	})
}

func (c *ClickHouse) writeIncidents(ctx context.Context, incidents []Incident) error {
	insert := "INSERT INTO " + c.database + ".incidents (partition, from_us, to_us, ts, checks_held)"
	return c.send(ctx, insert, len(incidents), func(batch driver.Batch, i int) error {
		in := incidents[i]
		return batch.Append(uint32(in.Partition), in.From.UnixMicro(), in.To.UnixMicro(), in.From.UTC(), uint64(in.ChecksHeld))
	})
}

func (c *ClickHouse) writeHours(ctx context.Context, hours []Hour) error {
	insert := "INSERT INTO " + c.database + ".check_hours (project_id, check_id, hour, pings, successes, failures, starts, logs, ignored, runs, run_us_sum, run_us_max)"
	return c.send(ctx, insert, len(hours), func(batch driver.Batch, i int) error {
		h := hours[i]
		t := h.Tally
		return batch.Append(uuid.UUID(h.ProjectID), uuid.UUID(h.CheckID), t.Hour.UTC(), t.Pings, t.Successes, t.Failures, t.Starts,
			t.Logs, t.Ignored, t.Runs, t.RunTotal.Microseconds(), t.RunLongest.Microseconds())
	})
}

const projectHourColumns = "project_id, hour, partition, version, pings, successes, failures, starts, logs, ignored, runs, run_us_sum, run_us_max"

func (c *ClickHouse) writeProjectHours(ctx context.Context, hours []ProjectHour) error {
	insert := "INSERT INTO " + c.database + ".project_hours (" + projectHourColumns + ")"
	return c.send(ctx, insert, len(hours), func(batch driver.Batch, i int) error {
		h := hours[i]
		t := h.Tally
		return batch.Append(uuid.UUID(h.ProjectID), t.Hour.UTC(), uint32(h.Partition), h.Version, t.Pings, t.Successes, t.Failures, t.Starts,
			t.Logs, t.Ignored, t.Runs, t.RunTotal.Microseconds(), t.RunLongest.Microseconds())
	})
}

// LoadProjectHours returns a partition's latest per-project counts of the hours from
// since on: the ones a restarted projector may still add to.
func (c *ClickHouse) LoadProjectHours(ctx context.Context, partition int, since time.Time) ([]ProjectHour, error) {
	rows, err := c.conn.Query(ctx, "SELECT "+projectHourColumns+" FROM "+c.database+".project_hours FINAL WHERE hour >= toDateTime(?) AND partition = ?",
		since.Unix(), uint32(partition))
	if err != nil {
		return nil, fmt.Errorf("loading project hours of partition %d: %w", partition, err)
	}
	defer rows.Close()
	var out []ProjectHour
	for rows.Next() {
		var h ProjectHour
		var project uuid.UUID
		var part uint32
		var runTotal, runLongest int64
		t := &h.Tally
		if err := rows.Scan(&project, &t.Hour, &part, &h.Version, &t.Pings, &t.Successes, &t.Failures, &t.Starts, &t.Logs, &t.Ignored,
			&t.Runs, &runTotal, &runLongest); err != nil {
			return nil, fmt.Errorf("scanning a project hour: %w", err)
		}
		h.ProjectID, h.Partition, t.Hour = schemas.ID(project), int(part), t.Hour.UTC()
		t.RunTotal, t.RunLongest = time.Duration(runTotal)*time.Microsecond, time.Duration(runLongest)*time.Microsecond
		out = append(out, h)
	}
	return out, rows.Err()
}

// CheckColumns is the column list of the checks table in the order ScanCheck reads it.
const CheckColumns = "project_id, check_id, partition, version, deleted, name, slug, tags, description, kind, timeout, grace, schedule, tz, " +
	"manual_resume, methods, start_kw, success_kw, failure_kw, filter_subject, filter_body, filter_http_body, filter_default_fail, channels, " +
	"status, created_us, last_ping_us, last_start_us, last_start_rid, last_duration_us, n_pings, flip_seq, open_runs_rid, open_runs_us, held_us, " +
	"failure_threshold, recovery_threshold, streak, " +
	"tally_hour_us, tally_pings, tally_successes, tally_failures, tally_starts, tally_logs, tally_ignored, tally_runs, tally_run_us_sum, tally_run_us_max"

func (c *ClickHouse) writeChecks(ctx context.Context, rows []CheckRow) error {
	insert := "INSERT INTO " + c.database + ".checks (" + CheckColumns + ")"
	return c.send(ctx, insert, len(rows), func(batch driver.Batch, i int) error {
		r := rows[i]
		s := r.State
		cfg := s.Config
		rid := ""
		if s.LastStartHasRunID {
			rid = s.LastStartRunID.String()
		}
		runRIDs := make([]string, len(s.OpenRuns))
		runTimes := make([]int64, len(s.OpenRuns))
		for j, run := range s.OpenRuns {
			runRIDs[j] = "-"
			if run.HasRunID {
				runRIDs[j] = run.RunID.String()
			}
			runTimes[j] = run.Started.UnixMicro()
		}
		channels := cfg.Channels
		if channels == nil {
			channels = []string{}
		}
		return batch.Append(uuid.UUID(s.ProjectID), uuid.UUID(s.CheckID), uint32(r.Partition), r.Version, flag(s.Deleted),
			cfg.Name, cfg.Slug, cfg.Tags, cfg.Desc, cfg.Kind.String(), uint32(cfg.Timeout/time.Second), uint32(cfg.Grace/time.Second),
			cfg.Schedule, cfg.TZ, flag(cfg.ManualResume), cfg.Methods, cfg.StartKeywords, cfg.SuccessKeywords, cfg.FailureKeywords,
			flag(cfg.FilterSubject), flag(cfg.FilterBody), flag(cfg.FilterHTTPBody), flag(cfg.FilterDefaultFail), channels,
			s.Status.String(), micros(s.Created), micros(s.LastPing), micros(s.LastStart), rid, s.LastDuration.Microseconds(),
			s.NPings, s.FlipSeq, runRIDs, runTimes, s.Held.Microseconds(), cfg.FailureThreshold, cfg.RecoveryThreshold, s.Streak,
			micros(s.Tally.Hour), s.Tally.Pings, s.Tally.Successes, s.Tally.Failures, s.Tally.Starts, s.Tally.Logs, s.Tally.Ignored, s.Tally.Runs,
			s.Tally.RunTotal.Microseconds(), s.Tally.RunLongest.Microseconds())
	})
}

// ScanCheck reads one row selected with CheckColumns.
func ScanCheck(rows driver.Rows) (CheckRow, error) {
	var (
		projectID, checkID                                          uuid.UUID
		partition, timeout, grace                                   uint32
		streak                                                      uint16
		tallyHour, tallyRunTotal, tallyRunLongest                   int64
		tally                                                       check.HourTally
		version, nPings, flipSeq                                    uint64
		deleted, manualResume, fSubject, fBody, fHTTPBody, fDefault uint8
		kind, status, lastStartRID                                  string
		created, lastPing, lastStart, lastDuration, held            int64
		channels, runRIDs                                           []string
		runTimes                                                    []int64
		cfg                                                         schemas.CheckConfig
	)
	err := rows.Scan(&projectID, &checkID, &partition, &version, &deleted, &cfg.Name, &cfg.Slug, &cfg.Tags, &cfg.Desc, &kind,
		&timeout, &grace, &cfg.Schedule, &cfg.TZ, &manualResume, &cfg.Methods, &cfg.StartKeywords, &cfg.SuccessKeywords,
		&cfg.FailureKeywords, &fSubject, &fBody, &fHTTPBody, &fDefault, &channels, &status, &created, &lastPing, &lastStart,
		&lastStartRID, &lastDuration, &nPings, &flipSeq, &runRIDs, &runTimes, &held, &cfg.FailureThreshold, &cfg.RecoveryThreshold, &streak,
		&tallyHour, &tally.Pings, &tally.Successes, &tally.Failures, &tally.Starts, &tally.Logs, &tally.Ignored, &tally.Runs, &tallyRunTotal, &tallyRunLongest)
	if err != nil {
		return CheckRow{}, fmt.Errorf("scanning check row: %w", err)
	}
	cfg.Kind = parseKind(kind)
	cfg.Timeout, cfg.Grace = time.Duration(timeout)*time.Second, time.Duration(grace)*time.Second
	cfg.ManualResume, cfg.FilterSubject, cfg.FilterBody = manualResume == 1, fSubject == 1, fBody == 1
	cfg.FilterHTTPBody, cfg.FilterDefaultFail = fHTTPBody == 1, fDefault == 1
	if len(channels) > 0 {
		cfg.Channels = channels
	}
	s := check.State{
		ProjectID: schemas.ID(projectID), CheckID: schemas.ID(checkID), Exists: true, Deleted: deleted == 1,
		Config: cfg, Created: fromMicros(created), Status: parseStatus(status), LastPing: fromMicros(lastPing),
		LastStart: fromMicros(lastStart), LastDuration: time.Duration(lastDuration) * time.Microsecond,
		NPings: nPings, FlipSeq: flipSeq, Held: time.Duration(held) * time.Microsecond, Streak: streak,
	}
	tally.Hour = fromMicros(tallyHour)
	tally.RunTotal, tally.RunLongest = time.Duration(tallyRunTotal)*time.Microsecond, time.Duration(tallyRunLongest)*time.Microsecond
	s.Tally = tally
	if lastStartRID != "" {
		s.LastStartRunID, err = schemas.ParseID(lastStartRID)
		s.LastStartHasRunID = err == nil
	}
	for j := range min(len(runRIDs), len(runTimes)) {
		run := check.Run{Started: fromMicros(runTimes[j])}
		if id, err := schemas.ParseID(runRIDs[j]); err == nil {
			run.RunID, run.HasRunID = id, true
		}
		s.OpenRuns = append(s.OpenRuns, run)
	}
	return CheckRow{Partition: int(partition), Version: version, State: s}, nil
}

// LoadPartitions calls each with the latest state of every check the projector wrote
// for the given partitions, streamed from one read of the checks table. partition is not
// in the table's sort key, so every read merges the whole table: a restart reads it once
// for all the partitions it is assigned, not once per partition.
func (c *ClickHouse) LoadPartitions(ctx context.Context, partitions []int, each func(CheckRow)) error {
	if len(partitions) == 0 {
		return nil
	}
	list := make([]string, len(partitions))
	for i, p := range partitions {
		list[i] = strconv.Itoa(p)
	}
	rows, err := c.conn.Query(ctx, "SELECT "+CheckColumns+" FROM "+c.database+".checks FINAL WHERE partition IN ("+strings.Join(list, ", ")+")")
	if err != nil {
		return fmt.Errorf("loading check states of partitions %v: %w", partitions, err)
	}
	defer rows.Close()
	for rows.Next() {
		row, err := ScanCheck(rows)
		if err != nil {
			return err
		}
		each(row)
	}
	return rows.Err()
}

func flag(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

func parseKind(s string) schemas.ScheduleKind {
	for k := schemas.KindSimple; k <= schemas.KindOnCalendar; k++ {
		if k.String() == s {
			return k
		}
	}
	return schemas.KindSimple
}

func parseStatus(s string) schemas.Status {
	for st := schemas.StatusNew; st <= schemas.StatusPaused; st++ {
		if st.String() == s {
			return st
		}
	}
	return schemas.StatusNew
}
