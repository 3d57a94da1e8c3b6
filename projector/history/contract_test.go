package history

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hcstream/hcstream/projector/check"
	"github.com/hcstream/hcstream/schemas"
)

// readBack is what the contract needs to observe a Writer's visible rows.
type readBack struct {
	counts    func(t *testing.T) (pings, flips, projects, checks int)
	check     func(t *testing.T, id schemas.ID) (CheckRow, bool)
	incidents func(t *testing.T) int
	hours     func(t *testing.T, id schemas.ID) []Hour
	projHours func(t *testing.T, project schemas.ID) []ProjectHour
}

// runWriterContract is the behaviour every Writer must have; the in-memory fake runs it
// in unit tests and the ClickHouse adapter under the integration tag.
func runWriterContract(t *testing.T, w Writer, rb readBack) {
	ctx := context.Background()
	at := time.Date(2026, 11, 25, 10, 0, 0, 123456000, time.UTC)
	project, checkID := schemas.NewID(), schemas.NewID()
	// Every field holds a value of its own, so a column written or read in another's
	// place shows.
	state := check.State{ProjectID: project, CheckID: checkID, Exists: true, Status: schemas.StatusUp, LastPing: at, NPings: 2, FlipSeq: 1,
		Config: schemas.CheckConfig{Name: "db backup", Slug: "db-backup", Tags: "prod db", Desc: "nightly", Kind: schemas.KindCron,
			Timeout: time.Hour, Grace: time.Minute, Schedule: "5 4 * * *", TZ: "Europe/Riga", ManualResume: true, Methods: "POST",
			StartKeywords: "begin", SuccessKeywords: "done", FailureKeywords: "error", FilterSubject: true, FilterHTTPBody: true,
			Channels: []string{"a", "b"}, FailureThreshold: 3, RecoveryThreshold: 2},
		LastStart: at.Add(-time.Minute), LastStartRunID: schemas.NewID(), LastStartHasRunID: true, LastDuration: 61 * time.Second,
		OpenRuns: []check.Run{{HasRunID: true, RunID: schemas.NewID(), Started: at}, {Started: at.Add(time.Second)}}, Created: at.Add(-time.Hour),
		Held: 90 * time.Second, Streak: 2,
		Tally: check.HourTally{Hour: at.Truncate(time.Hour), Pings: 2, Successes: 1, Starts: 1, Runs: 1, RunTotal: time.Second, RunLongest: time.Second}}
	closedHour := Hour{ProjectID: project, CheckID: checkID, Tally: check.HourTally{Hour: at.Truncate(time.Hour).Add(-time.Hour),
		Pings: 9, Successes: 1, Failures: 2, Starts: 3, Logs: 2, Ignored: 1, Runs: 3, RunTotal: 3 * time.Minute, RunLongest: 2 * time.Minute}}
	batch := Batch{
		Pings: []Ping{
			{ProjectID: project, CheckID: checkID, EventID: schemas.NewID(), At: at, Ping: schemas.PingReceived{Kind: schemas.PingStart, Method: "GET"}, Recorded: check.PingRecorded{N: 1, Kind: check.KindStart}},
			{ProjectID: project, CheckID: checkID, EventID: schemas.NewID(), At: at.Add(time.Second), Ping: schemas.PingReceived{Kind: schemas.PingExitStatus, Body: []byte("ok")},
				Recorded: check.PingRecorded{N: 2, Kind: check.KindSuccess, Duration: time.Second, HasDuration: true}},
		},
		Flips:     []Flip{{ProjectID: project, CheckID: checkID, Flipped: check.Flipped{At: at, Change: schemas.StatusChanged{FlipSeq: 1, Old: schemas.StatusNew, New: schemas.StatusUp}}}},
		Projects:  []Project{{ProjectID: project, Created: at, Version: 1, Body: schemas.ProjectCreated{Name: "p", APIKeyHash: "h1", PingKey: "k"}}},
		Checks:    []CheckRow{{Partition: 3, Version: 7, State: state}},
		Incidents: []Incident{{Partition: 3, From: at, To: at.Add(time.Minute), ChecksHeld: 1}},
		Hours:     []Hour{closedHour},
		ProjectHours: []ProjectHour{{ProjectID: project, Partition: 3, Version: 7, Tally: state.Tally},
			{ProjectID: project, Partition: 4, Version: 2, Tally: closedHour.Tally}},
	}
	// First as several batches in one write, as the projector sends what its partitions
	// folded; every row of each must be stored.
	rest := batch
	rest.Pings = batch.Pings[1:]
	if err := w.Write(ctx, Batch{Pings: batch.Pings[:1]}, Batch{}, rest); err != nil {
		t.Fatalf("first write: %v", err)
	}
	if p, f, pr, c := rb.counts(t); p != 2 || f != 1 || pr != 1 || c != 1 {
		t.Errorf("after three batches in one write: %d pings %d flips %d projects %d checks, want 2 1 1 1", p, f, pr, c)
	}
	// The same batch again, as after a crash between write and commit: nothing doubles.
	if err := w.Write(ctx, batch); err != nil {
		t.Fatalf("repeated write: %v", err)
	}
	if p, f, pr, c := rb.counts(t); p != 2 || f != 1 || pr != 1 || c != 1 {
		t.Errorf("after a repeated batch: %d pings %d flips %d projects %d checks, want 2 1 1 1", p, f, pr, c)
	}
	if n := rb.incidents(t); n != 1 {
		t.Errorf("after a repeated batch: %d incidents, want 1", n)
	}
	openHour := Hour{ProjectID: project, CheckID: checkID, Tally: state.Tally}
	if diff := cmp.Diff([]Hour{closedHour, openHour}, rb.hours(t, checkID), timeEqual); diff != "" {
		t.Errorf("check hours after a repeated batch (-want +got):\n%s", diff)
	}
	// An older version of a check never wins over a newer one.
	older := state
	older.NPings = 1
	if err := w.Write(ctx, Batch{Checks: []CheckRow{{Partition: 3, Version: 5, State: older}}}); err != nil {
		t.Fatal(err)
	}
	got, ok := rb.check(t, checkID)
	if !ok || got.Version != 7 || got.State.NPings != 2 || got.Partition != 3 {
		t.Errorf("latest check row = %+v %v, want version 7 with 2 pings", got, ok)
	}
	if diff := cmp.Diff(state, got.State, timeEqual); diff != "" {
		t.Errorf("check state did not round-trip (-written +read):\n%s", diff)
	}
	wantProjectHours := []ProjectHour{batch.ProjectHours[1], batch.ProjectHours[0]}
	if diff := cmp.Diff(wantProjectHours, rb.projHours(t, project), timeEqual); diff != "" {
		t.Errorf("project hours after a repeated batch (-want +got):\n%s", diff)
	}
	// The open hour's count grows with later batches; a stale one never wins.
	later := state
	later.Tally.Pings, later.Tally.Logs = 3, 1
	laterProjectHour := ProjectHour{ProjectID: project, Partition: 3, Version: 8, Tally: later.Tally}
	if err := w.Write(ctx, Batch{Checks: []CheckRow{{Partition: 3, Version: 8, State: later}}, ProjectHours: []ProjectHour{laterProjectHour}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(ctx, Batch{Checks: []CheckRow{{Partition: 3, Version: 5, State: older}}, ProjectHours: []ProjectHour{{ProjectID: project, Partition: 3, Version: 5, Tally: older.Tally}}}); err != nil {
		t.Fatal(err)
	}
	if got := rb.projHours(t, project); len(got) != 2 || !cmp.Equal(got[1], laterProjectHour, timeEqual) {
		t.Errorf("project hours after a later batch: %+v, want the partition 3 hour at version 8", got)
	}
	if hours := rb.hours(t, checkID); len(hours) != 2 || !cmp.Equal(hours[1].Tally, later.Tally, timeEqual) {
		t.Errorf("check hours after a later batch: %+v, want the open hour at %+v", hours, later.Tally)
	}
	if err := w.Write(ctx, Batch{}); err != nil {
		t.Errorf("an empty batch must be a no-op: %v", err)
	}
}

// timeEqual compares times by instant, whatever their location.
var timeEqual = cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })

func TestMemoryWriterContract(t *testing.T) {
	m := NewMemory()
	runWriterContract(t, m, readBack{
		counts:    func(*testing.T) (int, int, int, int) { return m.Counts() },
		check:     func(_ *testing.T, id schemas.ID) (CheckRow, bool) { return m.Check(id) },
		incidents: func(*testing.T) int { return len(m.Incidents()) },
		hours:     func(_ *testing.T, id schemas.ID) []Hour { return m.Hours(id) },
		projHours: func(_ *testing.T, project schemas.ID) []ProjectHour { return m.ProjectHours(project) },
	})
}

func TestCoalescerWriterContract(t *testing.T) {
	m := NewMemory()
	runWriterContract(t, NewCoalescer(m, time.Millisecond, 0), readBack{
		counts:    func(*testing.T) (int, int, int, int) { return m.Counts() },
		check:     func(_ *testing.T, id schemas.ID) (CheckRow, bool) { return m.Check(id) },
		incidents: func(*testing.T) int { return len(m.Incidents()) },
		hours:     func(_ *testing.T, id schemas.ID) []Hour { return m.Hours(id) },
		projHours: func(_ *testing.T, project schemas.ID) []ProjectHour { return m.ProjectHours(project) },
	})
}

// Concurrent writers share one write per interval, and each learns the outcome.
func TestCoalescerMergesConcurrentBatches(t *testing.T) {
	m := NewMemory()
	c := NewCoalescer(m, 50*time.Millisecond, 0)
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Go(func() {
			b := Batch{Pings: []Ping{{CheckID: schemas.ID{byte(i)}, EventID: schemas.NewID()}}}
			if err := c.Write(context.Background(), b); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if pings, _, _, _ := m.Counts(); pings != 12 {
		t.Errorf("%d pings written, want 12", pings)
	}
	if m.writes > 2 {
		t.Errorf("%d writes for 12 concurrent batches, want them merged", m.writes)
	}
}

// A write never exceeds maxRows unless one batch does, writes do not overlap, and
// batches waiting behind a slow write go out together rather than one by one.
func TestCoalescerBoundsAndSerialisesWrites(t *testing.T) {
	slow := &slowWriter{next: NewMemory(), delay: 20 * time.Millisecond}
	c := NewCoalescer(slow, time.Millisecond, 3)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			b := Batch{Pings: []Ping{{CheckID: schemas.ID{byte(i)}, EventID: schemas.NewID()}}}
			if err := c.Write(context.Background(), b); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if pings, _, _, _ := slow.next.Counts(); pings != 20 {
		t.Errorf("%d pings written, want 20", pings)
	}
	if slow.maxRows > 3 || slow.maxConcurrent > 1 {
		t.Errorf("largest write %d rows (max 3), %d writes at once (max 1)", slow.maxRows, slow.maxConcurrent)
	}
	if slow.writes > 10 {
		t.Errorf("%d writes for 20 batches of 1 row with room for 3 each", slow.writes)
	}
}

type slowWriter struct {
	next  *Memory
	delay time.Duration

	mu                                      sync.Mutex
	writes, running, maxConcurrent, maxRows int
}

func (s *slowWriter) Write(ctx context.Context, batches ...Batch) error {
	rows := RowCount(batches, (*Batch).Len)
	s.mu.Lock()
	s.writes++
	s.running++
	s.maxConcurrent = max(s.maxConcurrent, s.running)
	s.maxRows = max(s.maxRows, rows)
	s.mu.Unlock()
	time.Sleep(s.delay)
	s.mu.Lock()
	s.running--
	s.mu.Unlock()
	return s.next.Write(ctx, batches...)
}

// startsWriter records when each write started.
type startsWriter struct {
	mu     sync.Mutex
	starts []time.Time
	rows   []int
}

func (s *startsWriter) Write(_ context.Context, batches ...Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.starts, s.rows = append(s.starts, time.Now()), append(s.rows, RowCount(batches, (*Batch).Len))
	return nil
}

// A batch someone waits for is written without waiting out the interval, and takes
// the batches queued before it along; such writes still keep soonGap apart.
func TestCoalescerWritesSoonWhatIsAwaited(t *testing.T) {
	w := &startsWriter{}
	c := NewCoalescer(w, 2*time.Second, 0)
	one := func(i byte) Batch { return Batch{Pings: []Ping{{CheckID: schemas.ID{i}, EventID: schemas.NewID()}}} }
	queued := make(chan error, 1)
	go func() { queued <- c.Write(context.Background(), one(1)) }()
	eventually(t, func() bool { c.mu.Lock(); defer c.mu.Unlock(); return len(c.pending) == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := c.WriteSoon(ctx, one(2)); err != nil {
		t.Fatalf("an awaited batch waited for the 2 s interval: %v", err)
	}
	if err := <-queued; err != nil || len(w.rows) != 1 || w.rows[0] != 2 {
		t.Fatalf("writes of %v rows, queued batch: %v; want one write of both", w.rows, err)
	}
	if err := c.WriteSoon(context.Background(), one(3)); err != nil {
		t.Fatal(err)
	}
	if gap := w.starts[1].Sub(w.starts[0]); gap < soonGap {
		t.Errorf("two awaited writes %v apart, want at least %v", gap, soonGap)
	}
}

// eventually polls cond for up to ten seconds.
func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition never held")
		}
	}
}

// Hasten brings a write waiting out the interval forward, as WriteSoon would have, and
// does nothing when no write waits.
func TestCoalescerHastensAWaitingWrite(t *testing.T) {
	w := &startsWriter{}
	c := NewCoalescer(w, time.Minute, 0)
	c.Hasten()
	one := func(i byte) Batch { return Batch{Pings: []Ping{{CheckID: schemas.ID{i}, EventID: schemas.NewID()}}} }
	queued := make(chan error, 1)
	go func() { queued <- c.Write(context.Background(), one(1)) }()
	eventually(t, func() bool { c.mu.Lock(); defer c.mu.Unlock(); return len(c.pending) == 1 })
	c.Hasten()
	select {
	case err := <-queued:
		if err != nil || len(w.rows) != 1 {
			t.Fatalf("writes of %v rows: %v", w.rows, err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a hastened write still waits for the minute's interval")
	}
}
