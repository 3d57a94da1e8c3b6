package deadline

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hcstream/hcstream/schemas"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestDue(t *testing.T) {
	a, b, c := schemas.ID{1}, schemas.ID{2}, schemas.ID{3}
	x := New(mapDeadlines{})
	x.Set(a, t0.Add(3*time.Second), true)
	x.Set(b, t0.Add(time.Second), true)
	x.Set(c, t0.Add(2*time.Second), true)
	x.Set(c, t0.Add(10*time.Second), true) // moved later: the old entry must not fire
	x.Set(a, time.Time{}, false)           // removed
	if got := x.Due(t0.Add(5 * time.Second)); !cmp.Equal(got, []schemas.ID{b}) {
		t.Errorf("Due(+5s) = %v, want [b]", got)
	}
	if got := x.Due(t0.Add(5 * time.Second)); len(got) != 0 {
		t.Errorf("a due check is returned once, got %v", got)
	}
	if got := x.Due(t0.Add(10 * time.Second)); !cmp.Equal(got, []schemas.ID{c}) {
		t.Errorf("Due(+10s) = %v, want [c]", got)
	}
	if x.Len() != 0 {
		t.Errorf("Len = %d", x.Len())
	}
}

// Against a map scan, under many random updates (which also exercises compaction).
// Deadlines drawn from few values set checks back to deadlines they had before, which
// leaves two live heap entries for one check.
func TestDueMatchesScan(t *testing.T) {
	for _, spread := range []int{100, 3} {
		r := rand.New(rand.NewPCG(1, uint64(spread)))
		x := New(mapDeadlines{})
		want := map[schemas.ID]time.Time{}
		now := t0
		for range 20000 {
			id := schemas.ID{byte(r.IntN(200))}
			if r.IntN(10) == 0 {
				x.Set(id, time.Time{}, false)
				delete(want, id)
			} else {
				at := now.Add(time.Duration(r.IntN(spread)) * time.Second)
				x.Set(id, at, true)
				want[id] = at
			}
			if bound := 2*x.Len() + 64; len(x.heap) > bound {
				t.Fatalf("spread %d: heap holds %d entries for %d deadlines", spread, len(x.heap), x.Len())
			}
			if r.IntN(20) == 0 {
				now = now.Add(time.Duration(r.IntN(30)) * time.Second)
				var expect []schemas.ID
				for id, at := range want {
					if !at.After(now) {
						expect = append(expect, id)
						delete(want, id)
					}
				}
				got := x.Due(now)
				slices.SortFunc(got, func(a, b schemas.ID) int { return int(a[0]) - int(b[0]) })
				slices.SortFunc(expect, func(a, b schemas.ID) int { return int(a[0]) - int(b[0]) })
				if !cmp.Equal(got, expect) {
					t.Fatalf("spread %d: Due(%v) = %v, want %v", spread, now, got, expect)
				}
			}
		}
	}
}

func BenchmarkSetAndDue(b *testing.B) {
	x := New(mapDeadlines{})
	ids := make([]schemas.ID, 100000)
	for i := range ids {
		ids[i] = schemas.ID{byte(i), byte(i >> 8), byte(i >> 16)}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		x.Set(ids[i%len(ids)], t0.Add(time.Duration(i)*time.Millisecond), true)
		if i%1000 == 0 {
			x.Due(t0.Add(time.Duration(i-50000) * time.Millisecond))
		}
		i++
	}
}

// A check set back to a deadline it had before has two live entries for it, which
// filtering keeps; when such entries dominate, compaction must still drop them.
func TestCompactionDropsRepeatedDeadlines(t *testing.T) {
	x := New(mapDeadlines{})
	c, other := schemas.ID{7}, schemas.ID{8}
	x.Set(c, t0, true)
	x.Set(other, t0.Add(time.Second), true)
	for range 100 {
		x.heap = append(x.heap, entry{at: t0.UnixNano(), check: c})
	}
	x.compact()
	if len(x.heap) != 2 {
		t.Errorf("after compaction the heap holds %d entries for 2 deadlines", len(x.heap))
	}
	if got := x.Due(t0.Add(time.Hour)); !cmp.Equal(got, []schemas.ID{c, other}) {
		t.Errorf("Due = %v, want [c other], each once", got)
	}
}

// Compaction works from the heap: walking every check of a partition, most of which
// have no deadline, cost more than the pings that caused it.
func TestCompactionDoesNotWalkEveryCheck(t *testing.T) {
	walked := &walkCounting{mapDeadlines: mapDeadlines{}}
	x := New(walked)
	for i := range 100000 {
		x.Set(schemas.ID{byte(i % 100)}, t0.Add(time.Duration(i)*time.Millisecond), true)
	}
	if walked.walks != 0 {
		t.Errorf("compaction walked every check %d times", walked.walks)
	}
	if len(x.heap) > 2*x.Len()+64 {
		t.Errorf("the heap holds %d entries for %d deadlines", len(x.heap), x.Len())
	}
}

// mapDeadlines keeps deadlines in a map, the simplest Current.
type mapDeadlines map[schemas.ID]int64

// Deadline implements Current.
func (m mapDeadlines) Deadline(check schemas.ID) (int64, bool) {
	at, ok := m[check]
	return at, ok
}

// SetDeadline implements Current.
func (m mapDeadlines) SetDeadline(check schemas.ID, at int64, ok bool) {
	if ok {
		m[check] = at
	} else {
		delete(m, check)
	}
}

// Deadlines implements Current.
func (m mapDeadlines) Deadlines(yield func(check schemas.ID, at int64) bool) {
	for check, at := range m {
		if !yield(check, at) {
			return
		}
	}
}

// DeadlineCount implements Current.
func (m mapDeadlines) DeadlineCount() int { return len(m) }

// walkCounting counts the walks over every check.
type walkCounting struct {
	mapDeadlines
	walks int
}

// Deadlines implements Current.
func (w *walkCounting) Deadlines(yield func(check schemas.ID, at int64) bool) {
	w.walks++
	w.mapDeadlines.Deadlines(yield)
}
