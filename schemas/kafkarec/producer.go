package kafkarec

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
	produceapi "github.com/segmentio/kafka-go/protocol/produce"
)

// Producer sends the records of concurrent Publish calls as one produce request per
// partition leader, with acks from all in-sync replicas, placing each record by
// Balancer. kafka-go's Writer sends one request per partition per batch, so with twelve
// partitions a busy ingest made twelve times as many requests as it needed, and the
// broker's CPU went to request overhead.
//
// Batching is driven by the broker's own pace rather than a timer: a record is sent at
// once when fewer than MaxInFlight requests are out, and otherwise joins the next
// request, which leaves as soon as one returns (and, with a spacing, no sooner than
// the spacing after the last one started). An idle producer thus adds no delay, and a
// busy one sends batches as large as the broker's round trip (or the spacing) lets
// gather, where a fixed linger added its whole length to every ping.
type Producer struct {
	client *kafka.Client
	topic  string
	// maxInFlight is how many produce requests may be out at once.
	maxInFlight int
	// maxBytes caps the record data of one request.
	maxBytes int
	// spacing is the least time between the starts of two rounds of requests (a round
	// sends one request to each partition leader).
	spacing time.Duration

	requests, records atomic.Uint64

	mu       sync.Mutex
	pending  []*produceCall
	inFlight int
	layout   *leaderLayout
	// lastStart is when the last request took its records.
	lastStart time.Time
}

type produceCall struct {
	msgs []kafka.Message
	size int
	done chan error
	// abandoned is set, under the producer's mutex, once the caller stopped waiting:
	// the call is then no longer sent if it has not been.
	abandoned bool
}

// leaderLayout is which broker leads each partition, from the last metadata read.
type leaderLayout struct {
	partitions int
	leader     map[int]net.Addr
	read       time.Time
}

// layoutTTL bounds how long leadership is trusted without a failure to say otherwise.
const layoutTTL = 30 * time.Second

// NewProducer returns a producer for topic through its own transport, with at most
// maxInFlight requests out at once (default 1).
func NewProducer(brokers []string, topic string, maxInFlight int) *Producer {
	if maxInFlight <= 0 {
		maxInFlight = 1
	}
	return &Producer{
		client: &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second,
			Transport: &kafka.Transport{DialTimeout: 2 * time.Second, MetadataTTL: 5 * time.Second}},
		topic: topic, maxInFlight: maxInFlight, maxBytes: 4 << 20,
	}
}

// WithSpacing makes requests start at least d apart, so that at a steady moderate rate
// records gather into fewer, larger requests: the broker's cost is mostly per request,
// and at a few thousand pings a second most requests carried one or two. A record
// published d or more after the last request started still leaves at once. It returns p.
func (p *Producer) WithSpacing(d time.Duration) *Producer {
	p.spacing = d
	return p
}

// Sent returns how many produce requests the producer has sent and how many records
// they carried.
func (p *Producer) Sent() (requests, records uint64) {
	return p.requests.Load(), p.records.Load()
}

// Publish returns nil once every record is acknowledged by the partition leaders. A
// request the broker refused without appending anything, because leadership was moving
// or too few replicas were in sync, is sent again (with fresh metadata) until ctx ends:
// a leader election must not turn into failed pings. When msgs span partitions, those
// already stored are sent again with the rest; their event IDs make that harmless.
// Records of more than maxPartitionBatch bytes in all go in turns of at most that.
func (p *Producer) Publish(ctx context.Context, msgs ...kafka.Message) error {
	for len(msgs) > 0 {
		n, size := 0, 0
		for n < len(msgs) && (n == 0 || size+recordSize(msgs[n]) <= maxPartitionBatch) {
			size += recordSize(msgs[n])
			n++
		}
		if err := p.publishRetrying(ctx, msgs[:n], size); err != nil {
			return err
		}
		msgs = msgs[n:]
	}
	return nil
}

func (p *Producer) publishRetrying(ctx context.Context, msgs []kafka.Message, size int) error {
	for attempt := 0; ; attempt++ {
		err := p.publishOnce(ctx, msgs, size)
		if err == nil || !NotAppended(err) {
			return err
		}
		select {
		case <-time.After(min(retryBackoff<<attempt, maxRetryBackoff)):
		case <-ctx.Done():
			return err
		}
	}
}

// maxPartitionBatch caps one partition's records in one produce request, below Kafka's
// default max.message.bytes (1,048,588). A broker refuses a larger record batch whole,
// and with it every ping in the batch: a backlog gathered while the broker was slow, or
// one large body, would fail every ping beside it. A single larger record is sent on
// its own, and stored if the topic's max.message.bytes allows it.
const maxPartitionBatch = 1_000_000

// recordSize is an upper bound of m's bytes in a record batch.
func recordSize(m kafka.Message) int {
	size := len(m.Key) + len(m.Value) + 32
	for _, h := range m.Headers {
		size += len(h.Key) + len(h.Value) + 8
	}
	return size
}

// Backoff between sends of records the broker refused before appending them.
const (
	retryBackoff    = 20 * time.Millisecond
	maxRetryBackoff = 500 * time.Millisecond
)

var errNoLeader = errors.New("partition has no leader")

// NotAppended reports whether every error in err guarantees that the broker stored
// none of the records it was about, so sending them again cannot duplicate one. A
// timeout does not qualify: the records may have been appended after all.
func NotAppended(err error) bool {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range joined.Unwrap() {
			if !NotAppended(e) {
				return false
			}
		}
		return true
	}
	if errors.Is(err, errNoLeader) {
		return true
	}
	var code kafka.Error
	if !errors.As(err, &code) {
		return false
	}
	switch code {
	case kafka.NotLeaderForPartition, kafka.LeaderNotAvailable, kafka.NotEnoughReplicas, kafka.UnknownTopicOrPartition:
		return true
	}
	return false
}

func (p *Producer) publishOnce(ctx context.Context, msgs []kafka.Message, size int) error {
	call := &produceCall{msgs: msgs, size: size, done: make(chan error, 1)}
	p.mu.Lock()
	p.pending = append(p.pending, call)
	if p.inFlight < p.maxInFlight {
		p.inFlight++
		go p.sendPending()
	}
	p.mu.Unlock()
	select {
	case err := <-call.done:
		return err
	case <-ctx.Done():
		// A call not sent yet is withdrawn, so the caller's 503 means not stored. One
		// already in a request may still be acknowledged; the client retries, which at
		// worst records the ping twice, never loses it.
		p.mu.Lock()
		select {
		case err := <-call.done:
			// Answered as the wait ended: the outcome is known after all.
			p.mu.Unlock()
			return err
		default:
		}
		call.abandoned = true
		if i := slices.Index(p.pending, call); i >= 0 {
			p.pending = slices.Delete(p.pending, i, i+1)
		}
		p.mu.Unlock()
		return ctx.Err()
	}
}

// sendPending sends what is waiting, request after request, until nothing is.
func (p *Producer) sendPending() {
	for {
		calls, wait := p.takePending()
		if wait > 0 {
			time.Sleep(wait)
			continue
		}
		if len(calls) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), p.client.Timeout)
		// Reading the leaders can take seconds when the broker is slow: the callers who
		// stopped waiting meanwhile are withdrawn before anything is sent.
		layout, err := p.currentLayout(ctx)
		calls = p.stillAwaited(calls)
		var errs []error
		var deferred []bool
		if err == nil {
			errs, deferred = p.send(ctx, layout, calls)
		} else {
			errs, deferred = make([]error, len(calls)), make([]bool, len(calls))
			for i := range errs {
				errs[i] = err
			}
		}
		cancel()
		for i, c := range calls {
			if !deferred[i] {
				c.done <- errs[i]
			}
		}
		p.putBack(calls, deferred)
	}
}

// stillAwaited returns the calls whose callers still wait for them.
func (p *Producer) stillAwaited(calls []*produceCall) []*produceCall {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.DeleteFunc(calls, func(c *produceCall) bool { return c.abandoned })
}

// putBack returns the deferred calls to the head of the queue, in their order, but
// for those their callers abandoned meanwhile.
func (p *Producer) putBack(calls []*produceCall, deferred []bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var back []*produceCall
	for i, c := range calls {
		if deferred[i] && !c.abandoned {
			back = append(back, c)
		}
	}
	if len(back) > 0 {
		p.pending = append(back, p.pending...)
	}
}

// takePending removes up to maxBytes of waiting calls, or, when none wait, gives up
// this sender's in-flight slot. While calls wait but the spacing since the last request
// started has not passed, it takes none and returns how long is left.
func (p *Producer) takePending() (calls []*produceCall, wait time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.pending) == 0 {
		p.inFlight--
		return nil, 0
	}
	if wait := p.spacing - time.Since(p.lastStart); wait > 0 {
		return nil, wait
	}
	n, size := 0, 0
	for n < len(p.pending) && (n == 0 || size+p.pending[n].size <= p.maxBytes) {
		size += p.pending[n].size
		n++
	}
	calls = p.pending[:n:n]
	p.pending = append([]*produceCall(nil), p.pending[n:]...)
	p.lastStart = time.Now()
	return calls, 0
}

// send produces the calls' records to the leaders of layout and returns each call's
// outcome. A call whose records would take a partition's batch past maxPartitionBatch
// is deferred to the next request instead; the first call is always sent.
func (p *Producer) send(ctx context.Context, layout *leaderLayout, calls []*produceCall) (errs []error, deferred []bool) {
	errs = make([]error, len(calls))
	// byLeader → partition → records, remembering which calls each partition carries.
	type partitionBatch struct {
		records []kafka.Record
		calls   []int
	}
	byLeader := map[string]map[int]*partitionBatch{}
	placed, deferred := planRequest(calls, NewPartitioner(layout.partitions))
	for i, c := range calls {
		if deferred[i] {
			continue
		}
		for j, m := range c.msgs {
			partition := placed[i][j]
			addr := layout.leader[partition]
			if addr == nil {
				errs[i] = fmt.Errorf("partition %d of %s: %w", partition, p.topic, errNoLeader)
				continue
			}
			parts := byLeader[addr.String()]
			if parts == nil {
				parts = map[int]*partitionBatch{}
				byLeader[addr.String()] = parts
			}
			b := parts[partition]
			if b == nil {
				b = &partitionBatch{}
				parts[partition] = b
			}
			b.records = append(b.records, kafka.Record{Key: kafka.NewBytes(m.Key), Value: kafka.NewBytes(m.Value), Headers: m.Headers})
			if n := len(b.calls); n == 0 || b.calls[n-1] != i {
				b.calls = append(b.calls, i)
			}
		}
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	failed := false
	for _, parts := range byLeader {
		wg.Go(func() {
			req := &produceapi.Request{Acks: int16(kafka.RequireAll), Timeout: 5000,
				Topics: []produceapi.RequestTopic{{Topic: p.topic}}}
			order := make([]int, 0, len(parts))
			records := 0
			for partition, b := range parts {
				order = append(order, partition)
				records += len(b.records)
				req.Topics[0].Partitions = append(req.Topics[0].Partitions, produceapi.RequestPartition{
					Partition: int32(partition),
					RecordSet: protocol.RecordSet{Version: 2, Records: protocol.NewRecordReader(b.records...)},
				})
			}
			p.requests.Add(1)
			p.records.Add(uint64(records))
			partErrs := p.roundTrip(ctx, req, order)
			mu.Lock()
			defer mu.Unlock()
			for _, partition := range order {
				if err := partErrs[partition]; err != nil {
					failed = true
					for _, i := range parts[partition].calls {
						errs[i] = errors.Join(errs[i], err)
					}
				}
			}
		})
	}
	wg.Wait()
	if failed {
		p.forgetLayout()
	}
	return errs, deferred
}

// planRequest places each call's records in their partitions and decides which calls
// wait for the next request: those that would take a partition's batch past
// maxPartitionBatch (the first call always goes), and every later call to the
// partitions of one that waits, so records keep their order of arrival in a partition.
func planRequest(calls []*produceCall, partitioner Partitioner) (placed [][]int, deferred []bool) {
	placed, deferred = make([][]int, len(calls)), make([]bool, len(calls))
	records := 0
	for _, c := range calls {
		records += len(c.msgs)
	}
	// One array holds every call's partitions: a request gathers hundreds of pings.
	partitions := make([]int, records)
	batchBytes := map[int]int{}
	for i, c := range calls {
		placed[i], partitions = partitions[:len(c.msgs):len(c.msgs)], partitions[len(c.msgs):]
		for j, m := range c.msgs {
			placed[i][j] = partitioner.Of(m.Key)
		}
		if !fitsBatches(c.msgs, placed[i], batchBytes) {
			deferred[i] = true
			for _, partition := range placed[i] {
				batchBytes[partition] = maxPartitionBatch + 1
			}
		}
	}
	return placed, deferred
}

// fitsBatches reports whether msgs, placed in partitions, can join partition batches
// of batchBytes without taking a non-empty one past maxPartitionBatch, and if so counts
// them in. A call's records nearly always share a key (a ping, or a create and its
// ping), so the whole call is counted against each of its partitions: conservative,
// and no per-call map on the pings' path.
func fitsBatches(msgs []kafka.Message, partitions []int, batchBytes map[int]int) bool {
	total := 0
	for _, m := range msgs {
		total += recordSize(m)
	}
	for _, partition := range partitions {
		if before := batchBytes[partition]; before > 0 && before+total > maxPartitionBatch {
			return false
		}
	}
	for i, m := range msgs {
		batchBytes[partitions[i]] += recordSize(m)
	}
	return true
}

// roundTrip sends one leader's request and returns the error of each partition.
func (p *Producer) roundTrip(ctx context.Context, req *produceapi.Request, partitions []int) map[int]error {
	out := make(map[int]error, len(partitions))
	resp, err := p.client.Transport.RoundTrip(ctx, p.client.Addr, req)
	if err != nil {
		for _, partition := range partitions {
			out[partition] = fmt.Errorf("producing to %s: %w", p.topic, err)
		}
		return out
	}
	res, ok := resp.(*produceapi.Response)
	if !ok {
		for _, partition := range partitions {
			out[partition] = fmt.Errorf("producing to %s: unexpected response %T", p.topic, resp)
		}
		return out
	}
	answered := map[int]bool{}
	for _, t := range res.Topics {
		for _, rp := range t.Partitions {
			answered[int(rp.Partition)] = true
			if rp.ErrorCode != 0 {
				out[int(rp.Partition)] = fmt.Errorf("producing to %s/%d: %w", p.topic, rp.Partition, kafka.Error(rp.ErrorCode))
			}
		}
	}
	for _, partition := range partitions {
		if !answered[partition] {
			out[partition] = fmt.Errorf("producing to %s/%d: no answer for the partition", p.topic, partition)
		}
	}
	return out
}

func (p *Producer) currentLayout(ctx context.Context) (*leaderLayout, error) {
	p.mu.Lock()
	layout := p.layout
	p.mu.Unlock()
	if layout != nil && time.Since(layout.read) < layoutTTL {
		return layout, nil
	}
	meta, err := p.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{p.topic}})
	if err != nil {
		return nil, fmt.Errorf("reading metadata of %s: %w", p.topic, err)
	}
	for _, t := range meta.Topics {
		if t.Name != p.topic {
			continue
		}
		if t.Error != nil || len(t.Partitions) == 0 {
			return nil, fmt.Errorf("metadata of %s: %v", p.topic, t.Error)
		}
		layout = &leaderLayout{partitions: len(t.Partitions), leader: map[int]net.Addr{}, read: time.Now()}
		for _, part := range t.Partitions {
			if part.Leader.Host != "" {
				layout.leader[part.ID] = kafka.TCP(net.JoinHostPort(part.Leader.Host, fmt.Sprint(part.Leader.Port)))
			}
		}
		p.mu.Lock()
		p.layout = layout
		p.mu.Unlock()
		return layout, nil
	}
	return nil, fmt.Errorf("metadata has no topic %s", p.topic)
}

// Partitions returns the topic's partition count, from cached metadata.
func (p *Producer) Partitions(ctx context.Context) (int, error) {
	layout, err := p.currentLayout(ctx)
	if err != nil {
		return 0, err
	}
	return layout.partitions, nil
}

func (p *Producer) forgetLayout() {
	p.mu.Lock()
	p.layout = nil
	p.mu.Unlock()
}

// Close waits until every pending record has been sent.
func (p *Producer) Close() error {
	for {
		p.mu.Lock()
		idle := p.inFlight == 0 && len(p.pending) == 0
		p.mu.Unlock()
		if idle {
			return nil
		}
		time.Sleep(time.Millisecond)
	}
}
