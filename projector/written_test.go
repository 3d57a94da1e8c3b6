package projector

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/hcstream/hcstream/projector/check"
	"github.com/hcstream/hcstream/projector/history"
	"github.com/hcstream/hcstream/schemas"
	"github.com/hcstream/hcstream/schemas/kafkarec"
)

// notYet reports whether a wait for version would still block.
func notYet(t *testing.T, m *writtenMark, version uint64) bool {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	held, err := m.await(ctx, version)
	return held && errors.Is(err, context.Canceled)
}

// awaitAsync starts a wait and returns where its result arrives.
func awaitAsync(m *writtenMark, version uint64) <-chan bool {
	return inBackground(func() (bool, error) { return m.await(context.Background(), version) })
}

// inBackground runs a wait in its own goroutine and returns where its answer arrives.
func inBackground(wait func() (bool, error)) <-chan bool {
	done := make(chan bool, 1)
	go func() {
		held, _ := wait()
		done <- held
	}()
	return done
}

// stillWaiting fails the test when done answers within d.
func stillWaiting(t *testing.T, done <-chan bool, d time.Duration, why string) {
	t.Helper()
	select {
	case <-done:
		t.Fatalf("the wait returned: %s", why)
	case <-time.After(d):
	}
}

func within(t *testing.T, done <-chan bool, what string) bool {
	t.Helper()
	select {
	case held := <-done:
		return held
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: the wait was never woken", what)
		return false
	}
}

// A version is written once the partition's writer has passed its record (offset
// version-1), and every waiter for it wakes then, not before.
func TestWrittenMarkWakesWaitersOnceTheirRecordIsStored(t *testing.T) {
	m := newWrittenMark(10) // records 0-9 were stored before the partition started here
	if notYet(t, m, 10) {
		t.Fatal("version 10 (offset 9) is before the start offset, yet a wait for it blocks")
	}
	if !notYet(t, m, 11) {
		t.Fatal("version 11 (offset 10) is not stored, yet a wait for it returned")
	}
	done := awaitAsync(m, 13)
	m.advance(12)
	if !notYet(t, m, 13) {
		t.Fatal("after the writer passed offset 11 only, a wait for version 13 returned")
	}
	m.advance(11) // an older mark never moves it back
	if !notYet(t, m, 13) || notYet(t, m, 12) {
		t.Fatal("an older offset moved the mark back")
	}
	m.advance(20)
	if !within(t, done, "writer passed the record") {
		t.Error("the wait reported the partition gone, not the record stored")
	}
	if notYet(t, m, 20) {
		t.Error("version 20 is stored, yet a wait for it blocks")
	}
}

// A batch is worth writing at once only while someone waits for one of its records
// that is not stored yet.
func TestWrittenMarkTellsWhichBatchesAreAwaited(t *testing.T) {
	m := newWrittenMark(10)
	if m.awaitedBefore(20) {
		t.Fatal("nobody waits, yet a batch up to offset 20 is awaited")
	}
	notYet(t, m, 15) // a wait for offset 14
	switch {
	case m.awaitedBefore(14):
		t.Error("a batch ending before offset 14 is awaited")
	case !m.awaitedBefore(15):
		t.Error("the batch ending after offset 14 is not awaited")
	}
	m.advance(15)
	if m.awaitedBefore(30) {
		t.Error("offset 14 is stored, yet later batches are still awaited")
	}
}

// A partition given up wakes its waiters with false, so they ask ClickHouse instead.
func TestWrittenMarkReleasesWaitersWhenThePartitionStops(t *testing.T) {
	m := newWrittenMark(-2) // no committed offset: the partition starts at its first record
	if !notYet(t, m, 1) {
		t.Fatal("nothing is stored, yet a wait for version 1 returned")
	}
	done := awaitAsync(m, 5)
	m.stop()
	if within(t, done, "partition stopped") {
		t.Error("the wait reported the record stored after the partition stopped")
	}
	m.advance(10) // a late flush after the stop changes nothing
	if held, err := m.await(context.Background(), 5); held || err != nil {
		t.Errorf("wait after the stop: held %v, err %v; want false, nil", held, err)
	}
}

// AwaitWritten waits only for partitions this projector writes, and trusts the mark
// only when the check's row here has the version (the check is in that partition).
func TestAwaitWrittenAnswersForHeldPartitionsOnly(t *testing.T) {
	p := &Projector{live: map[int]*partitionState{}}
	held, elsewhere, st := serveOneCheck(p, 4)
	ctx := context.Background()

	if ok, err := p.AwaitWritten(ctx, elsewhere, 1); ok || err != nil {
		t.Fatalf("check of a partition not held: %v, %v; want false, nil", ok, err)
	}
	done := inBackground(func() (bool, error) { return p.AwaitWritten(ctx, held, 4) })
	st.written.advance(4)
	if !within(t, done, "held partition written") {
		t.Fatal("the held partition's writer passed version 4, yet AwaitWritten sent the caller to ClickHouse")
	}
	// A version the row here never reached (the check lives in another partition under
	// a changed partition count) must not be vouched for.
	st.written.advance(9)
	if ok, err := p.AwaitWritten(ctx, held, 6); ok || err != nil {
		t.Errorf("row at version 4 asked for 6: %v, %v; want false, nil", ok, err)
	}
	p.partitioner.Store(nil)
	if ok, _ := p.AwaitWritten(ctx, held, 4); ok {
		t.Error("with the partition count unknown, AwaitWritten answered")
	}
}

// awaitFolded waits for the row of the check's partition to reach the version, and
// answers false for a partition not folded here.
func TestAwaitFoldedWatchesTheRow(t *testing.T) {
	p := &Projector{live: map[int]*partitionState{}, follows: true}
	followed, elsewhere, st := serveOneCheck(p, 4)
	row, _ := st.row(followed)
	project := row.State.ProjectID
	ctx := context.Background()

	if ok, err := p.awaitFolded(ctx, elsewhere, 1); ok || err != nil {
		t.Fatalf("check of a partition not folded here: %v, %v; want false, nil", ok, err)
	}
	if ok, err := p.awaitFolded(ctx, followed, 4); !ok || err != nil {
		t.Fatalf("row at the version: %v, %v; want true, nil", ok, err)
	}
	done := inBackground(func() (bool, error) { return p.awaitFolded(ctx, followed, 6) })
	stillWaiting(t, done, 20*time.Millisecond, "the row has not reached version 6")
	st.mu.Lock()
	st.put(history.CheckRow{Version: 6, State: check.State{CheckID: followed, ProjectID: project, Exists: true}})
	st.mu.Unlock()
	if !within(t, done, "row folded to version 6") {
		t.Fatal("the row reached version 6, yet awaitFolded did not vouch for it")
	}
	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if ok, err := p.awaitFolded(short, followed, 7); !ok || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a version never folded: %v, %v; want true and the deadline", ok, err)
	}
}

// placeInTwoPartitions gives p a topic of two partitions and returns a check ID placed
// in each.
func placeInTwoPartitions(p *Projector) (first, second schemas.ID) {
	partitioner := kafkarec.NewPartitioner(2)
	p.partitioner.Store(&partitioner)
	ids := map[int]schemas.ID{}
	for len(ids) < 2 {
		id := schemas.NewID()
		ids[partitioner.Of([]byte(id.String()))] = id
	}
	return ids[0], ids[1]
}

// An API write in another process marks its record awaited: folding it, while it is
// recent, makes its batch close at the end of the fetch and be written at once. A
// replay's old awaited records, and records without the mark, change nothing.
func TestAwaitedRecordsHastenTheirBatch(t *testing.T) {
	p, err := New(Config{Brokers: []string{"unused:9092"}}, slog.New(slog.DiscardHandler), nil, nil, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		age     time.Duration
		awaited bool
		want    bool
	}{
		{"a recent awaited write", time.Second, true, true},
		{"an awaited write no one waits for any more", time.Hour, true, false},
		{"a write without the mark", time.Second, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := schemas.Event{ID: schemas.NewID(), ProjectID: schemas.NewID(), CheckID: schemas.NewID(), At: time.Now().Add(-tc.age),
				Body: schemas.CheckCreated{Config: schemas.CheckConfig{Timeout: time.Hour, Grace: time.Minute, TZ: "UTC"}}}
			msg, err := kafkarec.Message(ev)
			if err != nil {
				t.Fatal(err)
			}
			if tc.awaited {
				msg = kafkarec.Awaited(msg)
			}
			msg.Offset = 41
			st := newPartitionState(0, 0)
			st.written = newWrittenMark(41)
			folded := &batch{steps: []history.Batch{{}}}
			if err := p.fold(st, folded, msg); err != nil {
				t.Fatal(err)
			}
			if got := st.written.awaitedBefore(42); got != tc.want {
				t.Errorf("batch to offset 42 awaited: %v, want %v", got, tc.want)
			}
			// The mark means nothing on the registry topic.
			if len(folded.registry) != 1 || kafkarec.IsAwaited(folded.registry[0]) {
				t.Errorf("registry records %v, want one without the awaited mark", folded.registry)
			}
		})
	}
}

// serveOneCheck has p serve partition 0 of two, holding one check at version, and
// returns that check, a check of the other partition, and the served state.
func serveOneCheck(p *Projector, version uint64) (held, elsewhere schemas.ID, st *partitionState) {
	held, elsewhere = placeInTwoPartitions(p)
	st = newPartitionState(0, 0)
	st.written = newWrittenMark(0)
	st.load(history.CheckRow{Version: version, State: check.State{CheckID: held, ProjectID: schemas.NewID(), Exists: true}})
	p.serveLive(st)
	return held, elsewhere, st
}

// A project's analytics wait for every check its list shows (the query's
// AwaitRowsWritten calls AwaitWritten once a check): this is that wait for a project of
// 10,000 checks whose rows are all written, its cost when nothing has to wait.
func BenchmarkAwaitWrittenProject(b *testing.B) {
	p, projects, rows := benchmarkProjects()
	for _, st := range p.live {
		st.written = newWrittenMark(int64(len(rows)))
	}
	var project []history.CheckRow
	for _, row := range rows {
		if row.State.ProjectID == projects[0] {
			project = append(project, row)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, row := range project {
			if held, err := p.AwaitWritten(context.Background(), row.State.CheckID, row.Version); !held || err != nil {
				b.Fatal(held, err)
			}
		}
	}
}
