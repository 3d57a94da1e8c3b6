package projector

import (
	"iter"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/hcstream/hcstream/projector/check"
	"github.com/hcstream/hcstream/projector/history"
	"github.com/hcstream/hcstream/schemas"
	"github.com/hcstream/hcstream/schemas/kafkarec"
)

// ProjectChecks answers only while every partition is held, and then lists the
// project's checks from every partition, the batch in progress included, by creation.
func TestProjectChecksFromEveryPartition(t *testing.T) {
	p := &Projector{live: map[int]*partitionState{}}
	partitioner := kafkarec.NewPartitioner(2)
	p.partitioner.Store(&partitioner)
	project, other := schemas.NewID(), schemas.NewID()
	created := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	var want []schemas.ID
	states := []*partitionState{newPartitionState(0, 0), newPartitionState(1, 0)}
	for i := range 6 {
		id := schemas.NewID()
		st := states[partitioner.Of([]byte(id.String()))]
		row := history.CheckRow{Version: 1, State: check.State{CheckID: id, ProjectID: project, Exists: true, Created: created.Add(time.Duration(5-i) * time.Second)}}
		if i%2 == 0 {
			st.load(row)
		} else {
			st.put(row) // folded in the current batch, not packed yet
		}
		want = append([]schemas.ID{id}, want...)
		st.load(history.CheckRow{Version: 1, State: check.State{CheckID: schemas.NewID(), ProjectID: other, Exists: true}})
	}

	p.serveLive(states[0])
	if seq, ok := p.ProjectChecks(project); ok || seq != nil {
		t.Fatal("with one of two partitions held, the projector listed checks")
	}
	p.serveLive(states[1])
	rows, ok := collect(p.ProjectChecks(project))
	if !ok || len(rows) != len(want) {
		t.Fatalf("%d rows, ok %v; want %d and true", len(rows), ok, len(want))
	}
	for i, row := range rows {
		if row.State.CheckID != want[i] || row.State.ProjectID != project {
			t.Errorf("row %d is %v of project %v, want %v (oldest first)", i, row.State.CheckID, row.State.ProjectID, want[i])
		}
	}
	// A head says what its row holds, whether or not the row was unpacked before.
	seq, _ := p.ProjectChecks(project)
	i := 0
	for lazy := range seq {
		head := lazy.Head()
		if i%2 == 0 {
			lazy.Row()
		}
		if row := lazy.Row(); head != history.HeadOf(row) || head.Partition != partitioner.Of([]byte(head.CheckID.String())) {
			t.Errorf("row %d: head %+v, row's %+v", i, head, history.HeadOf(row))
		}
		i++
	}
	if rows, ok := collect(p.ProjectChecks(schemas.NewID())); !ok || len(rows) != 0 {
		t.Errorf("a project without checks: %d rows, ok %v", len(rows), ok)
	}
}

// collect copies the rows ProjectChecks yields.
func collect(seq iter.Seq[history.LazyRow], ok bool) ([]history.CheckRow, bool) {
	if !ok {
		return nil, false
	}
	var rows []history.CheckRow
	for lazy := range seq {
		rows = append(rows, *lazy.Row())
	}
	return rows, true
}

// BenchmarkProjectChecks times the projector's share of listing a project of 10,000
// checks, among 100,000 checks in eight partitions: gathering and ordering, then either
// reading each row's head only (every rendering reused) or unpacking every row.
func BenchmarkProjectChecks(b *testing.B) {
	p, projects, _ := benchmarkProjects()
	for _, unpack := range []bool{false, true} {
		b.Run(map[bool]string{false: "heads", true: "rows"}[unpack], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				seq, ok := p.ProjectChecks(projects[0])
				n := 0
				for lazy := range seq {
					if unpack && lazy.Row().State.ProjectID != projects[0] {
						b.Fatal("a row of another project")
					}
					n++
				}
				if !ok || n != 10_000 {
					b.Fatal(n, ok)
				}
			}
		})
	}
}

// ProjectChanges reads every partition's journal: first every check of the project,
// then only those changed since, each time with its latest row, and every check again
// once a journal no longer reaches back or a partition is folded afresh.
func TestProjectChangesFollowTheJournals(t *testing.T) {
	p := &Projector{live: map[int]*partitionState{}}
	partitioner := kafkarec.NewPartitioner(2)
	p.partitioner.Store(&partitioner)
	project, other := schemas.NewID(), schemas.NewID()
	states := []*partitionState{newPartitionState(0, 0), newPartitionState(1, 0)}
	stateOf := func(id schemas.ID) *partitionState { return states[partitioner.Of([]byte(id.String()))] }
	rowOf := func(id, project schemas.ID, version uint64) history.CheckRow {
		return history.CheckRow{Version: version, State: check.State{CheckID: id, ProjectID: project, Exists: true, NPings: version}}
	}
	var ids []schemas.ID
	for range 4 {
		id := schemas.NewID()
		stateOf(id).load(rowOf(id, project, 1))
		ids = append(ids, id)
		foreign := schemas.NewID()
		stateOf(foreign).load(rowOf(foreign, other, 1))
	}
	// changed reads the changes after since, checking each row against its head.
	changed := func(since history.ChangeCursor) (history.ProjectChanges, map[schemas.ID][]uint64) {
		t.Helper()
		changes, ok := p.ProjectChanges(project, since)
		if !ok {
			t.Fatal("every partition is held, but ProjectChanges did not answer")
		}
		versions := map[schemas.ID][]uint64{}
		for lazy := range changes.Rows {
			head, row := lazy.Head(), lazy.Row()
			if head != history.HeadOf(row) || row.State.ProjectID != project || row.Partition != partitioner.Of([]byte(head.CheckID.String())) {
				t.Fatalf("head %+v, row %+v of project %v", head, history.HeadOf(row), row.State.ProjectID)
			}
			versions[head.CheckID] = append(versions[head.CheckID], row.Version)
		}
		return changes, versions
	}

	p.serveLive(states[0])
	if _, ok := p.ProjectChanges(project, nil); ok {
		t.Fatal("with one of two partitions held, the projector answered")
	}
	p.serveLive(states[1])
	first, versions := changed(nil)
	if !first.Complete || len(versions) != 4 {
		t.Fatalf("first read: complete %v, %d checks; want every one of 4", first.Complete, len(versions))
	}
	if quiet, versions := changed(first.Next); quiet.Complete || len(versions) != 0 {
		t.Fatalf("nothing changed: complete %v, %v", quiet.Complete, versions)
	}

	// Twice in the batch in progress, once packed, one created, one of another project.
	stateOf(ids[0]).put(rowOf(ids[0], project, 2))
	stateOf(ids[0]).put(rowOf(ids[0], project, 3))
	stateOf(ids[1]).put(rowOf(ids[1], project, 2))
	stateOf(ids[1]).closeBatch()
	created := schemas.NewID()
	stateOf(created).put(rowOf(created, project, 1))
	foreign := schemas.NewID()
	stateOf(foreign).put(rowOf(foreign, other, 1))
	second, versions := changed(first.Next)
	want := map[schemas.ID][]uint64{ids[0]: {3, 3}, ids[1]: {2}, created: {1}}
	if second.Complete || !maps.EqualFunc(versions, want, slices.Equal) {
		t.Fatalf("after changes: complete %v, versions %v; want %v", second.Complete, versions, want)
	}
	if quiet, versions := changed(second.Next); quiet.Complete || len(versions) != 0 {
		t.Fatalf("nothing changed since: complete %v, %v", quiet.Complete, versions)
	}

	// A journal that no longer reaches back.
	for i := range journalLength + 1 {
		stateOf(foreign).put(rowOf(foreign, other, uint64(2+i)))
	}
	third, versions := changed(second.Next)
	if !third.Complete || len(versions) != 5 {
		t.Fatalf("past the journal: complete %v, %d checks; want every one of 5", third.Complete, len(versions))
	}
	// A partition folded afresh.
	fresh := newPartitionState(0, 0)
	for st := range states[0].checks.rows {
		fresh.load(st.unpack())
	}
	p.serveLive(fresh)
	if again, versions := changed(third.Next); !again.Complete || len(versions) != 5 {
		t.Fatalf("a partition folded afresh: complete %v, %d checks; want every one of 5", again.Complete, len(versions))
	}
}

// BenchmarkProjectChanges times the projector's share of bringing a kept list of
// 10,000 checks up to date, among 100,000 checks in eight partitions, after 5,000
// pings spread over all projects (so 500 of the listed project's checks changed) in
// batches already closed: a list read every 200 ms at 25,000 pings a second.
func BenchmarkProjectChanges(b *testing.B) {
	p, projects, rows := benchmarkProjects()
	partitioner := p.partitioner.Load()
	first, _ := p.ProjectChanges(projects[0], nil)
	cursor, next := first.Next, 0
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		for range 5_000 {
			row := &rows[next%len(rows)]
			row.Version += uint64(len(rows))
			p.live[partitioner.Of([]byte(row.State.CheckID.String()))].put(*row)
			next += 7919 // a prime: the pings move over every check
		}
		for _, st := range p.live {
			st.closeBatch() // as the fold does every 100 ms at most
		}
		b.StartTimer()
		changes, ok := p.ProjectChanges(projects[0], cursor)
		n := 0
		for range changes.Rows {
			n++
		}
		if !ok || changes.Complete || n != 500 {
			b.Fatal(ok, changes.Complete, n)
		}
		cursor = changes.Next
	}
}

// benchmarkProjects is a projector holding eight partitions with 100,000 checks of ten
// projects, each project's checks spread over every partition.
func benchmarkProjects() (*Projector, []schemas.ID, []history.CheckRow) {
	p := &Projector{live: map[int]*partitionState{}}
	partitioner := kafkarec.NewPartitioner(8)
	p.partitioner.Store(&partitioner)
	for i := range partitioner.Count() {
		p.serveLive(newPartitionState(i, 0))
	}
	projects := make([]schemas.ID, 10)
	for i := range projects {
		projects[i] = schemas.NewID()
	}
	rows := make([]history.CheckRow, 100_000)
	for i := range rows {
		rows[i] = history.CheckRow{Version: uint64(i), State: sampleCheck(projects[i%len(projects)], i)}
		p.live[partitioner.Of([]byte(rows[i].State.CheckID.String()))].load(rows[i])
	}
	return p, projects, rows
}
