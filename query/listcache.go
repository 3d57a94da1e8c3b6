package query

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/hcstream/hcstream/projector/history"
	"github.com/hcstream/hcstream/query/store"
	"github.com/hcstream/hcstream/schemas"
)

// changeReader is a Store that can tell which of a project's checks changed after a
// cursor, so that a list is kept up to date by the checks that changed. Under load a
// list read every check's head, sorted them and looked each rendering up, which was
// half of its CPU time, though only about a tenth of the checks had changed.
type changeReader interface {
	ProjectChanges(project schemas.ID, since history.ChangeCursor) (history.ProjectChanges, bool)
}

// renderVariant is what a check's rendering depends on besides the check: the same
// check renders differently for another API version or key type.
type renderVariant struct {
	apiVersion  int
	readOnly    bool
	badgeSecret string
}

// checkLists keeps, per project and variant, the list of the project's checks as the
// API last rendered it.
type checkLists struct {
	mu    sync.Mutex
	lists map[listKey]*keptList
	// bytes counts the renderings of every kept list, as each last reported them.
	bytes int
	uses  uint64
	// limit is the most bytes kept; zero means maxListBytes.
	limit int
	// refreshInterval and refreshIdle, when not zero, replace listRefreshInterval and
	// listRefreshIdle.
	refreshInterval, refreshIdle time.Duration
	// metrics, when set, shows how many lists are kept and their bytes.
	metrics *metrics
}

const (
	// listRefreshInterval is how often a list being read is brought up to date between
	// reads.
	listRefreshInterval = 50 * time.Millisecond
	// listRefreshIdle is how long after its last read a list is no longer refreshed.
	// Each refresh reads the journals' changes of every project, so a list read less
	// often than this (a dashboard polling every few seconds) is brought up to date only
	// when read: refreshing it would cost far more than its reads.
	listRefreshIdle = time.Second
)

func (c *checkLists) timing() (interval, idle time.Duration) {
	interval, idle = listRefreshInterval, listRefreshIdle
	if c.refreshInterval > 0 {
		interval = c.refreshInterval
	}
	if c.refreshIdle > 0 {
		idle = c.refreshIdle
	}
	return interval, idle
}

// holds reports whether list is still the one kept for key.
func (c *checkLists) holds(key listKey, list *checkList) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	kept, ok := c.lists[key]
	return ok && kept.list == list
}

type listKey struct {
	project schemas.ID
	variant renderVariant
}

type keptList struct {
	list  *checkList
	bytes int
	// lastUse orders lists for eviction.
	lastUse uint64
}

// maxListBytes bounds the renderings kept over all lists unless Config.ListCacheBytes
// sets another bound: about 60,000 checks' worth. Past it the least recently used
// lists are dropped; a list bigger on its own is rendered afresh at every read.
const maxListBytes = 64 << 20

// get returns the list kept for key, a new one if none is.
func (c *checkLists) get(key listKey) *checkList {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lists == nil {
		c.lists = map[listKey]*keptList{}
	}
	kept, ok := c.lists[key]
	if !ok {
		kept = &keptList{list: &checkList{index: map[schemas.ID]int{}}}
		c.lists[key] = kept
	}
	return kept.list
}

// account records that list, kept for key, now holds bytes of renderings, and drops
// lists until the kept ones are within maxListBytes: the least recently used first, or
// the list alone if it is bigger than the bound by itself.
func (c *checkLists) account(key listKey, list *checkList, bytes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	kept, ok := c.lists[key]
	if !ok || kept.list != list {
		return // dropped meanwhile
	}
	c.uses++
	c.bytes += bytes - kept.bytes
	kept.bytes, kept.lastUse = bytes, c.uses
	limit := c.limit
	if limit == 0 {
		limit = maxListBytes
	}
	if bytes > limit {
		// Kept, it would push every other list out and then itself.
		c.bytes -= bytes
		delete(c.lists, key)
	}
	for c.bytes > limit {
		oldest := key
		for k, l := range c.lists {
			if k != key && (oldest == key || l.lastUse < c.lists[oldest].lastUse) {
				oldest = k
			}
		}
		c.bytes -= c.lists[oldest].bytes
		delete(c.lists, oldest)
	}
	if c.metrics != nil {
		c.metrics.keptLists.Set(float64(len(c.lists)))
		c.metrics.keptListBytes.Set(float64(c.bytes))
	}
}

// checkList is a project's listed checks, rendered, in list order.
type checkList struct {
	mu     sync.Mutex
	cursor history.ChangeCursor
	checks []listedCheck
	// index is each check's place in checks.
	index map[schemas.ID]int
	bytes int
	// added holds checks to place, and removed counts checks to drop, once a round of
	// changes is applied.
	added   []listedCheck
	removed int
	// lastRead is when the list was last read, by the wall clock; refreshing is whether
	// a goroutine brings it up to date between reads.
	lastRead   time.Time
	refreshing bool
}

// listedCheck is one check as a list shows it.
type listedCheck struct {
	head history.RowHead
	// rendering's json is nil for a check to drop.
	rendering
	// slug and tags are what a list filters on.
	slug, tags string
}

// update brings the list to the project's current checks, rendering those that changed
// and those whose status time has moved on. It reports whether changes could be read
// (having changed nothing if not) and whether every check was read.
func (l *checkList) update(ctx context.Context, project schemas.ID, reader changeReader, st Store, now time.Time, render func(*history.CheckRow) listedCheck) (read, complete bool, err error) {
	changes, ok := reader.ProjectChanges(project, l.cursor)
	if !ok {
		return false, false, nil
	}
	if changes.Complete {
		l.checks, l.index, l.bytes = l.checks[:0], make(map[schemas.ID]int, len(l.checks)), 0
		l.added, l.removed = l.added[:0], 0
	}
	for lazy := range changes.Rows {
		l.apply(lazy, false, render)
	}
	l.cursor = changes.Next
	at := now.UnixNano()
	var stale []schemas.ID
	for i := range l.checks {
		if c := &l.checks[i]; c.json != nil && !c.holdsAt(at) {
			stale = append(stale, c.head.CheckID)
		}
	}
	for _, id := range stale {
		row, err := st.Check(ctx, project, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			if i, c := l.find(id); c != nil {
				l.drop(i)
			}
		case err != nil:
			// The list is consistent, but its renderings of stale checks stay stale:
			// start over at the next read.
			l.place()
			l.cursor = nil
			return true, changes.Complete, err
		default:
			l.apply(history.Loaded(&row), true, render)
		}
	}
	l.place()
	return true, changes.Complete, nil
}

// apply brings one check's place in the list to row; stale renders it again even if
// its row has not changed.
func (l *checkList) apply(lazy history.LazyRow, stale bool, render func(*history.CheckRow) listedCheck) {
	head := lazy.Head()
	i, c := l.find(head.CheckID)
	switch {
	case c != nil && c.head == head && !stale:
	case !listed(head):
		if c != nil {
			l.drop(i)
		}
	case c != nil && c.head.Created == head.Created:
		rendered := render(lazy.Row())
		rendered.head = head
		l.bytes += len(rendered.json) - len(c.json)
		*c = rendered
	default:
		if c != nil {
			l.drop(i)
		}
		rendered := render(lazy.Row())
		rendered.head = head
		l.bytes += len(rendered.json)
		l.added = append(l.added, rendered)
		l.index[head.CheckID] = -len(l.added)
	}
}

// find returns a check's place and entry, nil when the list does not show it. Checks
// added since the list was last placed have negative places.
func (l *checkList) find(id schemas.ID) (int, *listedCheck) {
	i, ok := l.index[id]
	if !ok {
		return 0, nil
	}
	var c *listedCheck
	if i < 0 {
		c = &l.added[-i-1]
	} else {
		c = &l.checks[i]
	}
	if c.json == nil {
		return 0, nil
	}
	return i, c
}

func (l *checkList) drop(i int) {
	if i < 0 {
		a := &l.added[-i-1]
		l.bytes -= len(a.json)
		a.json = nil
		return
	}
	l.bytes -= len(l.checks[i].json)
	l.checks[i].json = nil
	l.removed++
}

// place drops the checks marked for it and merges the added ones in, in list order.
func (l *checkList) place() {
	if len(l.added) == 0 && l.removed == 0 {
		return
	}
	added := slices.DeleteFunc(l.added, func(c listedCheck) bool { return c.json == nil })
	slices.SortFunc(added, compareListed)
	kept := slices.DeleteFunc(l.checks, func(c listedCheck) bool { return c.json == nil })
	merged := make([]listedCheck, 0, len(kept)+len(added))
	for len(kept) > 0 && len(added) > 0 {
		if compareListed(kept[0], added[0]) <= 0 {
			merged, kept = append(merged, kept[0]), kept[1:]
		} else {
			merged, added = append(merged, added[0]), added[1:]
		}
	}
	l.checks = append(append(merged, kept...), added...)
	clear(l.index)
	for i := range l.checks {
		l.index[l.checks[i].head.CheckID] = i
	}
	clear(l.added) // the renderings are in checks now, or dropped
	l.added, l.removed = l.added[:0], 0
}

func compareListed(a, b listedCheck) int {
	return history.ListOrder(a.head.Created, &a.head.CheckID, b.head.Created, &b.head.CheckID)
}

// renderings returns the list's renderings that pass filter, in order. They are
// shared and never changed, so they can be written once the list is unlocked.
func (l *checkList) renderings(filter func(*listedCheck) bool) [][]byte {
	out := make([][]byte, 0, len(l.checks))
	for i := range l.checks {
		if c := &l.checks[i]; filter(c) {
			out = append(out, c.json)
		}
	}
	return out
}
