package query

import (
	"context"
	"errors"
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

// completeLive holds every partition.
type completeLive struct{ liveMap }

func (completeLive) HoldsAll() bool { return true }

// versionedStore lists stored check versions and counts which list it was asked for.
type versionedStore struct {
	*fakeLog
	stored                 []store.StoredCheck
	rowLists, versionLists int
}

func (s *versionedStore) Checks(ctx context.Context, project schemas.ID) ([]history.CheckRow, error) {
	s.rowLists++
	return s.fakeLog.Checks(ctx, project)
}

func (s *versionedStore) CheckVersions(context.Context, schemas.ID) ([]store.StoredCheck, error) {
	s.versionLists++
	return s.stored, nil
}

// With every partition folded here, the list reads only IDs and versions from the store
// and the rows from memory, in the store's order; any doubt sends it back to the rows.
func TestLiveListFromMemory(t *testing.T) {
	project, other := schemas.ID{1}, schemas.ID{2}
	first, second, gone, foreign := schemas.ID{10}, schemas.ID{11}, schemas.ID{12}, schemas.ID{13}
	rows := map[schemas.ID]history.CheckRow{
		first:   checkRow(project, first, 5, 1, false),
		second:  checkRow(project, second, 5, 1, false),
		gone:    checkRow(project, gone, 5, 1, false),
		foreign: checkRow(other, foreign, 5, 1, false),
	}
	stored := []store.StoredCheck{{ID: second, Version: 5}, {ID: first, Version: 5}, {ID: gone, Version: 5}, {ID: foreign, Version: 5}}
	live := func() liveMap {
		return liveMap{
			first:   checkRow(project, first, 8, 4, false),
			second:  checkRow(project, second, 5, 1, false),
			gone:    checkRow(project, gone, 9, 1, true),
			foreign: checkRow(other, foreign, 6, 2, false),
		}
	}
	list := func(st *versionedStore, l LiveChecks) []schemas.ID {
		t.Helper()
		got, err := WithLiveChecks(st, l).Checks(context.Background(), project)
		if err != nil {
			t.Fatal(err)
		}
		var ids []schemas.ID
		for _, r := range got {
			ids = append(ids, r.State.CheckID)
			if r.State.CheckID == first && r.State.NPings != 4 {
				t.Errorf("first check listed with n_pings %d, want the live 4", r.State.NPings)
			}
		}
		return ids
	}

	st := &versionedStore{fakeLog: &fakeLog{checks: rows}, stored: stored}
	if got := list(st, completeLive{live()}); len(got) != 2 || got[0] != second || got[1] != first || st.rowLists != 0 {
		t.Errorf("from memory: listed %v with %d row lists, want [second first] in the store's order and no row list", got, st.rowLists)
	}

	// Holding every partition, a check not held live does not exist: no store read
	// (a forged badge key must not cost a scan of the checks table).
	missingLive := live()
	delete(missingLive, first)
	if _, err := WithLiveChecks(st, completeLive{missingLive}).CheckProject(context.Background(), first); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("CheckProject of a check not held live: %v, want not found", err)
	}
	if _, err := WithLiveChecks(st, completeLive{missingLive}).Check(context.Background(), project, first); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Check of a check not held live: %v, want not found", err)
	}

	behind := live()
	behind[second] = checkRow(project, second, 4, 0, false) // older than the stored row
	missing := live()
	delete(missing, second)
	for name, l := range map[string]LiveChecks{"a live row older than the stored one": completeLive{behind},
		"a check not held live": completeLive{missing}, "partitions held elsewhere": live()} {
		st := &versionedStore{fakeLog: &fakeLog{checks: rows}, stored: stored}
		got := list(st, l)
		if len(got) != 2 || st.rowLists != 1 {
			t.Errorf("%s: listed %v with %d row lists, want the two checks from the rows", name, got, st.rowLists)
		}
		if _, elsewhere := l.(liveMap); elsewhere && st.versionLists != 0 {
			t.Errorf("%s: asked for versions though live cannot answer", name)
		}
	}
}
