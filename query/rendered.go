package query

import (
	"sync"
	"time"

	"github.com/hcstream/hcstream/schemas"
)

// renderedChecks keeps the last rendering of each listed check. Between two reads of a
// list under load most checks have not changed, and rendering them again was half of
// the list's CPU time.
type renderedChecks struct {
	mu      sync.Mutex
	entries map[schemas.ID]renderedCheck
	size    int
}

// renderKey is everything a check's rendering depends on besides its state, which its
// partition and version stand for, and its status, which the time of the read decides:
// the fold is deterministic, so a check's state at a position in the log is the same
// wherever it was folded or read from, and no reader sees a state between two that
// share a version.
type renderKey struct {
	partition int
	version   uint64
	variant   renderVariant
}

type renderedCheck struct {
	key renderKey
	rendering
}

// rendering is a check as a list shows it, and the span of reads the status it shows
// holds for.
type rendering struct {
	// from and until are in UnixNano; until is math.MaxInt64 when the status holds for
	// good.
	from, until int64
	json        []byte
}

// holdsAt reports whether a read at, in UnixNano, may show the rendering.
func (r *rendering) holdsAt(at int64) bool { return at >= r.from && at < r.until }

// maxRenderedBytes bounds the renderings kept, about 45,000 checks' worth; past it the
// cache starts over.
const maxRenderedBytes = 32 << 20

// get returns the check's rendering for key at now. The slice is shared and never changed.
func (c *renderedChecks) get(id schemas.ID, key renderKey, now time.Time) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[id]
	if !ok || e.key != key || !e.holdsAt(now.UnixNano()) {
		return nil, false
	}
	return e.json, true
}

// put keeps r, whose json must not be changed afterwards, as the check's rendering for
// key.
func (c *renderedChecks) put(id schemas.ID, key renderKey, r rendering) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || c.size+len(r.json) > maxRenderedBytes {
		c.entries, c.size = map[schemas.ID]renderedCheck{}, 0
	}
	if old, ok := c.entries[id]; ok {
		c.size -= len(old.json)
	}
	c.entries[id] = renderedCheck{key: key, rendering: r}
	c.size += len(r.json)
}
