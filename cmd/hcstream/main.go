// Command hcstream runs the roles of the hcstream service (ingest, projector, query) in
// one process or separately, migrates the stores and manages projects.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"os"
	"os/signal"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // check time zones must resolve on hosts without zoneinfo

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"github.com/hcstream/hcstream/ingest"
	"github.com/hcstream/hcstream/ingest/errorpage"
	"github.com/hcstream/hcstream/projector"
	"github.com/hcstream/hcstream/projector/history"
	"github.com/hcstream/hcstream/query"
	"github.com/hcstream/hcstream/query/status"
	"github.com/hcstream/hcstream/query/store"
	chschema "github.com/hcstream/hcstream/schemas/clickhouse"
	"github.com/hcstream/hcstream/schemas/kafkarec"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `usage: hcstream [all|ingest|projector|query|migrate|replay|backfill-rollups|version|project create --name NAME] [flags]

Roles (default all):
  all        ingest + projector + query in one process
  ingest     ping endpoints only
  projector  consume events, write ClickHouse
  query      Management API only
Commands:
  migrate                       create Kafka topics and apply ClickHouse migrations
  replay --into DB              rebuild history from the whole log into another database
  backfill-rollups              fill the hourly rollups for pings stored before they existed
  project create --name NAME    create a project, print its keys once as JSON
  version                       print the version
Flags: --listen, --kafka-brokers, --clickhouse-addr, --clickhouse-database
Configuration: HC_* environment variables, see README.
`

// defaultGCPercent replaces Go's 100 when GOGC is unset. The heap of a busy ingest is
// small and short-lived, so collecting four times less often costs little memory and
// buys a large share of the CPU on the ping path (measured in README's Performance).
const defaultGCPercent = 400

// containerMemoryShare is the share of a container's memory limit the Go heap is held
// to when GOMEMLIMIT is unset: with the GC percent above, the heap would otherwise grow
// to five times what is live before a collection, and the container be killed instead.
const containerMemoryShare = 0.9

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		if limit := containerMemoryLimit(os.ReadFile); limit > 0 {
			debug.SetMemoryLimit(int64(float64(limit) * containerMemoryShare))
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// containerMemoryLimit is the memory limit of the process's cgroup (version 2, else
// version 1), or 0 when there is none.
func containerMemoryLimit(readFile func(string) ([]byte, error)) int64 {
	for _, path := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		raw, err := readFile(path)
		if err != nil {
			continue
		}
		// "max" (version 2) and a number near the largest int64 (version 1) mean none.
		limit, err := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64)
		if err != nil || limit <= 0 || limit >= 1<<60 {
			return 0
		}
		return limit
	}
	return 0
}

// run is the whole program, callable from tests with their own context and environment.
func run(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) int {
	if len(args) > 0 && slices.Contains([]string{"help", "-h", "-help", "--help"}, args[0]) {
		fmt.Fprint(stdout, usage)
		return 0
	}
	role := "all"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		role, args = args[0], args[1:]
	}
	switch role {
	case "version":
		fmt.Fprintln(stdout, "hcstream", version)
		return 0
	case "project":
		if len(args) == 0 || args[0] != "create" {
			fmt.Fprint(stderr, usage)
			return 2
		}
		args = args[1:]
	case "all", "ingest", "projector", "query", "migrate", "replay", "backfill-rollups":
	default:
		fmt.Fprintf(stderr, "hcstream: unknown command %q\n\n%s", role, usage)
		return 2
	}
	fs := flag.NewFlagSet("hcstream "+role, flag.ContinueOnError)
	name, into := "", ""
	switch role {
	case "project":
		fs.StringVar(&name, "name", "", "project name (required)")
	case "replay":
		fs.StringVar(&into, "into", "", "ClickHouse database to rebuild (required; not the live one)")
	}
	cfg, err := loadConfig(fs, args, env, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "hcstream:", err)
		return 2
	}
	level := cfg.LogLevel
	if role == "project" || role == "migrate" || role == "replay" || role == "backfill-rollups" {
		// One-shot commands print their result; their progress logs would only be noise.
		level = max(level, slog.LevelWarn)
	}
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))
	switch role {
	case "project":
		if name == "" {
			fmt.Fprintln(stderr, "hcstream: project create needs --name")
			return 2
		}
		return createProject(ctx, cfg, name, logger, stdout, stderr)
	case "replay":
		return replay(ctx, cfg, into, logger, stdout, stderr)
	case "backfill-rollups":
		return backfillRollups(ctx, cfg, stdout, stderr)
	case "migrate":
		conn, err := openClickHouse(cfg)
		if err != nil {
			fmt.Fprintln(stderr, "hcstream:", err)
			return 1
		}
		defer conn.Close()
		if err := migrate(ctx, cfg, conn, logger); err != nil {
			fmt.Fprintln(stderr, "hcstream: migrate:", err)
			return 1
		}
		return 0
	}
	if err := serve(ctx, cfg, role, logger); err != nil {
		logger.Error("stopped", "err", err)
		return 1
	}
	logger.Info("stopped")
	return 0
}

func openClickHouse(cfg config) (driver.Conn, error) {
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:             []string{cfg.ClickHouseAddr},
		Protocol:         clickhouse.Native,
		Auth:             clickhouse.Auth{Username: cfg.ClickHouseUser, Password: cfg.ClickHousePassword},
		Compression:      &clickhouse.Compression{Method: clickhouse.CompressionLZ4},
		DialTimeout:      2 * time.Second,
		ReadTimeout:      30 * time.Second,
		MaxOpenConns:     16,
		MaxIdleConns:     8,
		ConnMaxLifetime:  time.Hour,
		ConnOpenStrategy: clickhouse.ConnOpenInOrder,
	})
	if err != nil {
		return nil, fmt.Errorf("configuring ClickHouse client: %w", err)
	}
	return conn, nil
}

// newRouter matches paths as they come, and answers those it does not know with Django's
// 404 page. Healthchecks answers a path with an empty or a dot segment 404 (an API base
// URL given with a trailing slash makes /api/v3//checks/); mux would clean it and
// redirect with 301, which clients follow with a GET, so a POST or a DELETE would
// silently do nothing.
func newRouter() *mux.Router {
	router := mux.NewRouter().SkipClean(true)
	router.NotFoundHandler = errorpage.NotFoundHandler
	return router
}

// idleConnTimeout closes keep-alive connections left idle. It is longer than the minute
// load balancers commonly keep an idle connection, so they close theirs first and never
// send a request on a connection being closed.
const idleConnTimeout = 2 * time.Minute

// newServer serves handler, bounding what one connection may hold: a client trickling
// its headers or body would keep a goroutine and its buffers for good, and so would an
// idle keep-alive connection. A request must arrive within requestTimeout, and its
// answer be written within as long again.
func newServer(handler http.Handler, logger *slog.Logger, reg prometheus.Registerer, requestTimeout, idleTimeout time.Duration, connections *connectionCap) *http.Server {
	open := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "hcstream_http_open_connections", Help: "Client connections open, busy or idle.",
	})
	if reg != nil {
		reg.MustRegister(open)
	}
	return &http.Server{
		Handler: handler,
		ConnState: func(conn net.Conn, state http.ConnState) {
			connections.connState(conn, state)
			switch state {
			case http.StateNew:
				open.Inc()
			case http.StateClosed, http.StateHijacked:
				open.Dec()
			}
		},
		ReadHeaderTimeout: min(10*time.Second, requestTimeout),
		ReadTimeout:       requestTimeout,
		// The write deadline is set when the headers have been read, so it also covers
		// reading the body and handling the request.
		WriteTimeout: 2 * requestTimeout,
		IdleTimeout:  idleTimeout,
		ErrorLog:     slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// runtimeCollectors are the Go runtime's and the process's metrics. The Go run queue is
// a queue too: how long goroutines wait for a processor is the part of a request's
// latency that the handlers' own timings do not see.
func runtimeCollectors() []prometheus.Collector {
	return []prometheus.Collector{
		collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(
			collectors.GoRuntimeMetricsRule{Matcher: regexp.MustCompile(`^/sched/latencies:seconds$`)})),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	}
}

// serve runs the chosen roles until ctx ends, then shuts down in reverse order of start:
// HTTP first (drains in-flight pings), then the Kafka writer, then the projector.
func serve(ctx context.Context, cfg config, role string, logger *slog.Logger) error {
	has := func(r string) bool { return role == "all" || role == r }
	logger.Info("starting", "role", role, "version", version, "memory_limit", debug.SetMemoryLimit(-1), "settings", slog.GroupValue(cfg.Settings...))

	// The address is taken before anything else starts: a second process started on a
	// busy address by mistake must fail without having joined the projectors' consumer
	// group, which would take partitions from the process already serving.
	listener, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.Listen, err)
	}
	defer listener.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(runtimeCollectors()...)
	conn, err := openClickHouse(cfg)
	if err != nil {
		return err
	}
	defer conn.Close()

	probeClient := &kafka.Client{Addr: kafka.TCP(cfg.KafkaBrokers...), Timeout: time.Second, Transport: &kafka.Transport{DialTimeout: time.Second}}
	var components []status.Component
	if has("ingest") || has("query") || has("projector") {
		components = append(components, status.Component{Name: "kafka", Checker: status.CheckerFunc(func(ctx context.Context) error {
			_, err := probeClient.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{cfg.EventsTopic}})
			return err
		})})
	}
	if has("query") || has("projector") {
		components = append(components, status.Component{Name: "clickhouse", Checker: status.CheckerFunc(conn.Ping)})
	}
	statusSvc := status.New(status.Config{Log: logger}, time.Now)

	router := newRouter()
	for v := 1; v <= 3; v++ {
		p := fmt.Sprintf("/api/v%d/status", v)
		router.Handle(p+"/", statusSvc)
		router.Handle(p, statusSvc)
	}
	router.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	if cfg.Pprof {
		router.HandleFunc("/debug/pprof/profile", pprof.Profile)
		router.HandleFunc("/debug/pprof/trace", pprof.Trace)
		router.PathPrefix("/debug/pprof/").HandlerFunc(pprof.Index)
	}
	router.HandleFunc("/livez", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "OK") })

	g, gctx := errgroup.WithContext(ctx)
	// Topics and tables are created in the background and retried, so the process serves
	// its status endpoint (503) while Kafka or ClickHouse is still unreachable. Ingest
	// waits for Kafka only; the projector waits for both.
	kafkaReady := bootstrap(gctx, g, logger, "Kafka topics", func(ctx context.Context) error { return createTopics(ctx, cfg, logger) })
	storeReady := kafkaReady
	if has("query") || has("projector") {
		storeReady = bootstrap(gctx, g, logger, "ClickHouse migrations", func(ctx context.Context) error {
			_, err := chschema.Migrate(ctx, conn, cfg.ClickHouseDatabase)
			return err
		})
	}
	after := func(ready ...<-chan struct{}) func(f func() error) {
		return func(f func() error) {
			g.Go(func() error {
				for _, r := range ready {
					select {
					case <-gctx.Done():
						return nil
					case <-r:
					}
				}
				return f()
			})
		}
	}

	var pingProducer *kafkarec.Producer
	var pings http.Handler
	var ingestRegistry query.RegistrySyncer
	if has("ingest") {
		registry := ingest.NewRegistry(cfg.KafkaBrokers, cfg.RegistryTopic, logger)
		ingestRegistry = registry
		registerRegistryMetrics(reg, registry)
		after(kafkaReady)(func() error { return registry.Run(gctx) })
		components = append(components, status.Component{Name: "registry", Checker: status.CheckerFunc(func(context.Context) error {
			if !registry.Ready() {
				return status.Reason("check registry has not caught up with Kafka yet")
			}
			return nil
		})})
		pingProducer = kafkarec.NewProducer(cfg.KafkaBrokers, cfg.EventsTopic, cfg.ProduceRequests).WithSpacing(cfg.ProduceSpacing)
		registerProducerMetrics(reg, pingProducer)
		ticker := ingest.NewTicker(pingProducer, cfg.TickInterval, time.Now, logger)
		after(kafkaReady)(func() error { return ticker.Run(gctx) })
		in := ingest.New(ingest.Config{BodyLimit: cfg.PingBodyLimit, PublishTimeout: cfg.PublishTimeout, TrustedProxies: cfg.TrustedProxies,
			CheckLimit: cfg.CheckLimit},
			logger, reg, registry, pingProducer, time.Now)
		pings = in.Handler(cfg.PingPrefix)
	}
	var live query.LiveChecks
	if has("projector") {
		// The partitions' flushes publish concurrently; the producers merge what arrives
		// while a request is out into one request per leader.
		registryWriter := kafkarec.NewProducer(cfg.KafkaBrokers, cfg.RegistryTopic, 0)
		defer registryWriter.Close()
		flipsWriter := kafkarec.NewProducer(cfg.KafkaBrokers, cfg.FlipsTopic, 0)
		defer flipsWriter.Close()
		registerProjectorProducerMetrics(reg, map[string]*kafkarec.Producer{"registry": registryWriter, "flips": flipsWriter})
		store := history.NewClickHouse(conn, cfg.ClickHouseDatabase)
		proj, err := projector.New(projector.Config{Brokers: cfg.KafkaBrokers, Topics: kafkarec.Topics{Events: cfg.EventsTopic, Registry: cfg.RegistryTopic, Flips: cfg.FlipsTopic},
			GroupID: cfg.ProjectorGroup, BatchSize: cfg.BatchSize, FlushInterval: cfg.FlushInterval, OutageWindow: cfg.OutageWindow}, logger, reg,
			history.NewCoalescer(store, cfg.WriteInterval, 0), store, registryWriter, flipsWriter)
		if err != nil {
			return err
		}
		after(kafkaReady, storeReady)(func() error { return proj.Run(gctx) })
		live = proj
	}
	if has("query") && live == nil && cfg.QueryLive {
		stored := history.NewClickHouse(conn, cfg.ClickHouseDatabase)
		follower, err := projector.NewFollower(projector.Config{Brokers: cfg.KafkaBrokers, Topics: kafkarec.Topics{Events: cfg.EventsTopic},
			GroupID: cfg.ProjectorGroup, OutageWindow: cfg.OutageWindow}, logger, reg, stored)
		if err != nil {
			return err
		}
		budget := liveCheckBudget(debug.SetMemoryLimit(-1))
		after(kafkaReady, storeReady)(func() error { return followWithinBudget(gctx, follower, stored, budget, time.Minute, logger) })
		live = follower
	}
	if has("query") {
		var reads query.Store = store.NewClickHouse(conn, cfg.ClickHouseDatabase)
		if live != nil {
			reads = query.WithLiveChecks(reads, live)
		}
		api := query.New(query.Config{SiteRoot: cfg.SiteRoot, PingEndpoint: cfg.SiteRoot + cfg.PingPrefix, WriteWait: cfg.WriteWait, ListCacheBytes: cfg.ListCacheMiB << 20,
			CheckLimit: cfg.CheckLimit, PingBodyLimit: cfg.PingBodyLimit, BadgeLabel: cfg.BadgeLabel, IngestRegistry: ingestRegistry},
			logger, reg, reads, query.NewKafkaAppender(cfg.KafkaBrokers, cfg.EventsTopic), time.Now)
		api.Register(router)
	}

	statusSvc.SetComponents(components...)
	handler := http.Handler(router)
	switch {
	case pings != nil && cfg.PingPrefix == "/":
		// Pings at the root take every path the API, status and metrics routes do not.
		router.NotFoundHandler = pings
	case pings != nil:
		// Pings are the hot path: they skip the router's pattern matching.
		handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, cfg.PingPrefix) {
				pings.ServeHTTP(w, r)
				return
			}
			router.ServeHTTP(w, r)
		})
	}
	handler = underSitePath(handler, sitePath(cfg.SiteRoot))
	connections := newConnectionCap(listener, maxConnections(cfg.MaxConnections, debug.SetMemoryLimit(-1)), reg)
	server := newServer(handler, logger, reg, cfg.RequestTimeout, idleConnTimeout, connections)
	g.Go(func() error {
		logger.Info("listening", "listen", listener.Addr().String())
		if err := server.Serve(connections); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(gctx), cfg.ShutdownTimeout)
		defer cancel()
		logger.Info("shutting down")
		err := server.Shutdown(shutdownCtx)
		if pingProducer != nil {
			// Shutdown waited for every in-flight ping, so nothing acknowledged is
			// pending; Close waits for the produce request still out, if any.
			err = errors.Join(err, pingProducer.Close())
		}
		return err
	})
	return g.Wait()
}

// bootstrap retries setup in the background until it succeeds and returns a channel
// closed then.
func bootstrap(ctx context.Context, g *errgroup.Group, logger *slog.Logger, what string, setup func(context.Context) error) <-chan struct{} {
	ready := make(chan struct{})
	g.Go(func() error {
		for {
			err := setup(ctx)
			if err == nil {
				logger.Info(what+" ready", "component", "bootstrap")
				close(ready)
				return nil
			}
			logger.Warn("waiting for "+what, "component", "bootstrap", "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(2 * time.Second):
			}
		}
	})
	return ready
}

// sitePath is the path of siteRoot without its trailing slash: "/hc" for
// "https://example.org/hc/", "" for a root.
func sitePath(siteRoot string) string {
	u, err := url.Parse(siteRoot)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(u.Path, "/")
}

// underSitePath serves h under prefix, the path of HC_SITE_ROOT: Healthchecks mounts
// every route there, and the URLs in API responses point there. A request outside it
// is served as it comes, so a proxy that strips the path keeps working.
func underSitePath(h http.Handler, prefix string) http.Handler {
	if prefix == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, prefix)
		if !ok || rest != "" && rest[0] != '/' {
			h.ServeHTTP(w, r)
			return
		}
		inner := *r
		u := *r.URL
		u.Path, u.RawPath = rest, ""
		if u.Path == "" {
			u.Path = "/"
		}
		inner.URL = &u
		h.ServeHTTP(w, &inner)
	})
}

// registerRegistryMetrics exports how many requests for the registry topic's end
// ingest's registry sent.
func registerRegistryMetrics(reg prometheus.Registerer, registry *ingest.Registry) {
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "hcstream_ingest_registry_end_probes_total",
		Help: "Requests for the registry topic's end, sent for pings of checks the registry does not know (at most one per 5 ms)."},
		func() float64 { return float64(registry.EndProbes()) }))
}

// registerProducerMetrics exports how many produce requests ingest's producer sent and
// the records they carried.
func registerProducerMetrics(reg prometheus.Registerer, producer *kafkarec.Producer) {
	reg.MustRegister(producerCounters("hcstream_ingest", nil, producer,
		"Produce requests ingest sent to Kafka, one per partition leader per batch.",
		"Records ingest sent to Kafka in produce requests (pings and clock ticks), counting records sent again.")...)
}

// registerProjectorProducerMetrics counts the produce requests of the projector's
// producers, by the topic they write: the registry's records and the flips leave as each
// batch is folded, so a busy projector sends them often.
func registerProjectorProducerMetrics(reg prometheus.Registerer, byTopic map[string]*kafkarec.Producer) {
	for topic, producer := range byTopic {
		reg.MustRegister(producerCounters("hcstream_projector", prometheus.Labels{"topic": topic}, producer,
			"Produce requests the projector sent to Kafka, one per partition leader per batch, by topic (registry, flips).",
			"Records the projector sent to Kafka in produce requests, by topic (registry, flips), counting records sent again.")...)
	}
}

// producerCounters are a producer's <prefix>_produce_requests_total and
// <prefix>_produce_records_total, read from it when scraped.
func producerCounters(prefix string, labels prometheus.Labels, producer *kafkarec.Producer, requestsHelp, recordsHelp string) []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: prefix + "_produce_requests_total", Help: requestsHelp, ConstLabels: labels},
			func() float64 { requests, _ := producer.Sent(); return float64(requests) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: prefix + "_produce_records_total", Help: recordsHelp, ConstLabels: labels},
			func() float64 { _, records := producer.Sent(); return float64(records) }),
	}
}
