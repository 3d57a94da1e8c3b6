package projector

import (
	"iter"
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
	for i := range 100_000 {
		s := sampleCheck(projects[i%len(projects)], i)
		p.live[partitioner.Of([]byte(s.CheckID.String()))].load(history.CheckRow{Version: uint64(i), State: s})
	}
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
