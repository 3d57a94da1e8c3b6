//go:build integration

package history

import (
	"context"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/hcstream/hcstream/deploy/testenv"
	"github.com/hcstream/hcstream/projector/check"
	"github.com/hcstream/hcstream/schemas"
)

func TestClickHouseWriterContract(t *testing.T) {
	t.Parallel()
	conn, database := testenv.ClickHouse(t)
	w := NewClickHouse(conn, database)
	count := func(t *testing.T, table string) int {
		var n uint64
		if err := conn.QueryRow(context.Background(), "SELECT count() FROM "+database+"."+table+" FINAL").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return int(n)
	}
	runWriterContract(t, w, readBack{
		incidents: func(t *testing.T) int { return count(t, "incidents") },
		counts: func(t *testing.T) (int, int, int, int) {
			return count(t, "pings"), count(t, "flips"), count(t, "projects"), count(t, "checks")
		},
		projHours: func(t *testing.T, project schemas.ID) []ProjectHour {
			var out []ProjectHour
			for _, partition := range []int{3, 4} {
				// What a restore asks for when the partition's check rows counted no hour:
				// an hour before the zero time, which ClickHouse 18.16 took for 2042.
				hours, err := w.LoadProjectHours(context.Background(), partition, time.Time{}.Add(-time.Hour))
				if err != nil {
					t.Fatal(err)
				}
				for _, h := range hours {
					if h.ProjectID == project {
						out = append(out, h)
					}
				}
			}
			slices.SortFunc(out, func(a, b ProjectHour) int { return a.Tally.Hour.Compare(b.Tally.Hour) })
			return out
		},
		hours: func(t *testing.T, id schemas.ID) []Hour {
			rows, err := conn.Query(context.Background(), "SELECT project_id, check_id, hour, pings, successes, failures, starts, logs, ignored, runs, "+
				"run_us_sum, run_us_max FROM "+database+".check_hours FINAL WHERE check_id = ? ORDER BY hour", uuid.UUID(id))
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var out []Hour
			for rows.Next() {
				var h Hour
				var project, check uuid.UUID
				var runSum, runMax int64
				tally := &h.Tally
				if err := rows.Scan(&project, &check, &tally.Hour, &tally.Pings, &tally.Successes, &tally.Failures, &tally.Starts,
					&tally.Logs, &tally.Ignored, &tally.Runs, &runSum, &runMax); err != nil {
					t.Fatal(err)
				}
				h.ProjectID, h.CheckID = schemas.ID(project), schemas.ID(check)
				tally.RunTotal, tally.RunLongest = time.Duration(runSum)*time.Microsecond, time.Duration(runMax)*time.Microsecond
				out = append(out, h)
			}
			return out
		},
		check: func(t *testing.T, id schemas.ID) (CheckRow, bool) {
			rows, err := conn.Query(context.Background(), "SELECT "+CheckColumns+" FROM "+database+".checks FINAL WHERE check_id = ?", uuid.UUID(id))
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			if !rows.Next() {
				return CheckRow{}, false
			}
			row, err := ScanCheck(rows)
			if err != nil {
				t.Fatal(err)
			}
			return row, true
		},
	})
	var loaded []CheckRow
	err := w.LoadPartitions(context.Background(), []int{2, 3}, func(row CheckRow) { loaded = append(loaded, row) })
	if err != nil || len(loaded) != 1 || loaded[0].Version != 8 || loaded[0].Partition != 3 {
		t.Errorf("LoadPartitions(2, 3) = %+v, %v; want the version-8 row of partition 3 (the contract writes 8 last)", loaded, err)
	}
	// A check written at several versions counts once.
	if n, err := w.CountChecks(context.Background()); err != nil || n != count(t, "checks") || n == 0 {
		t.Errorf("CountChecks = %d, %v; want the %d checks of checks FINAL", n, err, count(t, "checks"))
	}
}

// Writes whose contexts are cancelled the moment they return must not break the pooled
// connections for the writes after them. With the cancellation passed straight to the
// driver, about 1 % of such writes failed with "use of closed network connection" on a
// busy box; the goroutines below keep both cores busy so the driver's watchdog runs late.
func TestClickHouseWritesSurviveCancelledContexts(t *testing.T) {
	conn, database := testenv.ClickHouse(t)
	w := NewClickHouse(conn, database)
	var stop atomic.Bool
	defer stop.Store(true)
	for range 2 * runtime.GOMAXPROCS(0) {
		go func() {
			for !stop.Load() {
			}
		}()
	}
	failed := 0
	const writes = 300
	for i := range writes {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := w.Write(ctx, Batch{Incidents: []Incident{{Partition: i, From: time.Unix(int64(i), 0), To: time.Unix(int64(i)+60, 0), ChecksHeld: 1}}})
		cancel()
		if err != nil {
			failed++
			if failed <= 3 {
				t.Log(err)
			}
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d writes failed", failed, writes)
	}
}

// Every ping column holds its own field: the pings are written column by column, and a
// column list out of step with its values would go unnoticed by row counts.
func TestClickHousePingColumns(t *testing.T) {
	t.Parallel()
	conn, database := testenv.ClickHouse(t)
	project, checkID := schemas.NewID(), schemas.NewID()
	at := time.Date(2026, 11, 30, 23, 59, 58, 250000000, time.UTC)
	rid := schemas.NewID()
	pings := []Ping{
		{ProjectID: project, CheckID: checkID, EventID: schemas.NewID(), At: at,
			Ping:     schemas.PingReceived{Kind: schemas.PingStart, HasRunID: true, RunID: rid, Method: "GET", Scheme: "http", RemoteAddr: "10.0.0.1", UserAgent: "curl/8"},
			Recorded: check.PingRecorded{N: 7, Kind: check.KindStart}},
		{ProjectID: project, CheckID: checkID, EventID: schemas.NewID(), At: at.Add(1500 * time.Millisecond),
			Ping: schemas.PingReceived{Kind: schemas.PingExitStatus, ExitStatus: 3, HasRunID: true, RunID: rid, Method: "POST", Scheme: "https",
				RemoteAddr: "2001:db8::1", UserAgent: "runitor/1", Body: []byte("disk\x00full")},
			Recorded: check.PingRecorded{N: 8, Kind: check.KindFail, Duration: 1500 * time.Millisecond, HasDuration: true}},
	}
	// Split over two batches, as a write of two partitions' folds sends them.
	if err := NewClickHouse(conn, database).Write(context.Background(), Batch{Pings: pings[:1]}, Batch{Pings: pings[1:]}); err != nil {
		t.Fatal(err)
	}
	rows, err := conn.Query(context.Background(), "SELECT project_id, check_id, event_id, n, ts, received_us, kind, exit_status, rid, duration_us, "+
		"scheme, remote_addr, method, ua, body FROM "+database+".pings FINAL ORDER BY n")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	type pingRow struct {
		Project, Check, Event                     uuid.UUID
		N                                         uint64
		TS                                        time.Time
		ReceivedUS, DurationUS                    int64
		Kind, RID, Scheme, Addr, Method, UA, Body string
		ExitStatus                                int16
	}
	var got []pingRow
	for rows.Next() {
		var r pingRow
		if err := rows.Scan(&r.Project, &r.Check, &r.Event, &r.N, &r.TS, &r.ReceivedUS, &r.Kind, &r.ExitStatus, &r.RID, &r.DurationUS,
			&r.Scheme, &r.Addr, &r.Method, &r.UA, &r.Body); err != nil {
			t.Fatal(err)
		}
		r.TS = r.TS.UTC()
		got = append(got, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := []pingRow{
		{Project: uuid.UUID(project), Check: uuid.UUID(checkID), Event: uuid.UUID(pings[0].EventID), N: 7, TS: at.Truncate(time.Second),
			ReceivedUS: at.UnixMicro(), DurationUS: -1, Kind: "start", RID: rid.String(), Scheme: "http", Addr: "10.0.0.1", Method: "GET",
			UA: "curl/8", ExitStatus: -1},
		{Project: uuid.UUID(project), Check: uuid.UUID(checkID), Event: uuid.UUID(pings[1].EventID), N: 8, TS: at.Add(1500 * time.Millisecond).Truncate(time.Second),
			ReceivedUS: at.Add(1500 * time.Millisecond).UnixMicro(), DurationUS: 1500000, Kind: "fail", RID: rid.String(), Scheme: "https",
			Addr: "2001:db8::1", Method: "POST", UA: "runitor/1", Body: "disk\x00full", ExitStatus: 3},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ping rows (-want +got):\n%s", diff)
	}
}
