// Command hcload drives ping load against a running hcstream on this machine and checks
// that every acknowledged ping is in Kafka. It creates its own checks through the API,
// sends pings at a fixed rate (latency is measured from each ping's scheduled time, so a
// stalled server cannot hide its queueing) or as fast as possible, and prints throughput,
// latency percentiles and the Kafka verification.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/hcstream/hcstream/schemas"
)

type options struct {
	baseURL     string
	apiURL      string
	apiKey      string
	checks      int
	concurrency int
	rate        int
	duration    time.Duration
	warmup      time.Duration
	mix         string
	bodyBytes   int
	brokers     string
	topic       string
	jsonOut     bool
	visibility  int
	apiReads    int
	flipProbes  int
	flipsTopic  string
	burst       int
}

func main() {
	var o options
	flag.StringVar(&o.baseURL, "url", "http://127.0.0.1:8000", "hcstream base URL (loopback only)")
	flag.StringVar(&o.apiURL, "api-url", "", "base URL of the Management API when another process serves it, as with separate ingest and query roles (default: -url)")
	flag.StringVar(&o.apiKey, "api-key", os.Getenv("HC_LOAD_API_KEY"), "read-write API key of the project to load (required; $HC_LOAD_API_KEY when not given)")
	flag.IntVar(&o.checks, "checks", 1000, "checks to create and ping")
	flag.IntVar(&o.concurrency, "concurrency", 256, "concurrent connections")
	flag.IntVar(&o.rate, "rate", 25000, "target pings per second; 0 sends as fast as possible")
	flag.DurationVar(&o.duration, "duration", 60*time.Second, "measured duration")
	flag.DurationVar(&o.warmup, "warmup", 5*time.Second, "unmeasured warm-up before the measured run")
	flag.StringVar(&o.mix, "mix", "success=85,start=5,fail=4,exit=4,log=2", "ping kinds by weight: success, start, fail, exit, log, unknown (a UUID no check has: 404)")
	flag.IntVar(&o.bodyBytes, "body", 0, "bytes of body sent with each ping (POST when > 0)")
	flag.StringVar(&o.brokers, "kafka-brokers", envOr("HC_KAFKA_BROKERS", "127.0.0.1:9092"), "Kafka brokers, for the verification")
	flag.StringVar(&o.topic, "topic", envOr("HC_KAFKA_TOPIC_EVENTS", "hcstream.events"), "events topic, for the verification")
	flag.BoolVar(&o.jsonOut, "json", false, "print the result as JSON")
	flag.IntVar(&o.visibility, "visibility", 0, "probes per second of ping-to-API visibility during the run (0: none)")
	flag.IntVar(&o.flipProbes, "flip-probes", 0, "flips of a check of its own spread over the run, each timed from its ping to its event on the flips topic (0: none)")
	flag.StringVar(&o.flipsTopic, "flips-topic", envOr("HC_KAFKA_TOPIC_FLIPS", "hcstream.flips"), "flips topic, for -flip-probes")
	flag.IntVar(&o.burst, "burst", 0, "instead of a steady rate, send this many pings at one instant, each on a new connection, as cron jobs at the top of the hour (0: steady)")
	flag.IntVar(&o.apiReads, "api-reads", 0, "API reads per second during the run, alternating the project's check list and one check (0: none)")
	cpuProfile := flag.String("cpuprofile", "", "write the load tool's own CPU profile to this file, to see what it takes from the box")
	floor := flag.Bool("floor", false, "measure the machine's floor instead: drive a stand-in server that answers every ping with 200 and does nothing else, and print the CPU it and hcload take (-url, -api-key and Kafka are not used)")
	serveStandIn := flag.Bool("serve-floor", false, "serve the stand-in of -floor on a free loopback port (started by -floor itself)")
	flag.Parse()
	if o.apiURL == "" {
		o.apiURL = o.baseURL
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := o.validate(); err != nil {
		fmt.Fprintln(os.Stderr, "hcload:", err)
		os.Exit(2)
	}
	runMode := run
	switch {
	case *serveStandIn:
		runMode = func(ctx context.Context, _ options, stdout io.Writer) error { return serveFloor(ctx, stdout) }
	case *floor:
		runMode = runFloor
	}
	if err := profiled(*cpuProfile, func() error { return runMode(ctx, o, os.Stdout) }); err != nil {
		fmt.Fprintln(os.Stderr, "hcload:", err)
		os.Exit(1)
	}
}

// validate refuses numbers that would make a run measure nothing, or panic.
func (o options) validate() error {
	switch {
	case o.checks < 1:
		return fmt.Errorf("-checks must be at least 1, got %d", o.checks)
	case o.concurrency < 1:
		return fmt.Errorf("-concurrency must be at least 1, got %d", o.concurrency)
	case o.rate < 0:
		return fmt.Errorf("-rate must be 0 (as fast as possible) or more, got %d", o.rate)
	case o.burst < 0:
		return fmt.Errorf("-burst must be 0 (steady load) or more, got %d", o.burst)
	case o.duration <= 0:
		return fmt.Errorf("-duration must be positive, got %v", o.duration)
	case o.warmup < 0:
		return fmt.Errorf("-warmup must not be negative, got %v", o.warmup)
	}
	return nil
}

// profiled runs f, writing a CPU profile of the whole run to path unless it is "".
func profiled(path string, f func() error) error {
	if path == "" {
		return f()
	}
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.StartCPUProfile(out); err != nil {
		out.Close()
		return err
	}
	runErr := f()
	pprof.StopCPUProfile()
	return errors.Join(runErr, out.Close())
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// loopbackOnly refuses targets off this machine: load is only ever sent to loopback.
func loopbackOnly(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	ips, err := net.LookupIP(u.Hostname())
	if err != nil {
		return err
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return fmt.Errorf("%s resolves to %s: hcload only targets loopback", u.Hostname(), ip)
		}
	}
	return nil
}

type kind struct {
	name   string
	suffix func(r *rand.Rand) string
	weight int
}

// unknownKind pings a UUID no check has, as cron jobs of deleted checks do (404).
const unknownKind = "unknown"

func parseMix(mix string) ([]kind, error) {
	suffixes := map[string]func(*rand.Rand) string{
		"success":   func(*rand.Rand) string { return "" },
		"start":     func(*rand.Rand) string { return "/start" },
		"fail":      func(*rand.Rand) string { return "/fail" },
		"log":       func(*rand.Rand) string { return "/log" },
		"exit":      func(r *rand.Rand) string { return "/" + strconv.Itoa(r.IntN(4)) },
		unknownKind: func(*rand.Rand) string { return "" },
	}
	var kinds []kind
	for part := range strings.SplitSeq(mix, ",") {
		name, w, ok := strings.Cut(strings.TrimSpace(part), "=")
		weight, err := strconv.Atoi(w)
		if !ok || err != nil || weight < 0 || suffixes[name] == nil {
			return nil, fmt.Errorf("bad -mix item %q", part)
		}
		kinds = append(kinds, kind{name, suffixes[name], weight})
	}
	return kinds, nil
}

func pick(kinds []kind, r *rand.Rand) kind {
	total := 0
	for _, k := range kinds {
		total += k.weight
	}
	n := r.IntN(max(total, 1))
	for _, k := range kinds {
		if n < k.weight {
			return k
		}
		n -= k.weight
	}
	return kinds[0]
}

// result is what one run measured.
type result struct {
	Checks       int            `json:"checks"`
	Concurrency  int            `json:"concurrency"`
	TargetRate   int            `json:"target_rate"`
	Seconds      float64        `json:"seconds"`
	Sent         int64          `json:"sent"`
	Acknowledged int64          `json:"acknowledged"`
	ByStatus     map[string]int `json:"by_status"`
	Throughput   float64        `json:"acknowledged_per_second"`
	P50ms        float64        `json:"p50_ms"`
	P95ms        float64        `json:"p95_ms"`
	P99ms        float64        `json:"p99_ms"`
	MaxMs        float64        `json:"max_ms"`
	// Service* are measured from when a request was actually sent rather than when it
	// was scheduled: the difference is time spent waiting in the load tool itself.
	ServiceP50ms float64 `json:"service_p50_ms"`
	ServiceP99ms float64 `json:"service_p99_ms"`
	ServiceMaxMs float64 `json:"service_max_ms"`
	// Connect* are a burst's connection set-up times, from the burst's instant.
	ConnectP50ms  float64 `json:"connect_p50_ms,omitempty"`
	ConnectP99ms  float64 `json:"connect_p99_ms,omitempty"`
	ConnectMaxMs  float64 `json:"connect_max_ms,omitempty"`
	KafkaEvents   int64   `json:"kafka_pings_during_run"`
	KafkaVerified bool    `json:"kafka_count_equals_acknowledged"`
	// Visible* measure from a probe ping's acknowledgement until the API shows it.
	VisibleProbes int     `json:"visibility_probes,omitempty"`
	VisibleP50ms  float64 `json:"visible_p50_ms,omitempty"`
	VisibleP99ms  float64 `json:"visible_p99_ms,omitempty"`
	VisibleMaxMs  float64 `json:"visible_max_ms,omitempty"`
	// Flip* measure from a probe's ping request until its flip arrives on the flips topic.
	FlipProbes int     `json:"flip_probes,omitempty"`
	FlipP50ms  float64 `json:"flip_p50_ms,omitempty"`
	FlipMaxMs  float64 `json:"flip_max_ms,omitempty"`
	// List* and Single* time API reads made during the run: GET /api/v3/checks/ and
	// GET /api/v3/checks/<uuid>, from request to the last byte of the response.
	ListReads   int     `json:"list_reads,omitempty"`
	ListP50ms   float64 `json:"list_p50_ms,omitempty"`
	ListP99ms   float64 `json:"list_p99_ms,omitempty"`
	ListMaxMs   float64 `json:"list_max_ms,omitempty"`
	ListChecks  int     `json:"list_checks,omitempty"`
	SingleReads int     `json:"single_reads,omitempty"`
	SingleP50ms float64 `json:"single_p50_ms,omitempty"`
	SingleP99ms float64 `json:"single_p99_ms,omitempty"`
	SingleMaxMs float64 `json:"single_max_ms,omitempty"`
}

func run(ctx context.Context, o options, stdout io.Writer) error {
	if o.apiKey == "" {
		return errors.New("-api-key is required (bin/hcstream project create --name load)")
	}
	for _, u := range []string{o.baseURL, o.apiURL} {
		if err := loopbackOnly(u); err != nil {
			return err
		}
	}
	if _, err := newPingConn(o.baseURL); err != nil {
		return err
	}
	kinds, err := parseMix(o.mix)
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		MaxIdleConns: o.concurrency * 2, MaxIdleConnsPerHost: o.concurrency * 2, DisableCompression: true, IdleConnTimeout: time.Minute,
	}}
	checks, err := createChecks(ctx, client, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "hcload: %d checks ready; warming up %v\n", len(checks), o.warmup)
	if o.warmup > 0 {
		if _, err := drive(ctx, o, checks, kinds, o.warmup); err != nil {
			return err
		}
	}
	brokers := strings.Split(o.brokers, ",")
	before, err := partitionEnds(ctx, brokers, o.topic)
	if err != nil {
		return err
	}
	if o.burst > 0 {
		fmt.Fprintf(os.Stderr, "hcload: measuring a burst of %d pings at one instant, each on a new connection\n", o.burst)
	} else {
		fmt.Fprintf(os.Stderr, "hcload: measuring for %v at %d pings/s with %d connections\n", o.duration, o.rate, o.concurrency)
	}
	var probes []time.Duration
	var probeErr error
	var probing sync.WaitGroup
	if o.visibility > 0 {
		// Probes use their own checks, so the load's pings cannot be mistaken for theirs.
		probeChecks, err := createChecks(ctx, client, options{apiURL: o.apiURL, apiKey: o.apiKey, checks: 10})
		if err != nil {
			return err
		}
		probing.Go(func() { probes, probeErr = probeVisibility(ctx, client, o, probeChecks, o.warmup+o.duration) })
	}
	var flips []time.Duration
	var flipErr error
	if o.flipProbes > 0 {
		flipCheck, err := createChecks(ctx, client, options{apiURL: o.apiURL, apiKey: o.apiKey, checks: 1})
		if err != nil {
			return err
		}
		probing.Go(func() { flips, flipErr = probeFlips(ctx, client, o, flipCheck[0], o.flipProbes, o.duration) })
	}
	var reads apiReads
	var readErr error
	if o.apiReads > 0 {
		probing.Go(func() { reads, readErr = readAPI(ctx, client, o, checks, o.duration) })
	}
	res, err := measure(ctx, o, checks, kinds)
	if err != nil {
		return err
	}
	probing.Wait()
	if probeErr != nil {
		return probeErr
	}
	if readErr != nil {
		return readErr
	}
	if flipErr != nil {
		return flipErr
	}
	if len(flips) > 0 {
		slices.Sort(flips)
		res.FlipProbes = len(flips)
		res.FlipP50ms, res.FlipMaxMs = quantile(flips, 0.5), quantile(flips, 1)
	}
	if len(reads.list) > 0 {
		slices.Sort(reads.list)
		slices.Sort(reads.single)
		res.ListReads, res.ListChecks = len(reads.list), reads.listed
		res.ListP50ms, res.ListP99ms, res.ListMaxMs = quantile(reads.list, 0.5), quantile(reads.list, 0.99), quantile(reads.list, 1)
		res.SingleReads = len(reads.single)
		res.SingleP50ms, res.SingleP99ms, res.SingleMaxMs = quantile(reads.single, 0.5), quantile(reads.single, 0.99), quantile(reads.single, 1)
	}
	if len(probes) > 0 {
		slices.Sort(probes)
		res.VisibleProbes = len(probes)
		res.VisibleP50ms, res.VisibleP99ms, res.VisibleMaxMs = quantile(probes, 0.5), quantile(probes, 0.99), quantile(probes, 1)
	}
	after, err := partitionEnds(ctx, brokers, o.topic)
	if err != nil {
		return err
	}
	// The topic also carries clock ticks, probes and other traffic: count this run's
	// pings by reading what was appended during the run.
	if res.KafkaEvents, err = countPings(ctx, brokers, o.topic, before, after, checks); err != nil {
		return err
	}
	res.KafkaVerified = res.KafkaEvents == res.Acknowledged
	if o.jsonOut {
		return json.NewEncoder(stdout).Encode(res)
	}
	printLoad(stdout, res)
	fmt.Fprintf(stdout, "kafka: %d of this run's pings appended during the run; equals acknowledged: %v\n", res.KafkaEvents, res.KafkaVerified)
	if res.VisibleProbes > 0 {
		fmt.Fprintf(stdout, "ping visible through the API (%d probes): p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
			res.VisibleProbes, res.VisibleP50ms, res.VisibleP99ms, res.VisibleMaxMs)
	}
	if res.FlipProbes > 0 {
		fmt.Fprintf(stdout, "flip on the flips topic (%d probes): p50 %.1f ms, max %.1f ms\n", res.FlipProbes, res.FlipP50ms, res.FlipMaxMs)
	}
	if res.ListReads > 0 {
		fmt.Fprintf(stdout, "GET /api/v3/checks/ (%d reads of %d checks): p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
			res.ListReads, res.ListChecks, res.ListP50ms, res.ListP99ms, res.ListMaxMs)
		fmt.Fprintf(stdout, "GET /api/v3/checks/<uuid> (%d reads): p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
			res.SingleReads, res.SingleP50ms, res.SingleP99ms, res.SingleMaxMs)
	}
	if !res.KafkaVerified {
		return fmt.Errorf("kafka holds %d events for %d acknowledged pings", res.KafkaEvents, res.Acknowledged)
	}
	return nil
}

func createChecks(ctx context.Context, client *http.Client, o options) ([]string, error) {
	ids := make([]string, o.checks)
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range min(32, o.checks) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= o.checks || ctx.Err() != nil {
					return
				}
				body := fmt.Sprintf(`{"name": "load-%d", "tags": "load", "timeout": 60, "grace": 60}`, i)
				req, _ := http.NewRequestWithContext(ctx, "POST", o.apiURL+"/api/v3/checks/", strings.NewReader(body))
				req.Header.Set("X-Api-Key", o.apiKey)
				resp, err := client.Do(req)
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				var out struct {
					UUID  string `json:"uuid"`
					Error string `json:"error"`
				}
				_ = json.NewDecoder(resp.Body).Decode(&out)
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					once.Do(func() { firstErr = fmt.Errorf("creating a check: %d %s", resp.StatusCode, out.Error) })
					return
				}
				ids[i] = out.UUID
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return ids, ctx.Err()
}

// measure sends the measured pings: a burst, or a steady rate for o.duration.
func measure(ctx context.Context, o options, checks []string, kinds []kind) (result, error) {
	if o.burst > 0 {
		return burst(ctx, o, checks, kinds, o.burst)
	}
	return drive(ctx, o, checks, kinds, o.duration)
}

// pingMaker picks each ping's URL by the mix, and its method and body.
type pingMaker struct {
	checks, unknownChecks []string
	kinds                 []kind
	body                  []byte
}

func newPingMaker(o options, checks []string, kinds []kind) pingMaker {
	return pingMaker{checks: checks, unknownChecks: randomChecks(len(checks)), kinds: kinds, body: bytes.Repeat([]byte("x"), o.bodyBytes)}
}

// randomChecks returns n check UUIDs no check has.
func randomChecks(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = schemas.NewID().String()
	}
	return ids
}

func (m pingMaker) next(r *rand.Rand) (method, path string, body []byte) {
	k := pick(m.kinds, r)
	check := m.checks[r.IntN(len(m.checks))]
	if k.name == unknownKind {
		check = m.unknownChecks[r.IntN(len(m.unknownChecks))]
	}
	if len(m.body) > 0 {
		return "POST", "/ping/" + check + k.suffix(r), m.body
	}
	return "GET", "/ping/" + check + k.suffix(r), nil
}

// drive sends pings for d and measures them.
func drive(ctx context.Context, o options, checks []string, kinds []kind, d time.Duration) (result, error) {
	res := result{Checks: len(checks), Concurrency: o.concurrency, TargetRate: o.rate, ByStatus: map[string]int{}}
	start := time.Now().Add(50 * time.Millisecond)
	deadline := start.Add(d)
	// At a fixed rate, one schedule feeds every connection: a ping goes out at its time
	// on whichever connection is free, as independent cron jobs would send it, so one
	// slow response delays no other ping. Latency counts from the scheduled time.
	var schedule chan time.Time
	if o.rate > 0 {
		schedule = make(chan time.Time, 4096)
		interval := time.Second / time.Duration(o.rate)
		go func() {
			defer close(schedule)
			for t := start; t.Before(deadline); t = t.Add(interval) {
				select {
				case schedule <- t:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	pings := newPingMaker(o, checks, kinds)
	var mu sync.Mutex
	var latencies, services []time.Duration
	var wg sync.WaitGroup
	for w := range o.concurrency {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), uint64(start.UnixNano())))
			local := make([]time.Duration, 0, 1<<14)
			localService := make([]time.Duration, 0, 1<<14)
			codes := map[string]int{}
			conn, err := newPingConn(o.baseURL)
			if err != nil {
				panic(err) // the URL was validated before the run
			}
			defer conn.close()
			for ctx.Err() == nil {
				var scheduled time.Time
				if schedule != nil {
					t, ok := <-schedule
					if !ok {
						break
					}
					scheduled = t
					if wait := time.Until(scheduled); wait > 0 {
						time.Sleep(wait)
					}
				} else if scheduled = time.Now(); scheduled.After(deadline) {
					break
				}
				method, path, body := pings.next(r)
				code := "error"
				sent := time.Now()
				if status, err := conn.do(method, path, body); err == nil {
					code = strconv.Itoa(status)
				}
				local = append(local, time.Since(scheduled))
				localService = append(localService, time.Since(sent))
				codes[code]++
			}
			mu.Lock()
			latencies = append(latencies, local...)
			services = append(services, localService...)
			for c, n := range codes {
				res.ByStatus[c] += n
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	// Elapsed time, not the planned duration: a server that falls behind the schedule
	// stretches the run and must not get credit for the planned rate.
	res.Seconds = time.Since(start).Seconds()
	res.Sent = int64(len(latencies))
	res.Acknowledged = int64(res.ByStatus["200"])
	res.Throughput = float64(res.Acknowledged) / res.Seconds
	slices.Sort(latencies)
	slices.Sort(services)
	res.P50ms, res.P95ms, res.P99ms, res.MaxMs = quantile(latencies, 0.50), quantile(latencies, 0.95), quantile(latencies, 0.99), quantile(latencies, 1)
	res.ServiceP50ms, res.ServiceP99ms, res.ServiceMaxMs = quantile(services, 0.50), quantile(services, 0.99), quantile(services, 1)
	return res, ctx.Err()
}

// printLoad prints what drive measured.
func printLoad(stdout io.Writer, res result) {
	fmt.Fprintf(stdout, "checks %d, connections %d, target %d/s, measured %.1fs\n", res.Checks, res.Concurrency, res.TargetRate, res.Seconds)
	fmt.Fprintf(stdout, "sent %d, acknowledged (200) %d, by status %v\n", res.Sent, res.Acknowledged, res.ByStatus)
	fmt.Fprintf(stdout, "throughput %.0f acknowledged pings/s\n", res.Throughput)
	fmt.Fprintf(stdout, "latency from schedule: p50 %.2f ms, p95 %.2f ms, p99 %.2f ms, max %.2f ms\n", res.P50ms, res.P95ms, res.P99ms, res.MaxMs)
	fmt.Fprintf(stdout, "latency from send:     p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", res.ServiceP50ms, res.ServiceP99ms, res.ServiceMaxMs)
	if res.ConnectMaxMs > 0 {
		fmt.Fprintf(stdout, "connected after:       p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", res.ConnectP50ms, res.ConnectP99ms, res.ConnectMaxMs)
	}
}

// probeVisibility pings its own checks at o.visibility per second, and after each
// acknowledgement polls the API until the check's n_pings counts the ping.
func probeVisibility(ctx context.Context, client *http.Client, o options, checks []string, d time.Duration) ([]time.Duration, error) {
	interval := time.Second / time.Duration(o.visibility)
	deadline := time.Now().Add(d)
	var out []time.Duration
	nPings := map[string]float64{}
	for i := 0; time.Now().Before(deadline) && ctx.Err() == nil; i++ {
		id := checks[i%len(checks)]
		start := time.Now()
		resp, err := client.Get(o.baseURL + "/ping/" + id)
		if err != nil {
			return nil, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			continue
		}
		acked := time.Now()
		want := nPings[id] + 1
		for time.Since(acked) < 10*time.Second {
			req, _ := http.NewRequestWithContext(ctx, "GET", o.apiURL+"/api/v3/checks/"+id, nil)
			req.Header.Set("X-Api-Key", o.apiKey)
			resp, err := client.Do(req)
			if err != nil {
				return nil, err
			}
			var body struct {
				NPings float64 `json:"n_pings"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if body.NPings >= want {
				nPings[id] = body.NPings
				out = append(out, time.Since(acked))
				break
			}
			time.Sleep(2 * time.Millisecond)
		}
		if wait := interval - time.Since(start); wait > 0 {
			time.Sleep(wait)
		}
	}
	return out, nil
}

// apiReads are the latencies of the API reads made during a run.
type apiReads struct {
	list, single []time.Duration
	listed       int
}

// readAPI reads through the API at o.apiReads per second for d, alternating the
// project's check list and a single check, each timed to the last byte of its body.
func readAPI(ctx context.Context, client *http.Client, o options, checks []string, d time.Duration) (apiReads, error) {
	var out apiReads
	interval := time.Second / time.Duration(o.apiReads)
	deadline := time.Now().Add(d)
	// One buffer for each kind of read: growing a fresh one to ten megabytes for each
	// list would time the load tool's copying as much as the API.
	var listBody, singleBody bytes.Buffer
	for i := 0; time.Now().Before(deadline) && ctx.Err() == nil; i++ {
		start := time.Now()
		path, body := "/api/v3/checks/", &listBody
		if i%2 == 1 {
			path, body = path+checks[(i/2)%len(checks)], &singleBody
		}
		req, _ := http.NewRequestWithContext(ctx, "GET", o.apiURL+path, nil)
		req.Header.Set("X-Api-Key", o.apiKey)
		resp, err := client.Do(req)
		if err != nil {
			return out, err
		}
		body.Reset()
		_, err = body.ReadFrom(resp.Body)
		resp.Body.Close()
		took := time.Since(start)
		if err != nil {
			return out, err
		}
		if resp.StatusCode != http.StatusOK {
			return out, fmt.Errorf("GET %s: %d %s", path, resp.StatusCode, body.Bytes())
		}
		if i%2 == 1 {
			out.single = append(out.single, took)
		} else {
			out.list = append(out.list, took)
		}
		if wait := interval - time.Since(start); wait > 0 {
			time.Sleep(wait)
		}
	}
	// Decoding a list of ten thousand checks takes about 90 ms of CPU: at five lists a
	// second that is half a core taken from the service on the same box. So only the
	// last list is decoded, once the reads are over.
	if len(out.list) > 0 {
		var list struct {
			Checks []json.RawMessage `json:"checks"`
		}
		if err := json.Unmarshal(listBody.Bytes(), &list); err != nil {
			return out, fmt.Errorf("GET /api/v3/checks/: %w", err)
		}
		out.listed = len(list.Checks)
	}
	return out, nil
}

// quantile returns the q-quantile of sorted durations in milliseconds.
func quantile(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return float64(sorted[int(q*float64(len(sorted)-1))].Microseconds()) / 1000
}

// partitionEnds returns the end offset of every partition of topic.
func partitionEnds(ctx context.Context, brokers []string, topic string) (map[int]int64, error) {
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second, Transport: &kafka.Transport{}}
	meta, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, fmt.Errorf("reading metadata: %w", err)
	}
	var reqs []kafka.OffsetRequest
	for _, t := range meta.Topics {
		for _, p := range t.Partitions {
			reqs = append(reqs, kafka.LastOffsetOf(p.ID))
		}
	}
	if len(reqs) == 0 {
		return nil, fmt.Errorf("topic %s has no partitions", topic)
	}
	resp, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return nil, fmt.Errorf("listing offsets: %w", err)
	}
	ends := map[int]int64{}
	for _, p := range resp.Topics[topic] {
		if p.Error != nil {
			return nil, fmt.Errorf("offsets of partition %d: %w", p.Partition, p.Error)
		}
		ends[p.Partition] = p.LastOffset
	}
	return ends, nil
}

// countPings reads the records appended between before and after and counts the
// PingReceived events for checks.
func countPings(ctx context.Context, brokers []string, topic string, before, after map[int]int64, checks []string) (int64, error) {
	ours := map[string]bool{}
	for _, c := range checks {
		ours[c] = true
	}
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 30 * time.Second, Transport: &kafka.Transport{}}
	var n int64
	for partition, end := range after {
		for offset := before[partition]; offset < end; {
			resp, err := client.Fetch(ctx, &kafka.FetchRequest{Topic: topic, Partition: partition, Offset: offset, MinBytes: 1, MaxBytes: 16 << 20, MaxWait: time.Second})
			if err == nil {
				err = resp.Error
			}
			if err != nil {
				return 0, fmt.Errorf("reading %s/%d at %d: %w", topic, partition, offset, err)
			}
			progressed := false
			for {
				r, err := resp.Records.ReadRecord()
				if err != nil {
					break
				}
				if r.Offset < offset || r.Offset >= end {
					continue
				}
				offset, progressed = r.Offset+1, true
				value, err := io.ReadAll(r.Value)
				if err != nil {
					return 0, err
				}
				ev, err := schemas.Decode(value)
				if err != nil {
					continue
				}
				if _, ok := ev.Body.(schemas.PingReceived); ok && ours[ev.CheckID.String()] {
					n++
				}
			}
			if !progressed {
				return 0, fmt.Errorf("reading %s/%d stalled at %d of %d", topic, partition, offset, end)
			}
		}
	}
	return n, nil
}
