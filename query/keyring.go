package query

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hcstream/hcstream/ingest/logthrottle"
	"github.com/hcstream/hcstream/query/auth"
	"github.com/hcstream/hcstream/query/store"
)

// Keyring timings.
const (
	// keyringReadGap is the least time between the starts of two reads of every key: a
	// flood of made-up keys costs a few reads a second, however many keys it sends.
	keyringReadGap = 250 * time.Millisecond
	// keyringMaxAge is how old the last read of every key may be before a request,
	// answered from the keys held, starts one in the background, and before a read for
	// a key not held is a read of every key again: a key gone from the store stops
	// working within about that long.
	keyringMaxAge = time.Minute
	// keyringCreationSlack is how much older than the newest project held a project may
	// be and still be taken by a read of new projects: room for the clocks of the
	// processes that create projects, and for projectors writing one partition's rows
	// behind another's. A project older still is taken by the next read of every key.
	keyringCreationSlack = time.Hour
	// keyringReadTimeout bounds one read of every key.
	keyringReadTimeout = 10 * time.Second
)

// keyring holds every project's API key digests, read from the store, so a request's
// key is checked in memory. A key it does not hold is checked again against the next
// read that starts after the request arrived, so the keys of a project created a
// moment ago work at once, and every such request waiting at the same time shares that
// one read. Such a read takes only the projects created lately, so a flood of
// made-up keys costs ClickHouse little however many projects there are; every key is
// read again once a minute.
type keyring struct {
	store   keyStore
	now     func() time.Time
	metrics *metrics
	log     *slog.Logger
	// failures keeps the log to a line per interval while ClickHouse cannot be read.
	failures logthrottle.Throttle

	mu       sync.Mutex
	projects map[[sha256.Size]byte]store.Project
	// allReadAt is when the last read of every key started; zero before the first.
	allReadAt time.Time
	// newest is the latest creation time of a project held.
	newest time.Time
	// latest is the read that started last; next is the read that requests not
	// found wait for, not started yet. Reads run one after another.
	latest, next *keyringRead
}

// keyringRead is one read of every key; done is closed once err is set and, when
// the read succeeded, its keys are the keyring's.
type keyringRead struct {
	started time.Time
	done    chan struct{}
	err     error
}

// ended reports whether the read has ended; a read never started has.
func (r *keyringRead) ended() bool {
	if r == nil {
		return true
	}
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// keyStore is where the keyring reads the keys.
type keyStore interface {
	ProjectKeys(ctx context.Context, createdSince time.Time) ([]store.ProjectKey, error)
}

func newKeyring(st keyStore, now func() time.Time, m *metrics, logger *slog.Logger) *keyring {
	return &keyring{store: st, now: now, metrics: m, log: logger}
}

// project returns the project a key opens, false when the store has no such key.
func (k *keyring) project(ctx context.Context, key string) (store.Project, bool, error) {
	digest := auth.Digest(key)
	k.mu.Lock()
	p, ok := k.projects[digest]
	if ok {
		if k.next == nil && k.latest.ended() && !k.now().Before(k.allReadAt.Add(keyringMaxAge)) {
			k.scheduleRead()
		}
		k.mu.Unlock()
		return p, true, nil
	}
	read := k.scheduleRead()
	k.mu.Unlock()
	k.metrics.keyringWaiting.Inc()
	defer k.metrics.keyringWaiting.Dec()
	select {
	case <-read.done:
	case <-ctx.Done():
		return store.Project{}, false, fmt.Errorf("waiting for the API keys to be read: %w", ctx.Err())
	}
	if read.err != nil {
		return store.Project{}, false, read.err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	p, ok = k.projects[digest]
	return p, ok, nil
}

// scheduleRead returns the read that has yet to start, arranging one if there is
// none. It is called with mu held.
func (k *keyring) scheduleRead() *keyringRead {
	if k.next == nil {
		k.next = &keyringRead{done: make(chan struct{})}
		go k.run(k.next, k.latest)
	}
	return k.next
}

// run starts read once the one before it has ended and keyringReadGap has passed
// since that one started.
func (k *keyring) run(read, previous *keyringRead) {
	if previous != nil {
		<-previous.done
		time.Sleep(time.Until(previous.started.Add(keyringReadGap)))
	}
	k.mu.Lock()
	read.started = time.Now()
	startedAt := k.now()
	k.latest, k.next = read, nil
	all := k.newest.IsZero() || !startedAt.Before(k.allReadAt.Add(keyringMaxAge))
	var since time.Time
	if !all {
		since = k.newest.Add(-keyringCreationSlack)
	}
	k.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), keyringReadTimeout)
	keys, err := k.store.ProjectKeys(ctx, since)
	cancel()

	// Every key is put in a map of its own before it replaces the one held, so requests
	// are not kept waiting while it is built.
	var fresh map[[sha256.Size]byte]store.Project
	var freshNewest time.Time
	if err == nil && all {
		fresh = make(map[[sha256.Size]byte]store.Project, len(keys))
		freshNewest = hold(fresh, keys)
	}
	k.mu.Lock()
	switch {
	case err == nil && all:
		k.projects, k.allReadAt, k.newest = fresh, startedAt, freshNewest
	case err == nil:
		if newest := hold(k.projects, keys); newest.After(k.newest) {
			k.newest = newest
		}
	}
	held := len(k.projects)
	read.err = err
	k.mu.Unlock()
	k.metrics.countKeyringRead(all, err, held)
	if err != nil {
		// Keys already held keep working; keys not held get 503 until a read succeeds.
		k.failures.Log(context.Background(), k.log, k.now(), slog.LevelError, "reading the API keys", "err", err)
	}
	close(read.done)
}

// hold puts keys in projects and returns the latest creation time among them.
func hold(projects map[[sha256.Size]byte]store.Project, keys []store.ProjectKey) (newest time.Time) {
	for _, key := range keys {
		// A hash that is not a digest opens nothing: no key hashes to it.
		var digest [sha256.Size]byte
		if len(key.Hash) != hex.EncodedLen(len(digest)) {
			continue
		}
		if _, err := hex.Decode(digest[:], []byte(key.Hash)); err == nil {
			projects[digest] = key.Project
			if key.Created.After(newest) {
				newest = key.Created
			}
		}
	}
	return newest
}
