// Package deadline indexes when each check of a partition must next be advanced, so the
// projector finds due checks without scanning every check. It is pure: time is whatever
// the caller says it is (the partition's stream time).
package deadline

import (
	"container/heap"
	"time"

	"github.com/hcstream/hcstream/schemas"
)

// Index is a min-heap of deadlines. Set replaces a check's deadline; superseded heap
// entries are skipped when they surface, which keeps Set O(log n).
type Index struct {
	heap    entries
	current Current
}

// Current keeps each check's current deadline in UnixNano. The index only orders them,
// so the owner can keep them beside its checks instead of in a map of their own: at a
// million checks that map was a quarter of the projector's heap.
type Current interface {
	Deadline(check schemas.ID) (at int64, ok bool)
	SetDeadline(check schemas.ID, at int64, ok bool)
	// Deadlines yields every check that has a deadline.
	Deadlines(yield func(check schemas.ID, at int64) bool)
	// DeadlineCount is how many checks have a deadline.
	DeadlineCount() int
}

type entry struct {
	at    int64
	check schemas.ID
}

type entries []entry

func (e entries) Len() int           { return len(e) }
func (e entries) Less(i, j int) bool { return e[i].at < e[j].at }
func (e entries) Swap(i, j int)      { e[i], e[j] = e[j], e[i] }
func (e *entries) Push(x any)        { *e = append(*e, x.(entry)) }
func (e *entries) Pop() any {
	old := *e
	last := old[len(old)-1]
	*e = old[:len(old)-1]
	return last
}

// New returns an index over the deadlines kept in current, which must start empty.
func New(current Current) *Index { return &Index{current: current} }

// Set records check's next deadline; ok false removes it.
func (x *Index) Set(check schemas.ID, at time.Time, ok bool) {
	if !ok {
		x.current.SetDeadline(check, 0, false)
		return
	}
	n := at.UnixNano()
	if cur, exists := x.current.Deadline(check); exists && cur == n {
		return
	}
	x.current.SetDeadline(check, n, true)
	heap.Push(&x.heap, entry{at: n, check: check})
	// Superseded entries are dropped lazily; compact when they dominate.
	if len(x.heap) > 2*x.current.DeadlineCount()+64 {
		x.compact()
	}
}

// Due removes and returns the checks whose deadline is at or before now, earliest first.
func (x *Index) Due(now time.Time) []schemas.ID {
	n := now.UnixNano()
	var due []schemas.ID
	for len(x.heap) > 0 && x.heap[0].at <= n {
		e := heap.Pop(&x.heap).(entry)
		if cur, ok := x.current.Deadline(e.check); ok && cur == e.at {
			x.current.SetDeadline(e.check, 0, false)
			due = append(due, e.check)
		}
	}
	return due
}

// Len is the number of checks with a deadline.
func (x *Index) Len() int { return x.current.DeadlineCount() }

// compact drops superseded entries. It filters the heap rather than rebuilding it from
// current, because current may hold many checks without a deadline (new, paused, down)
// and scanning them on every compaction cost more than the pings that caused it.
func (x *Index) compact() {
	live := x.heap[:0]
	for _, e := range x.heap {
		if cur, ok := x.current.Deadline(e.check); ok && cur == e.at {
			live = append(live, e)
		}
	}
	x.heap = live
	// A check set back to a deadline it had before has two live entries for it; only
	// rebuilding from current drops those, and they rarely dominate.
	if len(x.heap) > x.current.DeadlineCount()+x.current.DeadlineCount()/2+32 {
		x.rebuild()
		return
	}
	heap.Init(&x.heap)
}

// rebuild makes the heap from current, one entry per check with a deadline.
func (x *Index) rebuild() {
	fresh := make(entries, 0, x.current.DeadlineCount())
	x.current.Deadlines(func(check schemas.ID, at int64) bool {
		fresh = append(fresh, entry{at: at, check: check})
		return true
	})
	heap.Init(&fresh)
	x.heap = fresh
}
