package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/hcstream/hcstream/schemas"
	"github.com/hcstream/hcstream/schemas/kafkarec"
)

// Registry knows which checks exist and which check a (ping key, slug) names. It is
// rebuilt from the compacted registry topic, which the projector keeps current, so
// ingest depends on Kafka alone.
type Registry struct {
	brokers []string
	topic   string
	log     *slog.Logger
	client  *kafka.Client

	mu     sync.RWMutex
	checks map[schemas.ID]registeredCheck
	// deleted holds the IDs of deleted checks: an auto-provisioned check's ID must not
	// be derived again once its check is gone (see Taken).
	deleted  map[schemas.ID]struct{}
	pingKeys map[string]schemas.ID
	slugs    map[slugKey][]schemas.ID
	counts   map[schemas.ID]int // checks per project
	applied  int64              // next offset to read
	progress chan struct{}
	caughtUp bool

	// Sync asks the broker for the topic's end through endProbes; probeMu guards
	// nextProbe, the probe the callers waiting now share, and probing, whether a
	// goroutine is sending probes.
	probeMu   sync.Mutex
	nextProbe *endProbe
	probing   bool
	endProbes atomic.Int64
	// askEnd sends one request for the topic's end (listEnd; tests replace it).
	askEnd func(context.Context) (int64, error)
}

// endProbe is one request for the registry topic's end, shared by every Sync that
// arrived before it was sent.
type endProbe struct {
	done chan struct{}
	end  int64
	err  error
}

// endProbeSpacing is the least time between the starts of two requests for the
// registry topic's end. Pings for unknown checks each need one sent after they arrived
// (a check created before the ping must be found); a flood of them, such as the cron
// jobs of a deleted check, shares one request per spacing instead of sending one
// each, and a lone one is answered at once.
const endProbeSpacing = 5 * time.Millisecond

type registeredCheck struct {
	project schemas.ID
	slug    string
}

type slugKey struct {
	project schemas.ID
	slug    string
}

// NewRegistry returns an empty registry that Run fills.
func NewRegistry(brokers []string, topic string, logger *slog.Logger) *Registry {
	r := &Registry{
		brokers: brokers, topic: topic, log: logger.With("component", "registry"),
		client:   &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 5 * time.Second, Transport: &kafka.Transport{}},
		checks:   map[schemas.ID]registeredCheck{},
		deleted:  map[schemas.ID]struct{}{},
		pingKeys: map[string]schemas.ID{},
		slugs:    map[slugKey][]schemas.ID{},
		counts:   map[schemas.ID]int{},
		progress: make(chan struct{}),
	}
	r.askEnd = r.listEnd
	return r
}

// Run tails the registry topic from its beginning until ctx ends.
func (r *Registry) Run(ctx context.Context) error {
	reader := kafka.NewReader(kafka.ReaderConfig{
		Brokers: r.brokers, Topic: r.topic, Partition: 0, MinBytes: 1, MaxBytes: 8 << 20, MaxWait: 50 * time.Millisecond,
	})
	defer reader.Close()
	if err := reader.SetOffset(kafka.FirstOffset); err != nil {
		return fmt.Errorf("seeking registry topic: %w", err)
	}
	go r.catchUp(ctx)
	for {
		msg, err := reader.FetchMessage(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			r.log.Warn("reading registry topic", "err", err)
			continue
		}
		r.apply(msg)
	}
}

// catchUp marks the registry ready once it has read what the topic held at start.
func (r *Registry) catchUp(ctx context.Context) {
	for ctx.Err() == nil {
		syncCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := r.Sync(syncCtx)
		cancel()
		if err == nil {
			r.log.Info("check registry caught up")
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (r *Registry) apply(msg kafka.Message) {
	ev, err := kafkarec.Event(msg)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.log.Error("skipping registry record", "offset", msg.Offset, "err", err)
	} else {
		r.applyEvent(ev)
	}
	r.applied = msg.Offset + 1
	close(r.progress)
	r.progress = make(chan struct{})
}

func (r *Registry) applyEvent(ev schemas.Event) {
	switch body := ev.Body.(type) {
	case schemas.ProjectCreated:
		r.pingKeys[body.PingKey] = ev.ProjectID
	case schemas.CheckCreated:
		r.putCheck(ev.CheckID, ev.ProjectID, body.Config.Slug)
	case schemas.CheckUpdated:
		r.putCheck(ev.CheckID, ev.ProjectID, body.Config.Slug)
	case schemas.CheckDeleted:
		r.removeCheck(ev.CheckID)
		r.deleted[ev.CheckID] = struct{}{}
	}
}

func (r *Registry) putCheck(id, project schemas.ID, slug string) {
	r.removeCheck(id)
	r.checks[id] = registeredCheck{project: project, slug: slug}
	r.counts[project]++
	if slug != "" {
		k := slugKey{project, slug}
		r.slugs[k] = append(r.slugs[k], id)
	}
}

func (r *Registry) removeCheck(id schemas.ID) {
	old, ok := r.checks[id]
	if !ok {
		return
	}
	delete(r.checks, id)
	if r.counts[old.project]--; r.counts[old.project] <= 0 {
		delete(r.counts, old.project)
	}
	k := slugKey(old)
	ids := r.slugs[k][:0:0]
	for _, other := range r.slugs[k] {
		if other != id {
			ids = append(ids, other)
		}
	}
	if len(ids) == 0 {
		delete(r.slugs, k)
	} else {
		r.slugs[k] = ids
	}
}

// Check returns the project of a registered check.
func (r *Registry) Check(id schemas.ID) (project schemas.ID, ok bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	c, ok := r.checks[id]
	return c.project, ok
}

// Taken reports whether a check has ever had this ID: it exists, or was deleted.
func (r *Registry) Taken(id schemas.ID) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	_, exists := r.checks[id]
	_, deleted := r.deleted[id]
	return exists || deleted
}

// Checks returns how many checks a project has.
func (r *Registry) Checks(project schemas.ID) int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.counts[project]
}

// Slug returns the project of a ping key and the checks with that slug in it.
func (r *Registry) Slug(pingKey, slug string) (project schemas.ID, projectOK bool, checks []schemas.ID) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	project, projectOK = r.pingKeys[pingKey]
	if !projectOK {
		return project, false, nil
	}
	return project, true, append([]schemas.ID(nil), r.slugs[slugKey{project, slug}]...)
}

// ErrRegistryUnavailable means the registry could not confirm it has read everything
// written so far (Kafka is unreachable).
var ErrRegistryUnavailable = errors.New("check registry unavailable")

// Sync waits until every record written to the registry topic before the call has been
// applied. A miss after Sync is a real miss; it is the read-your-writes barrier that
// makes a just-created check pingable.
func (r *Registry) Sync(ctx context.Context) error {
	end, err := r.topicEnd(ctx)
	if err != nil {
		return fmt.Errorf("%w: listing registry offsets: %v", ErrRegistryUnavailable, err)
	}
	for {
		r.mu.RLock()
		applied, progress := r.applied, r.progress
		r.mu.RUnlock()
		if applied >= end {
			r.markCaughtUp()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: applied %d of %d records: %v", ErrRegistryUnavailable, applied, end, ctx.Err())
		case <-progress:
		}
	}
}

// topicEnd returns the registry topic's end as the broker told it in a request sent
// after topicEnd was called.
func (r *Registry) topicEnd(ctx context.Context) (int64, error) {
	r.probeMu.Lock()
	probe := r.nextProbe
	if probe == nil {
		probe = &endProbe{done: make(chan struct{})}
		r.nextProbe = probe
		if !r.probing {
			r.probing = true
			go r.sendProbes()
		}
	}
	r.probeMu.Unlock()
	select {
	case <-probe.done:
		return probe.end, probe.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// sendProbes sends the waiting probes, endProbeSpacing apart, until none waits.
func (r *Registry) sendProbes() {
	var last time.Time
	for {
		if wait := endProbeSpacing - time.Since(last); wait > 0 {
			time.Sleep(wait)
		}
		r.probeMu.Lock()
		probe := r.nextProbe
		r.nextProbe = nil
		r.probing = probe != nil
		r.probeMu.Unlock()
		if probe == nil {
			return
		}
		last = time.Now()
		r.endProbes.Add(1)
		// Bounded by the client's timeout alone: the callers sharing the probe may give
		// up, but one that gave up must not fail the others.
		probe.end, probe.err = r.askEnd(context.Background())
		close(probe.done)
	}
}

func (r *Registry) listEnd(ctx context.Context) (int64, error) {
	resp, err := r.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{
		Topics: map[string][]kafka.OffsetRequest{r.topic: {kafka.LastOffsetOf(0)}},
	})
	if err != nil {
		return 0, err
	}
	parts := resp.Topics[r.topic]
	switch {
	case len(parts) != 1:
		return 0, fmt.Errorf("the broker answered for %d partitions, want 1", len(parts))
	case parts[0].Error != nil:
		return 0, parts[0].Error
	}
	return parts[0].LastOffset, nil
}

// EndProbes is how many requests for the registry topic's end have been sent.
func (r *Registry) EndProbes() int64 { return r.endProbes.Load() }

func (r *Registry) markCaughtUp() {
	r.mu.Lock()
	r.caughtUp = true
	r.mu.Unlock()
}

// Ready reports whether the registry has caught up with the topic at least once.
func (r *Registry) Ready() bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.caughtUp
}
