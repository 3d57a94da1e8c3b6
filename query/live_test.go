package query

import (
	"bytes"
	"context"
	"errors"
	"iter"
	"slices"
	"testing"

	"github.com/hcstream/hcstream/projector/check"
	"github.com/hcstream/hcstream/projector/history"
	"github.com/hcstream/hcstream/query/store"
	"github.com/hcstream/hcstream/schemas"
)

type liveMap map[schemas.ID]history.CheckRow

func (m liveMap) Check(id schemas.ID) (history.CheckRow, bool) {
	row, ok := m[id]
	return row, ok
}

// HoldsAll is false: a liveMap holds some partitions, and every check that is not in it
// comes from the store.
func (m liveMap) HoldsAll() bool { return false }

func (m liveMap) ProjectChecks(schemas.ID) (iter.Seq[history.LazyRow], bool) { return nil, false }

func (m liveMap) ProjectChanges(schemas.ID, history.ChangeCursor) (history.ProjectChanges, bool) {
	return history.ProjectChanges{}, false
}

// AwaitWritten treats the map's rows as written and its checks' partitions as held: a
// version past a held row's would never be written.
func (m liveMap) AwaitWritten(_ context.Context, id schemas.ID, version uint64) (bool, error) {
	row, ok := m[id]
	if ok && row.Version < version {
		return true, context.DeadlineExceeded
	}
	return ok, nil
}

// awaitCountingStore counts the version waits that reached it.
type awaitCountingStore struct {
	*fakeLog
	awaits int
}

func (s *awaitCountingStore) AwaitCheckVersion(ctx context.Context, project, id schemas.ID, version uint64) error {
	s.awaits++
	return s.fakeLog.AwaitCheckVersion(ctx, project, id, version)
}

// A write's wait for its rows is answered by the projector that writes the check's
// partition, and only otherwise by the store.
func TestVersionWaitsAskTheProjectorFirst(t *testing.T) {
	project := schemas.ID{1}
	held, elsewhere := schemas.ID{10}, schemas.ID{11}
	stored := &awaitCountingStore{fakeLog: &fakeLog{checks: map[schemas.ID]history.CheckRow{
		held:      checkRow(project, held, 3, 0, false),
		elsewhere: checkRow(project, elsewhere, 5, 0, false),
	}}}
	st := WithLiveChecks(stored, liveMap{held: checkRow(project, held, 7, 0, false)})
	ctx := context.Background()
	if err := st.AwaitCheckVersion(ctx, project, held, 7); err != nil || stored.awaits != 0 {
		t.Fatalf("held check: err %v, %d store waits; want nil and 0", err, stored.awaits)
	}
	if err := st.AwaitCheckVersion(ctx, project, held, 8); !errors.Is(err, context.DeadlineExceeded) || stored.awaits != 0 {
		t.Fatalf("held check past its version: err %v, %d store waits; want the projector's deadline and 0", err, stored.awaits)
	}
	if err := st.AwaitCheckVersion(ctx, project, elsewhere, 5); err != nil || stored.awaits != 1 {
		t.Fatalf("check of a partition not held: err %v, %d store waits; want nil and 1", err, stored.awaits)
	}
	if err := st.AwaitCheckVersion(ctx, project, elsewhere, 6); err == nil || stored.awaits != 2 {
		t.Fatalf("check of a partition not held, past the stored version: err %v, %d store waits; want an error and 2", err, stored.awaits)
	}
}

func checkRow(project, id schemas.ID, version, pings uint64, deleted bool) history.CheckRow {
	return history.CheckRow{Version: version, State: check.State{ProjectID: project, CheckID: id, Exists: true, Deleted: deleted, NPings: pings}}
}

func TestLiveChecksPreferFreshState(t *testing.T) {
	project, other := schemas.ID{1}, schemas.ID{2}
	stale, fresh, gone, foreign, unseen, behind := schemas.ID{10}, schemas.ID{11}, schemas.ID{12}, schemas.ID{13}, schemas.ID{14}, schemas.ID{15}
	stored := &fakeLog{checks: map[schemas.ID]history.CheckRow{
		stale:   checkRow(project, stale, 5, 1, false),
		gone:    checkRow(project, gone, 5, 1, false),
		foreign: checkRow(other, foreign, 5, 1, false),
		unseen:  checkRow(project, unseen, 5, 1, false),
		behind:  checkRow(project, behind, 9, 3, false),
	}}
	live := liveMap{
		stale:   checkRow(project, stale, 8, 4, false),
		fresh:   checkRow(project, fresh, 7, 0, false), // created, not in ClickHouse yet
		gone:    checkRow(project, gone, 9, 1, true),
		foreign: checkRow(other, foreign, 6, 2, false),
		behind:  checkRow(project, behind, 6, 1, false), // cannot happen, but must not win
	}
	st := WithLiveChecks(stored, live)
	ctx := context.Background()

	for _, tc := range []struct {
		name      string
		id        schemas.ID
		wantPings uint64
		wantErr   error
	}{
		{"folded ping shows before ClickHouse has it", stale, 4, nil},
		{"created check shows before ClickHouse has it", fresh, 0, nil},
		{"deleted check is gone at once", gone, 0, store.ErrNotFound},
		{"another project's check is not found", foreign, 0, store.ErrNotFound},
		{"a check no local partition holds comes from ClickHouse", unseen, 1, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			row, err := st.Check(ctx, project, tc.id)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if err == nil && row.State.NPings != tc.wantPings {
				t.Errorf("n_pings %d, want %d", row.State.NPings, tc.wantPings)
			}
		})
	}

	if owner, err := st.CheckProject(ctx, foreign); err != nil || owner != other {
		t.Errorf("CheckProject(foreign) = %v, %v; want the other project (403, not 404)", owner, err)
	}
	if _, err := st.CheckProject(ctx, gone); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("CheckProject(deleted) err %v, want not found", err)
	}

	rows, err := st.Checks(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	got := map[schemas.ID]uint64{}
	for _, r := range rows {
		got[r.State.CheckID] = r.State.NPings
	}
	want := map[schemas.ID]uint64{stale: 4, unseen: 1, behind: 3}
	if len(got) != len(want) {
		t.Errorf("listed %v, want %v", got, want)
	}
	for id, n := range want {
		if got[id] != n {
			t.Errorf("list: check %v has n_pings %d, want %d", id[0], got[id], n)
		}
	}
}

// completeLive holds every partition; it lists a project's checks in ID order.
type completeLive struct{ liveMap }

func (completeLive) HoldsAll() bool { return true }

func (l completeLive) ProjectChecks(project schemas.ID) (iter.Seq[history.LazyRow], bool) {
	var rows []history.CheckRow
	for _, row := range l.liveMap {
		if row.State.ProjectID == project {
			rows = append(rows, row)
		}
	}
	slices.SortFunc(rows, func(a, b history.CheckRow) int { return bytes.Compare(a.State.CheckID[:], b.State.CheckID[:]) })
	return eachRow(rows), true
}

// countingStore counts the check lists it was asked for.
type countingStore struct {
	*fakeLog
	lists int
}

func (s *countingStore) Checks(ctx context.Context, project schemas.ID) ([]history.CheckRow, error) {
	s.lists++
	return s.fakeLog.Checks(ctx, project)
}

// With every partition folded here, reads never reach the store: the list comes from
// memory in its order, without deleted checks, and a check not held live does not
// exist (a forged badge key must not cost a scan of the checks table).
func TestLiveReadsFromMemoryAlone(t *testing.T) {
	project, other := schemas.ID{1}, schemas.ID{2}
	first, second, gone, foreign, storedOnly := schemas.ID{10}, schemas.ID{11}, schemas.ID{12}, schemas.ID{13}, schemas.ID{14}
	st := &countingStore{fakeLog: &fakeLog{checks: map[schemas.ID]history.CheckRow{
		first:      checkRow(project, first, 5, 1, false),
		storedOnly: checkRow(project, storedOnly, 5, 1, false),
	}}}
	live := completeLive{liveMap{
		first:   checkRow(project, first, 8, 4, false),
		second:  checkRow(project, second, 5, 1, false),
		gone:    checkRow(project, gone, 9, 1, true),
		foreign: checkRow(other, foreign, 6, 2, false),
	}}
	ctx := context.Background()
	rows, err := WithLiveChecks(st, live).Checks(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].State.CheckID != first || rows[0].State.NPings != 4 || rows[1].State.CheckID != second || st.lists != 0 {
		t.Errorf("listed %v with %d store lists, want [first (n_pings 4) second] and none", rows, st.lists)
	}
	if _, err := WithLiveChecks(st, live).CheckProject(ctx, storedOnly); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("CheckProject of a check not held live: %v, want not found", err)
	}
	if _, err := WithLiveChecks(st, live).Check(ctx, project, storedOnly); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Check of a check not held live: %v, want not found", err)
	}
}

// A project read's rows are awaited where this process folds their checks: a row the
// projector has not written yet keeps the wait open.
func TestRowsAreAwaitedWhereTheyAreFolded(t *testing.T) {
	project, written, ahead, elsewhere := schemas.ID{1}, schemas.ID{10}, schemas.ID{11}, schemas.ID{12}
	live := liveMap{written: checkRow(project, written, 5, 1, false), ahead: checkRow(project, ahead, 5, 1, false)}
	st := WithLiveChecks(&fakeLog{}, live)
	rows := []history.CheckRow{checkRow(project, written, 5, 1, false), checkRow(project, elsewhere, 9, 1, false)}
	if err := st.AwaitRowsWritten(context.Background(), rows); err != nil {
		t.Errorf("rows written, or from ClickHouse: %v", err)
	}
	rows = append(rows, checkRow(project, ahead, 6, 2, false))
	if err := st.AwaitRowsWritten(context.Background(), rows); err == nil {
		t.Error("a row past what the projector wrote was not waited for")
	}
}
