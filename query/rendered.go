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
	// from and until, in UnixNano, bound the reads the rendering's status holds for.
	from, until int64
	json        []byte
}

// maxRenderedBytes bounds the renderings kept, about 45,000 checks' worth; past it the
// cache starts over.
const maxRenderedBytes = 32 << 20

// get returns the check's rendering for key at now. The slice is shared and never changed.
func (c *renderedChecks) get(id schemas.ID, key renderKey, now time.Time) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[id]
	if at := now.UnixNano(); !ok || e.key != key || at < e.from || at >= e.until {
		return nil, false
	}
	return e.json, true
}

// put keeps json, which must not be changed afterwards, as the check's rendering for key
// from now until, in UnixNano, the status it shows changes.
func (c *renderedChecks) put(id schemas.ID, key renderKey, now time.Time, until int64, json []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || c.size+len(json) > maxRenderedBytes {
		c.entries, c.size = map[schemas.ID]renderedCheck{}, 0
	}
	if old, ok := c.entries[id]; ok {
		c.size -= len(old.json)
	}
	c.entries[id] = renderedCheck{key: key, from: now.UnixNano(), until: until, json: json}
	c.size += len(json)
}
