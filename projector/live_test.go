package projector

import (
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
	if rows, ok := p.ProjectChecks(project); ok || rows != nil {
		t.Fatalf("with one of two partitions held: %d rows, ok %v; want none and false", len(rows), ok)
	}
	p.serveLive(states[1])
	rows, ok := p.ProjectChecks(project)
	if !ok || len(rows) != len(want) {
		t.Fatalf("%d rows, ok %v; want %d and true", len(rows), ok, len(want))
	}
	for i, row := range rows {
		if row.State.CheckID != want[i] || row.State.ProjectID != project {
			t.Errorf("row %d is %v of project %v, want %v (oldest first)", i, row.State.CheckID, row.State.ProjectID, want[i])
		}
	}
	if rows, ok := p.ProjectChecks(schemas.NewID()); !ok || len(rows) != 0 {
		t.Errorf("a project without checks: %d rows, ok %v", len(rows), ok)
	}
}
