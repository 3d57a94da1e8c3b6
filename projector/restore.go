package projector

import (
	"context"
	"sync"
	"time"

	"github.com/hcstream/hcstream/projector/history"
)

// restorer restores the check states of a set of partitions (a generation's assignment,
// or every partition of a replay) with one read of the checks table, and hands each
// partition goroutine its own state.
type restorer struct {
	partitions []int

	mu     sync.Mutex
	states map[int]*partitionState // restored and not yet taken
}

func newRestorer(partitions []int) *restorer {
	return &restorer{partitions: partitions}
}

// take returns partition's restored state, restoring the whole set on first use.
func (r *restorer) take(ctx context.Context, p *Projector, partition int) (*partitionState, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.states == nil {
		states, err := p.restore(ctx, r.partitions)
		if err != nil {
			return nil, err
		}
		r.states = states
	}
	st, ok := r.states[partition]
	if !ok {
		// Taken before, or never in the set: restore it alone.
		states, err := p.restore(ctx, []int{partition})
		if err != nil {
			return nil, err
		}
		st = states[partition]
	}
	delete(r.states, partition)
	return st, nil
}

// restore reads the durable state of partitions: their checks in one streamed read, then
// each partition's open project hours, from an hour before the latest hour its checks
// counted a ping in (where its project counts stood when the check states were written).
func (p *Projector) restore(ctx context.Context, partitions []int) (map[int]*partitionState, error) {
	// One restore at a time: concurrent FINAL reads of a large checks table ran
	// ClickHouse out of memory.
	p.loading.Lock()
	defer p.loading.Unlock()
	states := make(map[int]*partitionState, len(partitions))
	latest := make(map[int]time.Time, len(partitions))
	for _, partition := range partitions {
		states[partition] = newPartitionState(partition, 0)
	}
	err := p.loader.LoadPartitions(ctx, partitions, func(row history.CheckRow) {
		st, ok := states[row.Partition]
		if !ok {
			return
		}
		st.load(row)
		if row.State.Tally.Hour.After(latest[row.Partition]) {
			latest[row.Partition] = row.State.Tally.Hour
		}
	})
	if err != nil {
		return nil, err
	}
	for partition, st := range states {
		hours, err := p.loader.LoadProjectHours(ctx, partition, latest[partition].Add(-time.Hour))
		if err != nil {
			return nil, err
		}
		st.projectHours.load(latest[partition], hours)
	}
	return states, nil
}
