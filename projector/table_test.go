package projector

import (
	"strconv"
	"testing"
	"time"

	"github.com/hcstream/hcstream/projector/check"
	"github.com/hcstream/hcstream/projector/deadline"
	"github.com/hcstream/hcstream/projector/history"
	"github.com/hcstream/hcstream/schemas"
)

func TestCheckTableAgainstMap(t *testing.T) {
	table := newCheckTable(0)
	want := map[schemas.ID]uint64{}
	dues := map[schemas.ID]int64{}
	ids := make([]schemas.ID, 5000)
	for i := range ids {
		ids[i] = schemas.NewID()
	}
	// Adjacent IDs that share their first eight bytes collide on purpose.
	ids[1] = ids[0]
	ids[1][15]++
	for round := uint64(1); round <= 3; round++ {
		for i, id := range ids {
			if i%int(round) != 0 {
				continue
			}
			table.put(packRow(history.CheckRow{Version: round, State: check.State{CheckID: id, Exists: true}}))
			want[id] = round
			if i%3 == 0 {
				table.SetDeadline(id, int64(i)*int64(round), true)
				dues[id] = int64(i) * int64(round)
			} else if i%3 == 1 {
				table.SetDeadline(id, 0, false)
				delete(dues, id)
			}
		}
	}
	if table.len() != len(want) {
		t.Fatalf("len %d, want %d", table.len(), len(want))
	}
	for id, version := range want {
		row, ok := table.get(id)
		if !ok || row.unpack().Version != version || row.checkID() != id {
			t.Fatalf("get(%v) = %v, %v; want version %d", id, ok, row.unpack().Version, version)
		}
		at, ok := table.Deadline(id)
		if wantAt, has := dues[id]; ok != has || (has && at != wantAt) {
			t.Fatalf("Deadline(%v) = %d, %v; want %d, %v", id, at, ok, wantAt, has)
		}
	}
	if _, ok := table.get(schemas.NewID()); ok {
		t.Error("get found a check never stored")
	}
	table.SetDeadline(schemas.NewID(), 5, true)
	if table.DeadlineCount() != len(dues) {
		t.Errorf("DeadlineCount %d, want %d (a check not stored has no deadline)", table.DeadlineCount(), len(dues))
	}
	seen := 0
	for id, at := range table.Deadlines {
		if dues[id] != at {
			t.Errorf("Deadlines yields %v at %d, want %d", id, at, dues[id])
		}
		seen++
	}
	rows := 0
	for range table.rows {
		rows++
	}
	if seen != len(dues) || rows != len(want) {
		t.Errorf("iterated %d deadlines and %d rows, want %d and %d", seen, rows, len(dues), len(want))
	}
}

// TestCheckTableProjectIndex follows checks of three projects through the table's growth
// and through later versions of their rows, comparing projectRows with the projects the
// rows themselves name.
func TestCheckTableProjectIndex(t *testing.T) {
	table := newCheckTable(0)
	projects := []schemas.ID{schemas.NewID(), schemas.NewID(), schemas.NewID()}
	want := map[schemas.ID]map[schemas.ID]bool{}
	var ids []schemas.ID
	for i := range 3000 {
		id, project := schemas.NewID(), projects[i%3]
		table.put(packRow(history.CheckRow{Version: 1, State: check.State{CheckID: id, ProjectID: project, Exists: true}}))
		if want[project] == nil {
			want[project] = map[schemas.ID]bool{}
		}
		want[project][id] = true
		ids = append(ids, id)
	}
	for i, id := range ids[:1000] {
		table.put(packRow(history.CheckRow{Version: 2, State: check.State{CheckID: id, ProjectID: projects[i%3], Exists: true, NPings: 1}}))
	}
	for _, project := range append(projects, schemas.NewID()) {
		got := map[schemas.ID]bool{}
		for row := range table.projectRows(project) {
			if row.projectID() != project || got[row.checkID()] {
				t.Fatalf("project %v: row of %v (project %v) listed wrongly or twice", project, row.checkID(), row.projectID())
			}
			got[row.checkID()] = true
		}
		if len(got) != len(want[project]) || table.projectLen(project) != len(want[project]) {
			t.Errorf("project %v: %d rows (projectLen %d), want %d", project, len(got), table.projectLen(project), len(want[project]))
		}
	}
}

func BenchmarkCheckTableGet(b *testing.B) {
	for _, n := range []int{3000, 1_000_000} {
		table := newCheckTable(0)
		ids := make([]schemas.ID, n)
		for i := range ids {
			ids[i] = schemas.NewID()
			table.put(packRow(history.CheckRow{State: check.State{CheckID: ids[i], Exists: true}}))
		}
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			i := 0
			for b.Loop() {
				if _, ok := table.get(ids[i%n]); !ok {
					b.Fatal("missing")
				}
				i++
			}
		})
	}
}

// A partition holds far more checks than have deadlines: new, paused and down checks
// wait for no time. Pings move the deadlines of the few that do.
func BenchmarkDeadlinesAmongIdleChecks(b *testing.B) {
	table := newCheckTable(0)
	ids := make([]schemas.ID, 70_000)
	for i := range ids {
		ids[i] = schemas.NewID()
		table.put(packRow(history.CheckRow{State: check.State{CheckID: ids[i], Exists: true}}))
	}
	index := deadline.New(table)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		index.Set(ids[i%1000], start.Add(time.Duration(i)*time.Millisecond), true)
		i++
	}
}
