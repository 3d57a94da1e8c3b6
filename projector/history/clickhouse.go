package history

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"

	"github.com/hcstream/hcstream/projector/check"
	"github.com/hcstream/hcstream/schemas"
	chschema "github.com/hcstream/hcstream/schemas/clickhouse"
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

// Write sends the batches with one INSERT per table. The history tables do not depend
// on each other, so their inserts run at once (ClickHouse gives each its own thread;
// one after the other they were most of a replay's time). Check rows go last, once the
// rest is stored: a restarted projector resumes after a check row's version, so a check
// row stored ahead of its pings or closed hours would lose them.
func (c *ClickHouse) Write(ctx context.Context, batches ...Batch) error {
	tables := []struct {
		name  string
		write func(context.Context, []Batch) error
	}{
		{"pings", c.writePings}, {"flips", c.writeFlips}, {"projects", c.writeProjects}, {"incidents", c.writeIncidents},
		{"check hours", c.writeHours}, {"project hours", c.writeProjectHours},
	}
	errs := make([]error, len(tables))
	var wg sync.WaitGroup
	for i, table := range tables {
		wg.Go(func() {
			if err := table.write(ctx, batches); err != nil {
				errs[i] = fmt.Errorf("writing %s: %w", table.name, err)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := c.writeChecks(ctx, batches); err != nil {
		return fmt.Errorf("writing check states: %w", err)
	}
	return nil
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

// writePings builds its INSERT column by column: appending 25,000 pings row by row
// (every value boxed, then switched on by type) took as long as ClickHouse took to
// store them.
func (c *ClickHouse) writePings(ctx context.Context, batches []Batch) error {
	n := RowCount(batches, func(b *Batch) int { return len(b.Pings) })
	if n == 0 {
		return nil
	}
	var cols insertColumns
	projectIDs, checkIDs, eventIDs := addColumn[uuid.UUID](&cols, "project_id", n), addColumn[uuid.UUID](&cols, "check_id", n), addColumn[uuid.UUID](&cols, "event_id", n)
	numbers, received, receivedUS := addColumn[uint64](&cols, "n", n), addColumn[time.Time](&cols, "ts", n), addColumn[int64](&cols, "received_us", n)
	kinds, exitStatuses, rids := addColumn[string](&cols, "kind", n), addColumn[int16](&cols, "exit_status", n), addColumn[string](&cols, "rid", n)
	durationsUS, schemes, addrs := addColumn[int64](&cols, "duration_us", n), addColumn[string](&cols, "scheme", n), addColumn[string](&cols, "remote_addr", n)
	methods, userAgents, bodies := addColumn[string](&cols, "method", n), addColumn[string](&cols, "ua", n), addColumn[[]byte](&cols, "body", n)
	for i := range batches {
		for j := range batches[i].Pings {
			p := &batches[i].Pings[j]
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
			projectIDs.add(uuid.UUID(p.ProjectID))
			checkIDs.add(uuid.UUID(p.CheckID))
			eventIDs.add(uuid.UUID(p.EventID))
			numbers.add(p.Recorded.N)
			received.add(p.At)
			receivedUS.add(p.At.UnixMicro())
			kinds.add(p.Recorded.Kind.String())
			exitStatuses.add(exitStatus)
			rids.add(rid)
			durationsUS.add(duration)
			schemes.add(p.Ping.Scheme)
			addrs.add(p.Ping.RemoteAddr)
			methods.add(p.Ping.Method)
			userAgents.add(p.Ping.UserAgent)
			bodies.add(p.Ping.Body)
		}
	}
	return cols.send(ctx, c, "pings")
}

// insertColumns is an INSERT built column by column, each a typed slice: row by row,
// every value went through an interface and a type switch, which for the wide tables
// cost as much as ClickHouse's storing them. Columns are sent in the order they were
// added.
type insertColumns struct {
	names  []string
	values []func() any
}

// insertColumn is one column's values.
type insertColumn[T any] struct{ values []T }

func (col *insertColumn[T]) add(v T) { col.values = append(col.values, v) }

// addColumn adds a column with room for n values.
func addColumn[T any](cols *insertColumns, name string, n int) *insertColumn[T] {
	col := &insertColumn[T]{values: make([]T, 0, n)}
	cols.names = append(cols.names, name)
	cols.values = append(cols.values, func() any { return col.values })
	return col
}

// send inserts the columns into table.
func (cols *insertColumns) send(ctx context.Context, c *ClickHouse, table string) error {
	ctx, release := batchContext(ctx)
	defer release()
	batch, err := c.conn.PrepareBatch(ctx, "INSERT INTO "+c.database+"."+table+" ("+strings.Join(cols.names, ", ")+")")
	if err != nil {
		return err
	}
	defer batch.Abort() //nolint:errcheck // after Send, Abort is a no-op that reports "already sent"
	for i, values := range cols.values {
		if err := batch.Column(i).Append(values()); err != nil {
			return fmt.Errorf("column %s: %w", cols.names[i], err)
		}
	}
	return batch.Send()
}

func (c *ClickHouse) writeFlips(ctx context.Context, batches []Batch) error {
	n := RowCount(batches, func(b *Batch) int { return len(b.Flips) })
	if n == 0 {
		return nil
	}
	var cols insertColumns
	projectIDs, checkIDs, seqs := addColumn[uuid.UUID](&cols, "project_id", n), addColumn[uuid.UUID](&cols, "check_id", n), addColumn[uint64](&cols, "flip_seq", n)
	at, atUS := addColumn[time.Time](&cols, "ts", n), addColumn[int64](&cols, "at_us", n)
	olds, news, reasons := addColumn[string](&cols, "old_status", n), addColumn[string](&cols, "new_status", n), addColumn[string](&cols, "reason", n)
	for i := range batches {
		for j := range batches[i].Flips {
			f := &batches[i].Flips[j]
			projectIDs.add(uuid.UUID(f.ProjectID))
			checkIDs.add(uuid.UUID(f.CheckID))
			seqs.add(f.Flipped.Change.FlipSeq)
			at.add(f.Flipped.At)
			atUS.add(f.Flipped.At.UnixMicro())
			olds.add(f.Flipped.Change.Old.String())
			news.add(f.Flipped.Change.New.String())
			reasons.add(f.Flipped.Change.Reason)
		}
	}
	return cols.send(ctx, c, "flips")
}

func (c *ClickHouse) writeProjects(ctx context.Context, batches []Batch) error {
	n := RowCount(batches, func(b *Batch) int { return len(b.Projects) })
	if n == 0 {
		return nil
	}
	var cols insertColumns
	projectIDs, names := addColumn[uuid.UUID](&cols, "project_id", n), addColumn[string](&cols, "name", n)
	keyHashes, readOnlyKeyHashes := addColumn[string](&cols, "api_key_hash", n), addColumn[string](&cols, "api_key_readonly_hash", n)
	pingKeys, created, versions := addColumn[string](&cols, "ping_key", n), addColumn[int64](&cols, "created_us", n), addColumn[uint64](&cols, "version", n)
	for i := range batches {
		for j := range batches[i].Projects {
			p := &batches[i].Projects[j]
			projectIDs.add(uuid.UUID(p.ProjectID))
			names.add(p.Body.Name)
			keyHashes.add(p.Body.APIKeyHash)
			readOnlyKeyHashes.add(p.Body.APIKeyReadonlyHash)
			pingKeys.add(p.Body.PingKey)
			created.add(p.Created.UnixMicro())
			versions.add(p.Version)
		}
	}
	return cols.send(ctx, c, "projects")
}

func (c *ClickHouse) writeIncidents(ctx context.Context, batches []Batch) error {
	n := RowCount(batches, func(b *Batch) int { return len(b.Incidents) })
	if n == 0 {
		return nil
	}
	var cols insertColumns
	partitions, from, to := addColumn[uint32](&cols, "partition", n), addColumn[int64](&cols, "from_us", n), addColumn[int64](&cols, "to_us", n)
	at, held := addColumn[time.Time](&cols, "ts", n), addColumn[uint64](&cols, "checks_held", n)
	for i := range batches {
		for j := range batches[i].Incidents {
			in := &batches[i].Incidents[j]
			partitions.add(uint32(in.Partition))
			from.add(in.From.UnixMicro())
			to.add(in.To.UnixMicro())
			at.add(in.From)
			held.add(uint64(in.ChecksHeld))
		}
	}
	return cols.send(ctx, c, "incidents")
}

func (c *ClickHouse) writeHours(ctx context.Context, batches []Batch) error {
	n := RowCount(batches, func(b *Batch) int {
		n := 0
		for range b.HourRows {
			n++
		}
		return n
	})
	if n == 0 {
		return nil
	}
	var cols insertColumns
	projectIDs, checkIDs := addColumn[uuid.UUID](&cols, "project_id", n), addColumn[uuid.UUID](&cols, "check_id", n)
	tallies := addTallyColumns(&cols, "", n)
	for i := range batches {
		for h := range batches[i].HourRows {
			projectIDs.add(uuid.UUID(h.ProjectID))
			checkIDs.add(uuid.UUID(h.CheckID))
			tallies.add(&h.Tally)
		}
	}
	return cols.send(ctx, c, "check_hours")
}

// tallyColumns are the columns of an hour's tally; the checks table names them with a
// prefix and keeps the hour in microseconds.
type tallyColumns struct {
	hours                                                   *insertColumn[time.Time]
	hoursUS                                                 *insertColumn[int64]
	pings, successes, failures, starts, logs, ignored, runs *insertColumn[uint32]
	runSums, runMaxes                                       *insertColumn[int64]
}

func addTallyColumns(cols *insertColumns, prefix string, n int) tallyColumns {
	var t tallyColumns
	if prefix == "" {
		t.hours = addColumn[time.Time](cols, "hour", n)
	} else {
		t.hoursUS = addColumn[int64](cols, prefix+"hour_us", n)
	}
	t.pings, t.successes, t.failures = addColumn[uint32](cols, prefix+"pings", n), addColumn[uint32](cols, prefix+"successes", n), addColumn[uint32](cols, prefix+"failures", n)
	t.starts, t.logs, t.ignored = addColumn[uint32](cols, prefix+"starts", n), addColumn[uint32](cols, prefix+"logs", n), addColumn[uint32](cols, prefix+"ignored", n)
	t.runs, t.runSums, t.runMaxes = addColumn[uint32](cols, prefix+"runs", n), addColumn[int64](cols, prefix+"run_us_sum", n), addColumn[int64](cols, prefix+"run_us_max", n)
	return t
}

func (t tallyColumns) add(tally *check.HourTally) {
	if t.hours != nil {
		t.hours.add(tally.Hour)
	} else {
		t.hoursUS.add(micros(tally.Hour))
	}
	t.pings.add(tally.Pings)
	t.successes.add(tally.Successes)
	t.failures.add(tally.Failures)
	t.starts.add(tally.Starts)
	t.logs.add(tally.Logs)
	t.ignored.add(tally.Ignored)
	t.runs.add(tally.Runs)
	t.runSums.add(tally.RunTotal.Microseconds())
	t.runMaxes.add(tally.RunLongest.Microseconds())
}

const projectHourColumns = "project_id, hour, partition, version, pings, successes, failures, starts, logs, ignored, runs, run_us_sum, run_us_max"

func (c *ClickHouse) writeProjectHours(ctx context.Context, batches []Batch) error {
	n := RowCount(batches, func(b *Batch) int { return len(b.ProjectHours) })
	if n == 0 {
		return nil
	}
	var cols insertColumns
	projectIDs, partitions, versions := addColumn[uuid.UUID](&cols, "project_id", n), addColumn[uint32](&cols, "partition", n), addColumn[uint64](&cols, "version", n)
	tallies := addTallyColumns(&cols, "", n)
	for i := range batches {
		for j := range batches[i].ProjectHours {
			h := &batches[i].ProjectHours[j]
			projectIDs.add(uuid.UUID(h.ProjectID))
			partitions.add(uint32(h.Partition))
			versions.add(h.Version)
			tallies.add(&h.Tally)
		}
	}
	return cols.send(ctx, c, "project_hours")
}

// LoadProjectHours returns a partition's latest per-project counts of the hours from
// since on: the ones a restarted projector may still add to.
func (c *ClickHouse) LoadProjectHours(ctx context.Context, partition int, since time.Time) ([]ProjectHour, error) {
	rows, err := c.conn.Query(ctx, "SELECT "+projectHourColumns+" FROM "+c.database+".project_hours FINAL WHERE hour >= toDateTime(?) AND partition = ?",
		chschema.DateTime(since), uint32(partition))
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

func (c *ClickHouse) writeChecks(ctx context.Context, batches []Batch) error {
	n := RowCount(batches, func(b *Batch) int { return len(b.Checks) })
	if n == 0 {
		return nil
	}
	var cols insertColumns
	projectIDs, checkIDs := addColumn[uuid.UUID](&cols, "project_id", n), addColumn[uuid.UUID](&cols, "check_id", n)
	partitions, versions, deleted := addColumn[uint32](&cols, "partition", n), addColumn[uint64](&cols, "version", n), addColumn[uint8](&cols, "deleted", n)
	names, slugs, tags := addColumn[string](&cols, "name", n), addColumn[string](&cols, "slug", n), addColumn[string](&cols, "tags", n)
	descs, kinds := addColumn[string](&cols, "description", n), addColumn[string](&cols, "kind", n)
	timeouts, graces := addColumn[uint32](&cols, "timeout", n), addColumn[uint32](&cols, "grace", n)
	schedules, zones, manualResume := addColumn[string](&cols, "schedule", n), addColumn[string](&cols, "tz", n), addColumn[uint8](&cols, "manual_resume", n)
	methods, startKeywords := addColumn[string](&cols, "methods", n), addColumn[string](&cols, "start_kw", n)
	successKeywords, failureKeywords := addColumn[string](&cols, "success_kw", n), addColumn[string](&cols, "failure_kw", n)
	filterSubject, filterBody := addColumn[uint8](&cols, "filter_subject", n), addColumn[uint8](&cols, "filter_body", n)
	filterHTTPBody, filterDefaultFail := addColumn[uint8](&cols, "filter_http_body", n), addColumn[uint8](&cols, "filter_default_fail", n)
	channels, statuses, created := addColumn[[]string](&cols, "channels", n), addColumn[string](&cols, "status", n), addColumn[int64](&cols, "created_us", n)
	lastPings, lastStarts := addColumn[int64](&cols, "last_ping_us", n), addColumn[int64](&cols, "last_start_us", n)
	lastStartRIDs, lastDurations := addColumn[string](&cols, "last_start_rid", n), addColumn[int64](&cols, "last_duration_us", n)
	nPings, flipSeqs := addColumn[uint64](&cols, "n_pings", n), addColumn[uint64](&cols, "flip_seq", n)
	openRunRIDs, openRunTimes := addColumn[[]string](&cols, "open_runs_rid", n), addColumn[[]int64](&cols, "open_runs_us", n)
	held := addColumn[int64](&cols, "held_us", n)
	failureThresholds, recoveryThresholds := addColumn[uint16](&cols, "failure_threshold", n), addColumn[uint16](&cols, "recovery_threshold", n)
	streaks := addColumn[uint16](&cols, "streak", n)
	tallies := addTallyColumns(&cols, "tally_", n)
	for i := range batches {
		for j := range batches[i].Checks {
			r := &batches[i].Checks[j]
			s, cfg := &r.State, &r.State.Config
			rid := ""
			if s.LastStartHasRunID {
				rid = s.LastStartRunID.String()
			}
			runRIDs := make([]string, len(s.OpenRuns))
			runTimes := make([]int64, len(s.OpenRuns))
			for k, run := range s.OpenRuns {
				runRIDs[k] = "-"
				if run.HasRunID {
					runRIDs[k] = run.RunID.String()
				}
				runTimes[k] = run.Started.UnixMicro()
			}
			projectIDs.add(uuid.UUID(s.ProjectID))
			checkIDs.add(uuid.UUID(s.CheckID))
			partitions.add(uint32(r.Partition))
			versions.add(r.Version)
			deleted.add(flag(s.Deleted))
			names.add(cfg.Name)
			slugs.add(cfg.Slug)
			tags.add(cfg.Tags)
			descs.add(cfg.Desc)
			kinds.add(cfg.Kind.String())
			timeouts.add(uint32(cfg.Timeout / time.Second))
			graces.add(uint32(cfg.Grace / time.Second))
			schedules.add(cfg.Schedule)
			zones.add(cfg.TZ)
			manualResume.add(flag(cfg.ManualResume))
			methods.add(cfg.Methods)
			startKeywords.add(cfg.StartKeywords)
			successKeywords.add(cfg.SuccessKeywords)
			failureKeywords.add(cfg.FailureKeywords)
			filterSubject.add(flag(cfg.FilterSubject))
			filterBody.add(flag(cfg.FilterBody))
			filterHTTPBody.add(flag(cfg.FilterHTTPBody))
			filterDefaultFail.add(flag(cfg.FilterDefaultFail))
			channels.add(cfg.Channels)
			statuses.add(s.Status.String())
			created.add(micros(s.Created))
			lastPings.add(micros(s.LastPing))
			lastStarts.add(micros(s.LastStart))
			lastStartRIDs.add(rid)
			lastDurations.add(s.LastDuration.Microseconds())
			nPings.add(s.NPings)
			flipSeqs.add(s.FlipSeq)
			openRunRIDs.add(runRIDs)
			openRunTimes.add(runTimes)
			held.add(s.Held.Microseconds())
			failureThresholds.add(cfg.FailureThreshold)
			recoveryThresholds.add(cfg.RecoveryThreshold)
			streaks.add(s.Streak)
			tallies.add(&s.Tally)
		}
	}
	return cols.send(ctx, c, "checks")
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

// CountChecks returns about how many checks the checks table holds, deleted ones
// included: what a restore of every partition would load. It is exact for small tables;
// for large ones uniq's estimate is within a few percent, and does not hold every ID in
// the server's memory as an exact count of millions would.
func (c *ClickHouse) CountChecks(ctx context.Context) (int, error) {
	var n uint64
	if err := c.conn.QueryRow(ctx, "SELECT uniq(check_id) FROM "+c.database+".checks").Scan(&n); err != nil {
		return 0, fmt.Errorf("counting checks: %w", err)
	}
	return int(n), nil
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
