// Package projector consumes the event log partition by partition, folds each check's
// events with projector/check, and makes the results durable through projector/history
// before committing offsets.
//
// Each assigned partition is owned by one goroutine with its own check states, so the
// fold needs no locks. Kafka appears only here and in the registry publisher.
package projector

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/hcstream/hcstream/projector/check"
	"github.com/hcstream/hcstream/projector/deadline"
	"github.com/hcstream/hcstream/projector/history"
	"github.com/hcstream/hcstream/schemas"
	"github.com/hcstream/hcstream/schemas/kafkarec"
)

// Config configures a Projector. The zero value of every optional field means the
// documented default.
type Config struct {
	// Brokers are the Kafka bootstrap addresses. Required.
	Brokers []string
	// Topics names the topics; zero fields take kafkarec.DefaultTopics.
	Topics kafkarec.Topics
	// GroupID is the consumer group shared by all projector instances. Default
	// "hcstream-projector".
	GroupID string
	// BatchSize is the most events folded before a flush. Default 5000.
	BatchSize int
	// FlushInterval is the longest an event waits before its batch is flushed. Default 100ms.
	FlushInterval time.Duration
	// RetryBackoff is the first pause after a failed flush, doubled up to maxRetryBackoff.
	// Default 200ms.
	RetryBackoff time.Duration
	// OutageWindow is the longest gap in a partition's stream time taken as quiet rather
	// than as an ingest outage. Ingest ticks every second, so a longer gap means no
	// ingest was writing: pending deadlines are postponed by the gap and an incident is
	// recorded, instead of every check going down at once. Default 30s.
	OutageWindow time.Duration
}

func (c *Config) setDefaults() {
	defaults := kafkarec.DefaultTopics()
	if c.Topics.Events == "" {
		c.Topics.Events = defaults.Events
	}
	if c.Topics.Registry == "" {
		c.Topics.Registry = defaults.Registry
	}
	if c.Topics.Flips == "" {
		c.Topics.Flips = defaults.Flips
	}
	if c.GroupID == "" {
		c.GroupID = "hcstream-projector"
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 5000
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = 100 * time.Millisecond
	}
	if c.RetryBackoff <= 0 {
		c.RetryBackoff = 200 * time.Millisecond
	}
	if c.OutageWindow <= 0 {
		c.OutageWindow = 30 * time.Second
	}
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if len(c.Brokers) == 0 {
		return errors.New("projector: no Kafka brokers configured")
	}
	return nil
}

// StateLoader returns the durable state of partitions' checks.
type StateLoader interface {
	LoadPartitions(ctx context.Context, partitions []int, each func(history.CheckRow)) error
	LoadProjectHours(ctx context.Context, partition int, since time.Time) ([]history.ProjectHour, error)
}

// Publisher appends records to one topic and returns once they are acknowledged.
type Publisher interface {
	Publish(ctx context.Context, msgs ...kafka.Message) error
}

// Projector runs the consume → fold → write → commit loop.
type Projector struct {
	cfg      Config
	log      *slog.Logger
	metrics  *metrics
	writer   history.Writer
	loader   StateLoader
	registry Publisher
	flips    Publisher

	loading sync.Mutex

	// live holds the partitions this projector is folding, for Check.
	liveMu sync.RWMutex
	live   map[int]*partitionState
	// partitioner places checks among the partitions the events topic had when the
	// current consumer group generation began; nil when their number is unknown.
	partitioner atomic.Pointer[kafkarec.Partitioner]
	// follows is set on a follower, which folds only to serve reads; it learns from
	// commits when the projectors have stored a write, and reads Kafka through client.
	follows bool
	commits *commitWatch
	client  *kafka.Client
}

// New returns a Projector. registry publishes configuration records for ingest and
// flips publishes StatusChanged events; either may be nil when nothing reads it.
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer, writer history.Writer, loader StateLoader, registry, flips Publisher) (*Projector, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Projector{cfg: cfg, log: logger.With("component", "projector"), metrics: newMetrics(reg, "hcstream_projector"),
		writer: writer, loader: loader, registry: registry, flips: flips, live: map[int]*partitionState{}}, nil
}

// NewFollower returns a Projector for Follow: it folds every partition to serve reads
// from memory, and writes, publishes and commits nothing. Its metrics are named
// hcstream_query_live_*.
func NewFollower(cfg Config, logger *slog.Logger, reg prometheus.Registerer, loader StateLoader) (*Projector, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Projector{cfg: cfg, log: logger.With("component", "follower"), metrics: newMetrics(reg, "hcstream_query_live"),
		loader: loader, live: map[int]*partitionState{}, follows: true,
		client: &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Timeout: 5 * time.Second, Transport: &kafka.Transport{}}}
	p.commits = newCommitWatch(p.allCommitted, commitPoll, p.log, reg)
	return p, nil
}

// commitPoll is how often a follower reads the projectors' committed offsets while a
// write waits to be stored.
const commitPoll = 10 * time.Millisecond

// allCommitted returns the projectors' committed offset of every partition.
func (p *Projector) allCommitted(ctx context.Context) (map[int]int64, error) {
	partitioner := p.partitioner.Load()
	if partitioner == nil {
		return nil, errors.New("the events topic's partition count is not known yet")
	}
	return p.committed(ctx, p.client, everyPartition(partitioner))
}

// everyPartition lists the partitions partitioner places checks among.
func everyPartition(partitioner *kafkarec.Partitioner) []int {
	partitions := make([]int, partitioner.Count())
	for i := range partitions {
		partitions[i] = i
	}
	return partitions
}

// Check returns a check's state as this projector has folded it, or false when none of
// the partitions it holds has the check. The state can be ahead of ClickHouse by the
// write in progress; that is safe to show, because the events it folds are already in
// Kafka and any projector folding them again reaches the same state.
func (p *Projector) Check(id schemas.ID) (history.CheckRow, bool) {
	p.liveMu.RLock()
	defer p.liveMu.RUnlock()
	// The check's own partition first: a list of ten thousand checks spent most of its
	// lookups probing every other partition's table.
	if partitioner := p.partitioner.Load(); partitioner != nil {
		if st, ok := p.live[partitioner.OfID(id)]; ok {
			if row, ok := st.locked(id); ok {
				return row, true
			}
		}
	}
	for _, st := range p.live {
		if row, ok := st.locked(id); ok {
			return row, true
		}
	}
	return history.CheckRow{}, false
}

// ProjectChecks yields the rows of a project's checks (deleted ones included) ordered
// by creation, as the API lists them, as they were when it was called. A row is
// unpacked only if its reader asks for it, into one reused row, so that a list of ten
// thousand checks never holds them all, and a list that reuses a check's rendering
// does not unpack it at all. It reports false, and nothing, unless this projector folds
// every partition: only then does it know all of the project's checks.
func (p *Projector) ProjectChecks(project schemas.ID) (iter.Seq[history.LazyRow], bool) {
	partitioner := p.partitioner.Load()
	p.liveMu.RLock()
	defer p.liveMu.RUnlock()
	if !p.holdsAll(partitioner) {
		return nil, false
	}
	entries := p.projectEntries(project, nil)
	// Entries are tens of bytes: sorting their positions moves far less memory than
	// sorting the entries, let alone the rows.
	order := make([]listOrder, len(entries))
	for i := range entries {
		order[i] = listOrder{created: entries[i].head.Created, entry: int32(i)}
	}
	slices.SortFunc(order, func(a, b listOrder) int {
		return history.ListOrder(a.created, &entries[a.entry].head.CheckID, b.created, &entries[b.entry].head.CheckID)
	})
	return eachEntry(entries, order), true
}

// ProjectChanges yields the rows of a project's checks that changed after since, or
// every row of the project's checks when since does not reach back that far in every
// partition: a first read, a partition folded afresh since, or more changes than a
// partition's journal keeps. Rows are unpacked as ProjectChecks unpacks them. It
// reports false, and nothing, unless this projector folds every partition.
func (p *Projector) ProjectChanges(project schemas.ID, since history.ChangeCursor) (history.ProjectChanges, bool) {
	partitioner := p.partitioner.Load()
	p.liveMu.RLock()
	defer p.liveMu.RUnlock()
	if !p.holdsAll(partitioner) {
		return history.ProjectChanges{}, false
	}
	for partition := range p.live {
		if partition >= len(p.live) {
			// Partitions are numbered from 0, so this cannot happen; a cursor indexed
			// by partition must not be trusted if it does.
			return history.ProjectChanges{}, false
		}
	}
	changes := history.ProjectChanges{Next: make(history.ChangeCursor, len(p.live))}
	if len(since) == len(p.live) {
		var entries []listEntry
		caughtUp := true
		for partition, st := range p.live {
			if entries, caughtUp = st.appendChangedEntries(entries, project, since[partition], &changes.Next[partition]); !caughtUp {
				break
			}
		}
		if caughtUp {
			changes.Rows = eachEntry(entries, nil)
			return changes, true
		}
	}
	changes.Complete, changes.Rows = true, eachEntry(p.projectEntries(project, changes.Next), nil)
	return changes, true
}

// projectEntries gathers every check of project, with liveMu held, and the journals'
// positions then into next unless it is nil.
func (p *Projector) projectEntries(project schemas.ID, next history.ChangeCursor) []listEntry {
	n := 0
	for _, st := range p.live {
		n += st.projectLen(project)
	}
	entries := make([]listEntry, 0, n)
	for partition, st := range p.live {
		var position *history.JournalPosition
		if next != nil {
			position = &next[partition]
		}
		entries = st.appendProjectEntries(entries, project, position)
	}
	return entries
}

// eachEntry yields entries in the order given, or in theirs when order is nil.
func eachEntry(entries []listEntry, order []listOrder) iter.Seq[history.LazyRow] {
	return func(yield func(history.LazyRow) bool) {
		lazy := new(lazyListRow)
		for i := range entries {
			at := i
			if order != nil {
				at = int(order[i].entry)
			}
			lazy.entry, lazy.unpacked = &entries[at], false
			if !yield(lazy) {
				return
			}
		}
	}
}

// listOrder is a list entry's place in the order of creation.
type listOrder struct {
	// created is the entry's, kept here so that comparing two needs no other memory.
	created int64
	entry   int32
}

// listEntry is one check of a list, before it is unpacked.
type listEntry struct {
	head history.RowHead
	// packed is the row, unless open holds a copy of the one the current batch changed.
	packed packedRow
	open   *history.CheckRow
}

// projectLen is how many checks of project the partition holds.
func (st *partitionState) projectLen(project schemas.ID) int {
	st.mu.RLock()
	defer st.mu.RUnlock()
	return st.checks.projectLen(project)
}

// appendProjectEntries appends the partition's checks of project to entries, and
// stores the journal's position at that moment into position unless it is nil.
func (st *partitionState) appendProjectEntries(entries []listEntry, project schemas.ID, position *history.JournalPosition) []listEntry {
	st.mu.RLock()
	defer st.mu.RUnlock()
	for packed := range st.checks.projectRows(project) {
		entries = append(entries, st.listEntry(packed))
	}
	if position != nil {
		*position = st.journal.position()
	}
	return entries
}

// appendChangedEntries appends the partition's checks of project changed from since
// on, once per change, and stores the journal's position into next; false when the
// journal no longer reaches back to since.
func (st *partitionState) appendChangedEntries(entries []listEntry, project schemas.ID, since history.JournalPosition, next *history.JournalPosition) ([]listEntry, bool) {
	st.mu.RLock()
	defer st.mu.RUnlock()
	caughtUp := st.journal.changedSince(since, project, func(id schemas.ID) {
		// Every journaled check is stored: put stores a check before it is journaled.
		packed, _ := st.checks.get(id)
		entries = append(entries, st.listEntry(packed))
	})
	*next = st.journal.position()
	return entries, caughtUp
}

// listEntry is the list entry of a stored check, with st.mu held.
func (st *partitionState) listEntry(packed packedRow) listEntry {
	header := packed.header()
	if open, ok := st.open[header.head.CheckID]; ok {
		row := *open
		row.Partition = st.partition
		return listEntry{packed: packed, open: &row, head: history.HeadOf(&row)}
	}
	header.head.Partition = st.partition
	return listEntry{packed: packed, head: header.head}
}

// lazyListRow is the LazyRow ProjectChecks yields, reused from one check to the next.
type lazyListRow struct {
	entry    *listEntry
	row      history.CheckRow
	unpacked bool
}

func (l *lazyListRow) Head() history.RowHead { return l.entry.head }

func (l *lazyListRow) Row() *history.CheckRow {
	switch {
	case l.entry.open != nil:
		return l.entry.open
	case !l.unpacked:
		l.row, l.unpacked = l.entry.packed.unpack(), true
		l.row.Partition = l.entry.head.Partition
	}
	return &l.row
}

// lockedVersion returns the version of a check's row, for readers other than the
// partition's goroutine: read from the packed row's header, it costs no unpacking.
func (st *partitionState) lockedVersion(id schemas.ID) (uint64, bool) {
	st.mu.RLock()
	defer st.mu.RUnlock()
	if open, ok := st.open[id]; ok {
		return open.Version, true
	}
	packed, ok := st.checks.get(id)
	if !ok {
		return 0, false
	}
	return packed.header().head.Version, true
}

// locked is row for readers other than the partition's goroutine.
func (st *partitionState) locked(id schemas.ID) (history.CheckRow, bool) {
	st.mu.RLock()
	defer st.mu.RUnlock()
	return st.row(id)
}

// CheckCount returns how many checks the partitions folded here hold.
func (p *Projector) CheckCount() int {
	p.liveMu.RLock()
	defer p.liveMu.RUnlock()
	n := 0
	for _, st := range p.live {
		st.mu.RLock()
		n += st.checks.len()
		st.mu.RUnlock()
	}
	return n
}

// HoldsAll reports whether this projector folds every partition of the events topic,
// so that Check knows every check.
func (p *Projector) HoldsAll() bool {
	partitioner := p.partitioner.Load()
	p.liveMu.RLock()
	defer p.liveMu.RUnlock()
	return p.holdsAll(partitioner)
}

// holdsAll is HoldsAll with liveMu held.
func (p *Projector) holdsAll(partitioner *kafkarec.Partitioner) bool {
	return partitioner != nil && partitioner.Count() > 0 && len(p.live) == partitioner.Count()
}

// countPartitions records how many partitions the events topic has, for HoldsAll.
func (p *Projector) countPartitions(ctx context.Context, client *kafka.Client) {
	meta, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{p.cfg.Topics.Events}})
	if err == nil && (len(meta.Topics) != 1 || meta.Topics[0].Error != nil) {
		err = fmt.Errorf("no metadata for %s", p.cfg.Topics.Events)
	}
	if err != nil {
		p.partitioner.Store(nil)
		p.log.Warn("counting the events topic's partitions", "err", err)
		return
	}
	partitioner := kafkarec.NewPartitioner(len(meta.Topics[0].Partitions))
	p.partitioner.Store(&partitioner)
}

// serveLive makes st readable through Check until the returned function is called.
func (p *Projector) serveLive(st *partitionState) (stop func()) {
	p.liveMu.Lock()
	p.live[st.partition] = st
	p.liveMu.Unlock()
	return func() {
		p.liveMu.Lock()
		if p.live[st.partition] == st {
			delete(p.live, st.partition)
		}
		p.liveMu.Unlock()
	}
}

// Run consumes until ctx ends. Each generation of the consumer group runs one goroutine
// per assigned partition; a rebalance ends the generation and its goroutines flush and
// commit before the next one starts.
func (p *Projector) Run(ctx context.Context) error {
	if p.follows {
		return errors.New("projector: a follower cannot join the consumer group")
	}
	group, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                p.cfg.GroupID,
		Brokers:           p.cfg.Brokers,
		Topics:            []string{p.cfg.Topics.Events},
		StartOffset:       kafka.FirstOffset,
		HeartbeatInterval: time.Second,
		SessionTimeout:    10 * time.Second,
		RebalanceTimeout:  10 * time.Second,
		JoinGroupBackoff:  time.Second,
		Timeout:           5 * time.Second,
		Logger:            kafka.LoggerFunc(func(string, ...any) {}),
		ErrorLogger: kafka.LoggerFunc(func(msg string, args ...any) {
			p.log.Debug("consumer group", "err", fmt.Sprintf(msg, args...))
		}),
	})
	if err != nil {
		return fmt.Errorf("creating consumer group: %w", err)
	}
	defer group.Close()
	transport := &kafka.Transport{}
	defer transport.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(p.cfg.Brokers...), Timeout: 5 * time.Second, Transport: transport}
	for {
		gen, err := group.Next(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			p.log.Warn("joining consumer group", "err", err)
			if !sleep(ctx, time.Second) {
				return nil
			}
			continue
		}
		assignments := gen.Assignments[p.cfg.Topics.Events]
		p.countPartitions(ctx, client)
		p.log.Info("partitions assigned", "generation", gen.ID, "count", len(assignments))
		p.metrics.partitions.Set(float64(len(assignments)))
		partitions := make([]int, len(assignments))
		for i, a := range assignments {
			partitions[i] = a.ID
		}
		states := newRestorer(partitions)
		for _, a := range assignments {
			gen.Start(func(ctx context.Context) {
				commit := func(next int64) error {
					return gen.CommitOffsets(map[string]map[int]int64{p.cfg.Topics.Events: {a.ID: next}})
				}
				p.runPartition(ctx, states, a.ID, a.Offset, -1, commit)
			})
		}
	}
}

// Follow folds every partition of the events topic until ctx ends, without joining the
// projectors' consumer group: a query role apart from the projectors serves check reads
// from its own fold instead of polling ClickHouse. Each partition starts where the group
// has committed, with the state ClickHouse holds, which is at least that far because
// the projectors write before they commit; the records in between are skipped by
// version. A partition that fails is restored and followed again after a pause, and
// everything starts again when the topic's partition count changes.
func (p *Projector) Follow(ctx context.Context) error {
	if !p.follows {
		return errors.New("projector: Follow needs a Projector made by NewFollower")
	}
	client := p.client
	defer p.metrics.partitions.Set(0)
	for ctx.Err() == nil {
		p.countPartitions(ctx, client)
		partitioner := p.partitioner.Load()
		if partitioner == nil || partitioner.Count() == 0 {
			sleep(ctx, time.Second)
			continue
		}
		partitions := everyPartition(partitioner)
		// Offsets are read before the states: read after, ClickHouse could be behind them.
		offsets, err := p.committed(ctx, client, partitions)
		if err != nil {
			p.log.Warn("reading the projectors' committed offsets", "err", err)
			sleep(ctx, time.Second)
			continue
		}
		p.log.Info("following partitions", "count", len(partitions))
		p.metrics.partitions.Set(float64(len(partitions)))
		followCtx, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		states := newRestorer(partitions)
		for _, partition := range partitions {
			wg.Go(func() { p.followPartition(followCtx, client, states, partition, offsets[partition]) })
		}
		for sleep(followCtx, followRecount) {
			meta, err := client.Metadata(followCtx, &kafka.MetadataRequest{Topics: []string{p.cfg.Topics.Events}})
			if err == nil && len(meta.Topics) == 1 && meta.Topics[0].Error == nil && len(meta.Topics[0].Partitions) != len(partitions) {
				p.log.Info("the events topic's partition count changed; following again", "was", len(partitions), "count", len(meta.Topics[0].Partitions))
				break
			}
		}
		stop()
		wg.Wait()
	}
	return nil
}

// followRecount is how often a follower looks for a change in the partition count.
const followRecount = 30 * time.Second

// maxFollowBackoff bounds the pause before a follower starts a failed partition again.
const maxFollowBackoff = time.Minute

// followPartition folds one partition until ctx ends, starting again from the group's
// committed offset after a failure. Each start restores the partition from ClickHouse,
// so a failure that repeats (a record this build cannot decode) is retried less and
// less often, up to maxFollowBackoff.
func (p *Projector) followPartition(ctx context.Context, client *kafka.Client, states *restorer, partition int, offset int64) {
	backoff := time.Second
	for {
		started := time.Now()
		p.runPartition(ctx, states, partition, offset, -1, nil)
		if time.Since(started) > maxFollowBackoff {
			backoff = time.Second
		}
		if !sleep(ctx, backoff) {
			return
		}
		backoff = min(2*backoff, maxFollowBackoff)
		offsets, err := p.committed(ctx, client, []int{partition})
		for err != nil {
			p.log.Warn("reading the projectors' committed offset", "partition", partition, "err", err)
			if !sleep(ctx, time.Second) {
				return
			}
			offsets, err = p.committed(ctx, client, []int{partition})
		}
		offset = offsets[partition]
	}
}

// committed returns the projectors' committed offset of each partition, negative for a
// partition without one (folded from its first record).
func (p *Projector) committed(ctx context.Context, client *kafka.Client, partitions []int) (map[int]int64, error) {
	resp, err := client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: p.cfg.GroupID, Topics: map[string][]int{p.cfg.Topics.Events: partitions}})
	if err == nil {
		err = resp.Error
	}
	if err != nil {
		return nil, err
	}
	offsets := make(map[int]int64, len(partitions))
	for _, partition := range partitions {
		offsets[partition] = -1
	}
	for _, part := range resp.Topics[p.cfg.Topics.Events] {
		if part.Error != nil {
			return nil, fmt.Errorf("partition %d: %w", part.Partition, part.Error)
		}
		offsets[part.Partition] = part.CommittedOffset
	}
	return offsets, nil
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// allFlips yields the flips of every step in order.
func allFlips(steps []history.Batch) iter.Seq[*history.Flip] {
	return func(yield func(*history.Flip) bool) {
		for i := range steps {
			for j := range steps[i].Flips {
				if !yield(&steps[i].Flips[j]) {
					return
				}
			}
		}
	}
}

// partitionState is what one partition goroutine owns.
type partitionState struct {
	partition int
	// mu lets Check read while the partition's goroutine folds; only that goroutine
	// writes, under mu, so its own reads need no lock.
	mu     sync.RWMutex
	checks *checkTable
	// open holds, unpacked, the rows the current batch has changed; closeBatch packs
	// them into checks once per check rather than once per event. Every open check
	// is also in checks, where its deadline lives.
	open      map[schemas.ID]*history.CheckRow
	deadlines *deadline.Index
	// streamTime is the latest event time folded in this partition: deadlines are judged
	// by it, never by the wall clock.
	streamTime time.Time
	// projectHours counts the partition's pings per project and hour.
	projectHours *projectHours
	// lastPings is how many pings the last fetch folded.
	lastPings int
	// written is how far the partition's rows are in ClickHouse, for AwaitWritten; set
	// before the partition is served.
	written *writtenMark
	// journal records each check put, for ProjectChanges.
	journal changeJournal
	// unknownLogged is when unknownCheck last logged, and unknownChecks how many events
	// it has counted since.
	unknownLogged time.Time
	unknownChecks int
}

func newPartitionState(partition, capacity int) *partitionState {
	checks := newCheckTable(capacity)
	return &partitionState{partition: partition, checks: checks, deadlines: deadline.New(checks), open: map[schemas.ID]*history.CheckRow{},
		projectHours: newProjectHours(partition), journal: newChangeJournal()}
}

// row returns a check's row, false when the partition has none.
func (st *partitionState) row(id schemas.ID) (history.CheckRow, bool) {
	if open, ok := st.open[id]; ok {
		return *open, true
	}
	packed, ok := st.checks.get(id)
	if !ok {
		return history.CheckRow{Partition: st.partition}, false
	}
	row := packed.unpack()
	row.Partition = st.partition
	return row, true
}

// put changes a check's row in the current batch and indexes its next deadline.
func (st *partitionState) put(row history.CheckRow) {
	id := row.State.CheckID
	if open, ok := st.open[id]; ok {
		*open = row
	} else {
		if _, stored := st.checks.get(id); !stored {
			st.checks.put(packRow(row))
		}
		st.open[id] = &row
	}
	st.journal.record(id, row.State.ProjectID)
	st.schedule(row.State)
}

// closeBatch packs the rows the batch changed and returns them.
func (st *partitionState) closeBatch() []history.CheckRow {
	rows := make([]history.CheckRow, 0, len(st.open))
	for id, row := range st.open {
		st.checks.put(packRow(*row))
		rows = append(rows, *row)
		delete(st.open, id)
	}
	return rows
}

// load stores rows read back from ClickHouse. It does not journal them: the state is
// not served yet and its journal is a new epoch, so every reader starts with all of them.
func (st *partitionState) load(rows ...history.CheckRow) {
	for _, row := range rows {
		st.checks.put(packRow(row))
		st.schedule(row.State)
	}
}

// schedule indexes when a check must next be advanced.
func (st *partitionState) schedule(s check.State) {
	at, ok := check.NextDeadline(s)
	st.deadlines.Set(s.CheckID, at, ok)
}

// runPartition folds one partition from offset until ctx ends or, when end is not
// negative, until every record before end is durable. commit, when not nil, records the
// next offset after each durable batch. A follower only folds.
func (p *Projector) runPartition(ctx context.Context, states *restorer, partition int, offset, end int64, commit func(next int64) error) bool {
	log := p.log.With("partition", partition)
	var st *partitionState
	if !p.retry(ctx, log, "loading check states", func(ctx context.Context) error {
		var err error
		st, err = states.take(ctx, p, partition)
		return err
	}) {
		return false
	}
	if end == 0 || (end > 0 && offset >= end) {
		return true
	}
	// A fetch that returned with the first record made twelve partitions keep the
	// broker busy under load; waiting for 64 KiB or fetchWait costs it a few fetches a
	// second while keeping a ping's way to Check short.
	records := newFetcher(p.cfg.Brokers, p.cfg.Topics.Events, partition, offset, 64<<10, 16<<20, log)
	defer records.disconnect()
	st.written = newWrittenMark(offset)
	if soon, ok := p.writer.(soonWriter); ok {
		st.written.hasten = soon.Hasten
	}
	defer st.written.stop()
	log.Info("partition started", "offset", offset, "count", st.checks.len())
	lag := p.metrics.lag.WithLabelValues(strconv.Itoa(partition))
	// A revoked partition stops exporting its lag; its new owner reports it.
	defer p.metrics.lag.DeleteLabelValues(strconv.Itoa(partition))
	if p.follows {
		return p.follow(ctx, log, records, st, lag)
	}
	defer p.serveLive(st)()
	// Batches are made durable beside the fold (see startWrites), so folding (and
	// Check) does not wait for ClickHouse; a full queue slows folding down rather than
	// memory up. Writes retry for as long as the partition is ours, and once it is not
	// (rebalance, shutdown) get drainGrace to finish, so what was folded is written and
	// committed once rather than replayed.
	writeCtx, cancelWrites := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWrites()
	stopGrace := context.AfterFunc(ctx, func() { time.AfterFunc(drainGrace, cancelWrites) })
	defer stopGrace()
	waiting := p.metrics.batchesWaiting.WithLabelValues(strconv.Itoa(partition))
	defer p.metrics.batchesWaiting.DeleteLabelValues(strconv.Itoa(partition))
	writes := p.startWrites(writeCtx, log, st, commit, waiting)
	for ctx.Err() == nil {
		b, err := p.fetchBatch(ctx, records, st)
		if err != nil {
			log.Error("stopping partition", "err", err)
			writes.finish()
			return false
		}
		lag.Set(float64(records.lag()))
		if b.empty() {
			continue
		}
		if !writes.queue(ctx, b) {
			if ctx.Err() == nil {
				writes.finish()
				return false
			}
			// Shut down with a full queue: the batch is folded again from the committed
			// offset by whoever holds the partition next.
		}
		if end > 0 && b.nextOffset >= end {
			return writes.finish()
		}
	}
	// Given up (shutdown or rebalance): the log shows how far the partition was stored
	// and committed; its next owner folds on from there.
	writes.finish()
	log.Info("partition stopped; stored and committed before offset", "offset", st.written.stored())
	return false
}

// follow folds a follower's partition until ctx ends or a record cannot be folded. The
// partition is served only once it has caught up with the partition's end: until then
// ClickHouse, which the projectors write, may be ahead of it, and a caller whose write
// was found stored there could read the check from this fold without it.
func (p *Projector) follow(ctx context.Context, log *slog.Logger, records *fetcher, st *partitionState, lag prometheus.Gauge) bool {
	stopServing := func() {}
	defer func() { stopServing() }()
	served := false
	for ctx.Err() == nil {
		if _, err := p.fetchBatch(ctx, records, st); err != nil {
			log.Error("stopping partition", "err", err)
			return false
		}
		lag.Set(float64(records.lag()))
		if !served && records.caughtUp() {
			stopServing, served = p.serveLive(st), true
			log.Info("partition caught up; serving reads", "offset", records.offset)
		}
	}
	return false
}

// soonWriter is a history writer that can write a batch ahead of its usual pace, for
// one an API call waits for.
type soonWriter interface {
	WriteSoon(ctx context.Context, batches ...history.Batch) error
	// Hasten brings forward a write already waiting for its usual pace: the partition's
	// writer may be held in one while a later batch of it is awaited.
	Hasten()
}

// writeQueue is how many full batches (HC_PROJECTOR_BATCH_SIZE events) may wait for
// ClickHouse per partition, and writeQueueBatches how many batches of any size.
const (
	writeQueue        = 4
	writeQueueBatches = 64
)

// partitionWrites makes a partition's folded batches durable, in order, in two stages
// running beside the fold: the first publishes each batch's registry records and flips
// as soon as it is folded, the second writes its history to ClickHouse and then commits
// its offset. Flips are notifications on their way: held back with the history, they
// would wait out the write interval (a second by default) like the rows.
type partitionWrites struct {
	toPublish, toWrite chan *batch
	room               *queueRoom
	// failed is closed once either stage has given up: the batches still queued are
	// dropped, to be folded again by the partition's next owner.
	failed   chan struct{}
	failOnce sync.Once
	// published is false once the first stage has given up; it is read only after
	// that stage has closed toWrite.
	published bool
	done      chan bool
	waiting   prometheus.Gauge
	foldWait  prometheus.Counter
}

// startWrites starts a partition's two write stages; ctx bounds their retries.
func (p *Projector) startWrites(ctx context.Context, log *slog.Logger, st *partitionState, commit func(next int64) error, waiting prometheus.Gauge) *partitionWrites {
	// The queue is bounded by the events its batches hold, not by their number: at a
	// write interval of a second, ten 100 ms batches wait for each write, and a bound of
	// a few batches would stop folding (and the live state) for most of every second.
	room := newQueueRoom(writeQueue * p.cfg.BatchSize)
	w := &partitionWrites{toPublish: make(chan *batch, writeQueueBatches), toWrite: make(chan *batch, writeQueueBatches), room: room,
		failed: make(chan struct{}), published: true, done: make(chan bool, 1), waiting: waiting, foldWait: p.metrics.foldWaiting}
	go func() {
		defer close(w.toWrite)
		for b := range w.toPublish {
			w.mergeWaiting(w.toPublish, b)
			if w.published && !p.publish(ctx, log, b) {
				w.published = false
				w.fail()
			}
			if !w.published {
				room.give(b.events)
				continue
			}
			w.toWrite <- b
			// The writer may be waiting out the write interval with an earlier batch.
			if st.written.hasten != nil && st.written.awaitedBefore(b.nextOffset) {
				st.written.hasten()
			}
		}
	}()
	go func() {
		ok := true
		for b := range w.toWrite {
			// Batches folded while the last write was out go in one write: a write
			// costs about as much as the coalescing interval, so writing them one by
			// one would fall behind folding and stall it.
			w.mergeWaiting(w.toWrite, b)
			b.dropSupersededChecks()
			switch {
			case !ok:
			case p.flush(ctx, log, commit, b, st.written.awaitedBefore(b.nextOffset)):
				st.written.advance(b.nextOffset)
			default:
				ok = false
				w.fail()
			}
			room.give(b.events)
			w.countWaiting()
		}
		w.done <- ok && w.published
	}()
	return w
}

// mergeWaiting appends to b the batches waiting in queue behind it.
func (w *partitionWrites) mergeWaiting(queue chan *batch, b *batch) {
	for {
		select {
		case next, open := <-queue:
			if !open {
				return
			}
			b.append(next)
		default:
			w.countWaiting()
			return
		}
	}
}

func (w *partitionWrites) countWaiting() {
	w.waiting.Set(float64(len(w.toPublish) + len(w.toWrite)))
}

func (w *partitionWrites) fail() {
	w.failOnce.Do(func() { close(w.failed) })
}

// finish waits until every queued batch is durable or given up, and reports whether
// all were made durable.
func (w *partitionWrites) finish() bool {
	close(w.toPublish)
	return <-w.done
}

// queue hands b to the write stages once the queue has room for its events. Time spent
// waiting is folding held up by ClickHouse; it is counted as it passes, so a long wait
// shows while it lasts. It reports false if a stage failed or ctx ended.
func (w *partitionWrites) queue(ctx context.Context, b *batch) bool {
	taken := w.room.take(b.events)
	if taken {
		select {
		case w.toPublish <- b:
			w.countWaiting()
			return true
		default:
		}
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	last := time.Now()
	count := func() {
		now := time.Now()
		w.foldWait.Add(now.Sub(last).Seconds())
		last = now
	}
	defer count()
	for {
		// Sending on a nil channel never happens: the batch goes out only with its room.
		var send chan<- *batch
		if taken {
			send = w.toPublish
		}
		select {
		case <-w.room.freed:
			taken = taken || w.room.take(b.events)
		case send <- b:
			w.countWaiting()
			return true
		case <-tick.C:
			count()
		case <-w.failed:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// queueRoom is the room for events left in a partition's write queue. The fold takes
// room for each batch it queues (it alone takes, so checking and taking need no lock),
// and the writer gives it back once the batch is written.
type queueRoom struct {
	free  atomic.Int64
	freed chan struct{}
}

func newQueueRoom(events int) *queueRoom {
	r := &queueRoom{freed: make(chan struct{}, 1)}
	r.free.Store(int64(events))
	return r
}

func (r *queueRoom) take(events int) bool {
	if r.free.Load() < int64(events) {
		return false
	}
	r.free.Add(-int64(events))
	return true
}

func (r *queueRoom) give(events int) {
	r.free.Add(int64(events))
	select {
	case r.freed <- struct{}{}:
	default:
	}
}

// maxRetryBackoff bounds the pause between write attempts, and so how long after
// ClickHouse returns the projector notices.
const maxRetryBackoff = 2 * time.Second

// drainGrace is how long a partition given up still writes what it folded.
const drainGrace = 10 * time.Second

// awaitedRecently is how old an awaited record may be for its batch to be hastened: the
// API gives up waiting after HC_QUERY_WRITE_WAIT, 5 s by default.
const awaitedRecently = 10 * time.Second

// fetchWait bounds how long a fetch waits for records to accumulate.
const fetchWait = 50 * time.Millisecond

// batch is what one or more fetches folded and the offset to commit once it is
// durable. Each fetch's rows stay a history batch of their own and are written together.
type batch struct {
	steps      []history.Batch
	registry   []kafka.Message
	nextOffset int64
	// events is how many records were folded into the batch.
	events int
}

func (b *batch) empty() bool { return b.nextOffset == 0 }

// rows is the history batch of the fetch being folded.
func (b *batch) rows() *history.Batch { return &b.steps[len(b.steps)-1] }

// append adds a later batch of the same partition.
func (b *batch) append(later *batch) {
	b.steps = append(b.steps, later.steps...)
	b.registry = append(b.registry, later.registry...)
	b.nextOffset = later.nextOffset
	b.events += later.events
}

// dropSupersededChecks keeps, of each check's rows in the batch, only the one of the
// last step that has it: the checks table keeps a check's highest version, so the earlier
// rows of one write would only be stored to be merged away, and at a write a second a
// busy check has a row in each of about ten steps. What they held is in the later row
// (state is cumulative, and an hour that ended is in the later step's Hours).
func (b *batch) dropSupersededChecks() {
	if len(b.steps) < 2 {
		return
	}
	last := make(map[schemas.ID]int, len(b.steps[len(b.steps)-1].Checks))
	for i := range b.steps {
		for j := range b.steps[i].Checks {
			last[b.steps[i].Checks[j].State.CheckID] = i
		}
	}
	for i := range b.steps[:len(b.steps)-1] {
		kept := b.steps[i].Checks[:0]
		for _, row := range b.steps[i].Checks {
			if last[row.State.CheckID] == i {
				kept = append(kept, row)
			}
		}
		b.steps[i].Checks = kept
	}
}

func (p *Projector) fetchBatch(ctx context.Context, records *fetcher, st *partitionState) (*batch, error) {
	b := newFetchBatch(st)
	// The batch closes FlushInterval after its first record, at the end of the fetch
	// that passes it: the clock is read once a fetch, not once a record. It closes at
	// the end of its fetch when an API call waits for one of its records.
	var closeAt time.Time
	for b.events < p.cfg.BatchSize {
		wait := min(fetchWait, p.cfg.FlushInterval)
		if !closeAt.IsZero() && !records.buffered() {
			if wait = min(wait, time.Until(closeAt)); wait <= 0 || st.written.awaitedBefore(b.nextOffset) {
				break
			}
		}
		msg, ok, err := records.next(ctx, wait)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			return nil, fmt.Errorf("fetching: %w", err)
		}
		if !ok {
			continue
		}
		if b.events == 0 {
			closeAt = time.Now().Add(p.cfg.FlushInterval)
		}
		b.events++
		st.mu.Lock()
		err = p.fold(st, b, msg)
		st.mu.Unlock()
		if err != nil {
			return nil, err
		}
		b.nextOffset = msg.Offset + 1
	}
	p.closeFetch(st, b)
	return b, nil
}

// newFetchBatch starts the batch of a fetch. A fetch folds about as many pings as the
// last one did; sizing the slice for them saves copying the wide ping rows as it grows.
func newFetchBatch(st *partitionState) *batch {
	return &batch{steps: []history.Batch{{Pings: make([]history.Ping, 0, st.lastPings)}}}
}

// closeFetch packs the checks a fetch changed and closes its rows.
func (p *Projector) closeFetch(st *partitionState, b *batch) {
	rows := b.rows()
	st.lastPings = len(rows.Pings)
	st.mu.Lock()
	rows.Checks = st.closeBatch()
	rows.ProjectHours = st.projectHours.closeBatch()
	st.mu.Unlock()
}

// fold applies one record. Records the stored state already includes are skipped, which
// makes redelivery after a crash or a rebalance harmless.
func (p *Projector) fold(st *partitionState, b *batch, msg kafka.Message) error {
	ev, err := kafkarec.Event(msg)
	switch {
	case errors.Is(err, schemas.ErrUnknownVersion):
		return fmt.Errorf("decoding offset %d: %w (upgrade this projector)", msg.Offset, err)
	case err != nil:
		p.metrics.skipped.WithLabelValues("corrupt").Inc()
		p.log.Error("skipping corrupt record", "partition", st.partition, "offset", msg.Offset, "err", err)
		return nil
	}
	version := uint64(msg.Offset) + 1
	typ := ev.Body.Type()
	rows := b.rows()
	// A writer in another process (the API, `project create`) waits for this record to
	// be stored; a replay's old records have no one waiting and keep their batches whole.
	if kafkarec.IsAwaited(msg) && time.Since(ev.At) < awaitedRecently {
		st.written.expect(version)
	}
	// Time passes before the event happens (a check already late when its ping arrives
	// goes down, then up, as Healthchecks would have it), and again at its instant.
	if !st.streamTime.IsZero() && ev.At.Sub(st.streamTime) > p.cfg.OutageWindow {
		p.hold(st, rows, st.streamTime, ev.At, version)
	}
	p.advance(st, rows, ev.At.Add(-time.Nanosecond), version)
	defer p.advance(st, rows, ev.At, version)
	if typ == schemas.TypeClockTicked {
		p.metrics.folded(typ)
		return nil
	}
	if body, ok := ev.Body.(schemas.ProjectCreated); ok {
		rows.Projects = append(rows.Projects, history.Project{ProjectID: ev.ProjectID, Created: ev.At, Version: version, Body: body})
		b.registry = append(b.registry, registryRecord(msg))
		p.metrics.folded(typ)
		return nil
	}
	row, _ := st.row(ev.CheckID)
	if row.Version >= version {
		p.metrics.skipped.WithLabelValues("already_applied").Inc()
		return nil
	}
	before := row.State
	state, effects := check.Apply(row.State, ev)
	if !state.Exists {
		p.unknownCheck(st, ev, msg.Offset)
		return nil
	}
	row.State, row.Version = state, version
	st.put(row)
	p.metrics.folded(typ)
	if typ == schemas.TypePingReceived && p.metrics.pingDelay != nil {
		p.metrics.pingDelay.Observe(time.Since(ev.At).Seconds())
	}
	if p.follows {
		// A follower serves reads from the checks' state alone: history and registry
		// records are the projectors' to write.
		return nil
	}
	switch typ {
	case schemas.TypeCheckCreated, schemas.TypeCheckUpdated, schemas.TypeCheckDeleted:
		if state.Exists && (typ != schemas.TypeCheckCreated || !before.Exists) {
			b.registry = append(b.registry, registryRecord(msg))
		}
	}
	for _, e := range effects {
		switch e := e.(type) {
		case check.PingRecorded:
			rows.Pings = append(rows.Pings, history.Ping{ProjectID: state.ProjectID, CheckID: ev.CheckID, EventID: ev.ID,
				At: ev.At, Ping: ev.Body.(schemas.PingReceived), Recorded: e})
			st.projectHours.count(state.ProjectID, state.Tally.Hour, e, version)
		case check.Flipped:
			rows.Flips = append(rows.Flips, history.Flip{ProjectID: state.ProjectID, CheckID: ev.CheckID, Flipped: e})
		case check.HourClosed:
			rows.Hours = append(rows.Hours, history.Hour{ProjectID: state.ProjectID, CheckID: ev.CheckID, Tally: e.Tally})
		}
	}
	return nil
}

// unknownCheck counts an event about a check the partition never held, and says so in
// the log at most once a minute a partition. Ingest and the API append events only for
// checks whose creation was folded before, into the partition the check's ID hashes to,
// so such an event means the check's state lives in another partition: most likely the
// events topic was given more partitions, which silently stops monitoring the checks
// that moved. It leaves nothing to record.
func (p *Projector) unknownCheck(st *partitionState, ev schemas.Event, offset int64) {
	p.metrics.skipped.WithLabelValues("unknown_check").Inc()
	st.unknownChecks++
	if now := time.Now(); now.Sub(st.unknownLogged) >= time.Minute {
		p.log.Error("events about checks this partition never held: were partitions added to the events topic? "+
			"its partition count must never change (README, Architecture, Events)",
			"partition", st.partition, "offset", offset, "check_id", ev.CheckID, "event_type", ev.Body.Type().String(), "count", st.unknownChecks)
		st.unknownLogged, st.unknownChecks = now, 0
	}
}

// advance moves the partition's stream time to at (it never goes back) and applies it
// to every check whose deadline has passed. The rows it changes carry the version of the
// record that moved time, so a replay skips records the state already includes.
func (p *Projector) advance(st *partitionState, rows *history.Batch, at time.Time, version uint64) {
	if !at.After(st.streamTime) {
		return
	}
	st.streamTime = at
	for _, id := range st.deadlines.Due(at) {
		row, ok := st.row(id)
		if !ok {
			continue
		}
		state, effects := check.Advance(row.State, at)
		row.State, row.Version = state, max(row.Version, version)
		st.put(row)
		for _, e := range effects {
			if f, ok := e.(check.Flipped); ok {
				rows.Flips = append(rows.Flips, history.Flip{ProjectID: state.ProjectID, CheckID: id, Flipped: f})
				p.metrics.timeouts.Inc()
			}
		}
	}
}

// hold postpones the deadlines of the partition's checks by an outage from..to. A check
// whose stored state already includes the record that revealed the outage (a replay) was
// held before and is left alone, so a replay never holds twice.
func (p *Projector) hold(st *partitionState, rows *history.Batch, from, to time.Time, version uint64) {
	gap := to.Sub(from)
	held := 0
	for packed := range st.checks.rows {
		id := packed.checkID()
		row, _ := st.row(id)
		if row.Version >= version {
			continue
		}
		state, ok := check.Hold(row.State, gap)
		if !ok {
			continue
		}
		row.State, row.Version = state, version
		st.put(row)
		held++
	}
	rows.Incidents = append(rows.Incidents, history.Incident{Partition: st.partition, From: from, To: to, ChecksHeld: held})
	p.metrics.outages.Inc()
	p.log.Warn("no events for longer than the outage window: deadlines postponed instead of firing",
		"partition", st.partition, "offset", version-1, "gap", gap.String(), "count", held)
}

// flipRecords encodes flips as StatusChanged events whose IDs derive from (check, flip
// sequence): a flip published again after a crash is recognisably the same event.
func flipRecords(steps []history.Batch, flips int) ([]kafka.Message, error) {
	msgs := make([]kafka.Message, 0, flips)
	for f := range allFlips(steps) {
		seq := strconv.FormatUint(f.Flipped.Change.FlipSeq, 10)
		ev := schemas.Event{ID: schemas.NameID([]byte("hcstream-flip:"), f.CheckID[:], []byte(seq)), ProjectID: f.ProjectID,
			CheckID: f.CheckID, At: f.Flipped.At, Body: f.Flipped.Change}
		m, err := kafkarec.Message(ev)
		if err != nil {
			return nil, fmt.Errorf("encoding flip %s/%s: %w", f.CheckID, seq, err)
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}

func registryRecord(msg kafka.Message) kafka.Message {
	return kafka.Message{Key: msg.Key, Value: msg.Value, Headers: kafkarec.WithoutAwaited(msg).Headers}
}

// publish puts a batch's registry records and then its flip events on their topics,
// retrying until it succeeds or ctx ends. Registry records go first so that a check
// visible in ClickHouse, written after this, is already pingable.
func (p *Projector) publish(ctx context.Context, log *slog.Logger, b *batch) bool {
	// A retry resumes at the stage that failed: publishing the registry records again
	// each time the flips were refused would repeat them on their topic.
	flips := history.RowCount(b.steps, func(rows *history.Batch) int { return len(rows.Flips) })
	registered, published := len(b.registry) == 0 || p.registry == nil, flips == 0 || p.flips == nil
	if registered && published {
		return true
	}
	return p.retry(ctx, log, "publishing batch", func(ctx context.Context) error {
		if !registered {
			if err := p.registry.Publish(ctx, b.registry...); err != nil {
				return fmt.Errorf("publishing %d registry records: %w", len(b.registry), err)
			}
			registered = true
		}
		if !published {
			msgs, err := flipRecords(b.steps, flips)
			if err != nil {
				return err
			}
			if err := p.flips.Publish(ctx, msgs...); err != nil {
				return fmt.Errorf("publishing %d flips: %w", len(msgs), err)
			}
			published = true
		}
		return nil
	})
}

// flush writes a published batch's history and then commits its offset, retrying until
// it succeeds or ctx ends.
func (p *Projector) flush(ctx context.Context, log *slog.Logger, commit func(next int64) error, b *batch, awaited bool) bool {
	start := time.Now()
	ok := p.retry(ctx, log, "writing batch", func(ctx context.Context) error {
		if soon, ok := p.writer.(soonWriter); ok && awaited {
			return soon.WriteSoon(ctx, b.steps...)
		}
		return p.writer.Write(ctx, b.steps...)
	})
	if !ok {
		p.metrics.flushDuration.WithLabelValues("abandoned").Observe(time.Since(start).Seconds())
		return false
	}
	p.metrics.flushDuration.WithLabelValues("ok").Observe(time.Since(start).Seconds())
	p.metrics.batchRows.Observe(float64(history.RowCount(b.steps, (*history.Batch).Len)))
	if commit == nil {
		return true
	}
	return p.retry(ctx, log, "committing offset", func(context.Context) error { return commit(b.nextOffset) })
}

// Replay folds every partition of the events topic from its first record to the end it
// had when Replay started, without a consumer group or offset commits, and returns the
// number of records folded. Given a Projector without publishers and an empty database,
// it rebuilds the history the live projector wrote, row for row.
func (p *Projector) Replay(ctx context.Context) (int64, error) {
	client := &kafka.Client{Addr: kafka.TCP(p.cfg.Brokers...), Timeout: 10 * time.Second, Transport: &kafka.Transport{}}
	meta, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{p.cfg.Topics.Events}})
	if err != nil {
		return 0, fmt.Errorf("reading metadata: %w", err)
	}
	var reqs []kafka.OffsetRequest
	for _, t := range meta.Topics {
		for _, part := range t.Partitions {
			reqs = append(reqs, kafka.FirstOffsetOf(part.ID), kafka.LastOffsetOf(part.ID))
		}
	}
	offsets, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{p.cfg.Topics.Events: reqs}})
	if err != nil {
		return 0, fmt.Errorf("listing offsets: %w", err)
	}
	var total int64
	var wg sync.WaitGroup
	failed := make(chan int, len(offsets.Topics[p.cfg.Topics.Events]))
	var partitions []int
	for _, part := range offsets.Topics[p.cfg.Topics.Events] {
		partitions = append(partitions, part.Partition)
	}
	states := newRestorer(partitions)
	for _, part := range offsets.Topics[p.cfg.Topics.Events] {
		if part.Error != nil {
			return 0, fmt.Errorf("offsets of partition %d: %w", part.Partition, part.Error)
		}
		total += part.LastOffset - part.FirstOffset
		wg.Go(func() {
			if !p.runPartition(ctx, states, part.Partition, part.FirstOffset, part.LastOffset, nil) {
				failed <- part.Partition
			}
		})
	}
	wg.Wait()
	close(failed)
	for partition := range failed {
		return 0, fmt.Errorf("replaying partition %d did not finish", partition)
	}
	return total, ctx.Err()
}

// retry runs op until it succeeds, backing off, and reports false when ctx ended first.
func (p *Projector) retry(ctx context.Context, log *slog.Logger, what string, op func(context.Context) error) bool {
	backoff := p.cfg.RetryBackoff
	for attempt := 1; ; attempt++ {
		err := op(ctx)
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			log.Warn(what+" abandoned", "attempt", attempt, "err", err)
			return false
		}
		p.metrics.flushRetries.Inc()
		log.Warn(what+" failed, retrying", "attempt", attempt, "err", err, "backoff", backoff)
		if !sleep(ctx, backoff) {
			return false
		}
		backoff = min(2*backoff, maxRetryBackoff)
	}
}
