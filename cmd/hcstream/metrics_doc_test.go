package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hcstream/hcstream/ingest"
	"github.com/hcstream/hcstream/projector"
	"github.com/hcstream/hcstream/query"
	"github.com/hcstream/hcstream/schemas/kafkarec"
)

// describedNames records the name of every metric a collector registered through it
// describes, vectors without children included (a scrape would leave those out).
type describedNames struct {
	*prometheus.Registry
	names map[string]bool
}

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

func (d describedNames) Register(c prometheus.Collector) error {
	descs := make(chan *prometheus.Desc)
	go func() {
		c.Describe(descs)
		close(descs)
	}()
	for desc := range descs {
		if m := fqName.FindStringSubmatch(desc.String()); m != nil {
			d.names[m[1]] = true
		}
	}
	return d.Registry.Register(c)
}

func (d describedNames) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := d.Register(c); err != nil {
			panic(err)
		}
	}
}

// registeredMetrics is every metric name a process of any role can export.
func registeredMetrics(t *testing.T) map[string]bool {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := describedNames{Registry: prometheus.NewRegistry(), names: map[string]bool{}}
	reg.MustRegister(runtimeCollectors()...)
	newServer(nil, logger, reg, time.Minute, time.Minute, newConnectionCap(nil, 1, reg))
	ingest.New(ingest.Config{}, logger, reg, nil, nil, time.Now)
	registerProducerMetrics(reg, kafkarec.NewProducer([]string{"127.0.0.1:9"}, "events", 1))
	registerRegistryMetrics(reg, ingest.NewRegistry([]string{"127.0.0.1:9"}, "registry", logger))
	registerProjectorProducerMetrics(reg, map[string]*kafkarec.Producer{"registry": kafkarec.NewProducer([]string{"127.0.0.1:9"}, "registry", 0),
		"flips": kafkarec.NewProducer([]string{"127.0.0.1:9"}, "flips", 0)})
	query.New(query.Config{}, logger, reg, nil, nil, time.Now)
	cfg := projector.Config{Brokers: []string{"127.0.0.1:9"}}
	if _, err := projector.New(cfg, logger, reg, nil, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := projector.NewFollower(cfg, logger, reg, nil); err != nil {
		t.Fatal(err)
	}
	return reg.names
}

// exported is whether a series name used in a query is one a process exports: a
// metric, or a histogram's bucket, count or sum series.
func exported(registered map[string]bool, series string) bool {
	if registered[series] {
		return true
	}
	for _, suffix := range []string{"_bucket", "_count", "_sum"} {
		if base, ok := strings.CutSuffix(series, suffix); ok && registered[base] {
			return true
		}
	}
	return false
}

var ourSeries = regexp.MustCompile(`\b(?:hcstream|go|process)_[a-z0-9_]*[a-z0-9]\b`)

// Every series the Grafana dashboard queries is one hcstream exports: a renamed metric
// would otherwise leave a panel silently empty.
func TestDashboardQueriesExportedMetrics(t *testing.T) {
	registered := registeredMetrics(t)
	raw, err := os.ReadFile("../../deploy/grafana/dashboards/hcstream.json")
	if err != nil {
		t.Fatal(err)
	}
	var dashboard any
	if err := json.Unmarshal(raw, &dashboard); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	var queries []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for key, value := range v {
				if s, ok := value.(string); ok && (key == "expr" || key == "query" || key == "definition") {
					queries = append(queries, s)
				}
				walk(value)
			}
		case []any:
			for _, value := range v {
				walk(value)
			}
		}
	}
	walk(dashboard)
	if len(queries) < 20 {
		t.Fatalf("found %d queries in the dashboard; the walk is broken", len(queries))
	}
	for _, q := range queries {
		for _, series := range ourSeries.FindAllString(q, -1) {
			if !exported(registered, series) {
				t.Errorf("the dashboard queries %s, which no hcstream process exports (in %q)", series, q)
			}
		}
	}
}

// Every series the alerting rules watch is one hcstream exports: a renamed metric would
// otherwise leave an alert that never fires. The checks' hc_ series come from the
// Healthchecks endpoint, which writes its text by hand (query/prometheus.go).
func TestAlertsWatchExportedMetrics(t *testing.T) {
	registered := registeredMetrics(t)
	rules, err := os.ReadFile("../../deploy/prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	endpoint, err := os.ReadFile("../../query/prometheus.go")
	if err != nil {
		t.Fatal(err)
	}
	watched := ourSeries.FindAllString(string(rules), -1)
	if len(watched) < 10 {
		t.Fatalf("found %d hcstream series in the alerting rules; the search is broken", len(watched))
	}
	for _, series := range watched {
		if !exported(registered, series) {
			t.Errorf("an alerting rule watches %s, which no hcstream process exports", series)
		}
	}
	for _, series := range regexp.MustCompile(`\bhc_[a-z_]+\b`).FindAllString(string(rules), -1) {
		if !strings.Contains(string(endpoint), `"`+series) {
			t.Errorf("an alerting rule watches %s, which the Healthchecks endpoint does not write", series)
		}
	}
}

// README's metrics table documents every hcstream metric, and the docs name no metric
// that does not exist. A query role's own fold exports the projector's metrics under
// hcstream_query_live_, which README documents as a family.
func TestDocsNameTheExportedMetrics(t *testing.T) {
	registered := registeredMetrics(t)
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	k8s, err := os.ReadFile("../../deploy/k8s/README.md")
	if err != nil {
		t.Fatal(err)
	}
	for name := range registered {
		if !strings.HasPrefix(name, "hcstream_") {
			continue
		}
		documented := strings.Contains(string(readme), "`"+name)
		if rest, ok := strings.CutPrefix(name, "hcstream_query_live_"); ok && !documented {
			documented = registered["hcstream_projector_"+rest] && strings.Contains(string(readme), "`hcstream_query_live_*`")
		}
		if !documented {
			t.Errorf("README does not document the metric %s", name)
		}
	}
	metricLike := regexp.MustCompile(`\bhcstream_(?:ingest|projector|query_live|api)_[a-z0-9_]*[a-z0-9]\b`)
	for doc, text := range map[string][]byte{"README.md": readme, "deploy/k8s/README.md": k8s} {
		var unknown []string
		for _, series := range metricLike.FindAllString(string(text), -1) {
			if !exported(registered, series) && !slices.Contains(unknown, series) {
				unknown = append(unknown, series)
			}
		}
		if len(unknown) > 0 {
			t.Errorf("%s names metrics no process exports: %v", doc, unknown)
		}
	}
}
