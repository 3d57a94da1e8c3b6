package projector

import (
	"context"
	"sync"
	"time"

	"github.com/hcstream/hcstream/schemas"
)

// writtenMark is how far a partition's rows are in ClickHouse: every record before next
// is. It wakes whoever waits for a version once the partition's writer passes it, so a
// write through the API learns that its rows are stored without polling ClickHouse.
type writtenMark struct {
	mu      sync.Mutex
	next    int64
	stopped bool
	// moved is closed, and replaced, whenever next advances or the partition stops.
	moved chan struct{}
	// awaited is the highest version anyone has waited for.
	awaited uint64
	// hasten, when set, brings forward the write the partition's writer waits in: it is
	// called as someone starts waiting for a record not stored yet, and as a batch
	// holding an awaited record reaches the writer (the writer may have taken up a new
	// write between the two).
	hasten func()
}

func newWrittenMark(next int64) *writtenMark {
	return &writtenMark{next: max(next, 0), moved: make(chan struct{})}
}

// advance records that every record before next is stored.
func (m *writtenMark) advance(next int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if next <= m.next || m.stopped {
		return
	}
	m.next = next
	close(m.moved)
	m.moved = make(chan struct{})
}

// stored returns the offset every record before which is stored.
func (m *writtenMark) stored() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.next
}

// stop wakes every waiter for good: the partition is no longer written here.
func (m *writtenMark) stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.stopped {
		m.stopped = true
		close(m.moved)
	}
}

// expect records that a writer in another process waits for version, as its record
// says (kafkarec.HeaderAwaited).
func (m *writtenMark) expect(version uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.raiseAwaited(version)
}

// raiseAwaited records a wait for version, with m.mu held, and reports whether it is a
// wait for a record later than any stored or awaited before.
func (m *writtenMark) raiseAwaited(version uint64) bool {
	raised := version > m.awaited && version > uint64(m.next)
	m.awaited = max(m.awaited, version)
	return raised
}

// awaitedBefore reports whether someone waits for a record before offset end that is
// not stored yet: the batch that holds it is worth writing at once.
func (m *writtenMark) awaitedBefore(end int64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.awaited > uint64(m.next) && m.awaited <= uint64(max(end, 0))
}

// await returns true once the record whose version (offset + 1) is given is stored,
// false when the partition stops first, and ctx's error when ctx ends first.
func (m *writtenMark) await(ctx context.Context, version uint64) (bool, error) {
	for {
		m.mu.Lock()
		next, stopped, moved := m.next, m.stopped, m.moved
		raised := m.raiseAwaited(version)
		m.mu.Unlock()
		if raised && m.hasten != nil {
			m.hasten()
		}
		switch {
		case uint64(next) >= version:
			return true, nil
		case stopped:
			return false, nil
		}
		select {
		case <-ctx.Done():
			return true, ctx.Err()
		case <-moved:
		}
	}
}

// AwaitWritten waits until ClickHouse holds a check's rows up to version, as its
// partition's writer reports it; a follower goes by the projectors' committed offsets,
// and waits until it has folded the rows too. It returns false when this projector does
// not fold the check's partition, or gives it up while waiting, or the check's row here
// is older than version once the wait is over (a partition count that changed under the
// partitioner): the caller then has to ask ClickHouse. The error is ctx's, when it
// ended first.
func (p *Projector) AwaitWritten(ctx context.Context, check schemas.ID, version uint64) (bool, error) {
	st := p.liveStateOf(check)
	if st == nil {
		return false, nil
	}
	if p.follows {
		// The projectors commit only what ClickHouse holds; the caller's next read comes
		// from this follower's fold.
		if err := p.commits.await(ctx, st.partition, version); err != nil {
			return true, err
		}
		return p.awaitFolded(ctx, check, version)
	}
	held, err := st.written.await(ctx, version)
	if !held || err != nil {
		return held, err
	}
	folded, ok := st.lockedVersion(check)
	return ok && folded >= version, nil
}

// awaitFolded waits until the check's row here includes version. It returns false when
// no partition folded here holds the check, and ctx's error when ctx ends first. A
// follower needs it after a write: ClickHouse holding the write says nothing of how
// far the follower has folded.
func (p *Projector) awaitFolded(ctx context.Context, check schemas.ID, version uint64) (bool, error) {
	// A record is readable as soon as it is folded, while the partition's marks move a
	// batch at a time: looking at the row itself sees the fold soonest.
	tick := time.NewTicker(foldPoll)
	defer tick.Stop()
	for {
		st := p.liveStateOf(check)
		if st == nil {
			return false, nil
		}
		if folded, ok := st.lockedVersion(check); ok && folded >= version {
			return true, nil
		}
		select {
		case <-ctx.Done():
			return true, ctx.Err()
		case <-tick.C:
		}
	}
}

// foldPoll is how often awaitFolded looks at the row.
const foldPoll = 2 * time.Millisecond

// liveStateOf returns the state of the check's partition when it is folded here.
func (p *Projector) liveStateOf(check schemas.ID) *partitionState {
	partitioner := p.partitioner.Load()
	if partitioner == nil {
		return nil
	}
	p.liveMu.RLock()
	defer p.liveMu.RUnlock()
	return p.live[partitioner.OfID(check)]
}
