package query

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/hcstream/hcstream/projector/history"
	"github.com/hcstream/hcstream/schemas"
)

// metricsPath is the metrics URL, but for the key, of the test API's project.
var metricsPath = "/projects/" + schemas.ID{1}.String() + "/metrics/"

func createForMetrics(t *testing.T, r http.Handler, body string) schemas.ID {
	t.Helper()
	rec := call(r, "POST", "/api/v3/checks/", rwKey, body)
	var c struct{ UUID string }
	if err := json.Unmarshal(rec.Body.Bytes(), &c); err != nil || rec.Code != http.StatusCreated {
		t.Fatalf("creating %s: %d %s", body, rec.Code, rec.Body)
	}
	return mustParseID(t, c.UUID)
}

// A project of one check is scraped as Healthchecks writes it, byte for byte.
func TestProjectMetricsText(t *testing.T) {
	r, _ := newTestAPI(t)
	id := createForMetrics(t, r, `{"name": "Alice Was Here", "tags": "foo"}`)
	rec := call(r, "GET", metricsPath+roKey, "", "")
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "text/plain" {
		t.Fatalf("%d %v", rec.Code, rec.Header())
	}
	labels := `{name="Alice Was Here", tags="foo", unique_key="` + uniqueKey(id) + `"}`
	want := "# HELP hc_check_up Whether the check is currently up (1 for yes, 0 for no).\n" +
		"# TYPE hc_check_up gauge\n" +
		"hc_check_up" + labels + " 1\n" +
		"\n" +
		"# HELP hc_check_started Whether the check is currently started (1 for yes, 0 for no).\n" +
		"# TYPE hc_check_started gauge\n" +
		"hc_check_started" + labels + " 0\n" +
		"\n" +
		"# HELP hc_check_grace Whether the check is currently in the grace period (1 for yes, 0 for no).\n" +
		"# TYPE hc_check_grace gauge\n" +
		"hc_check_grace" + labels + " 0\n" +
		"\n" +
		"# HELP hc_check_paused Whether the check is currently paused (1 for yes, 0 for no).\n" +
		"# TYPE hc_check_paused gauge\n" +
		"hc_check_paused" + labels + " 0\n" +
		"\n" +
		"# HELP hc_tag_up Whether all checks with this tag are up (1 for yes, 0 for no).\n" +
		"# TYPE hc_tag_up gauge\n" +
		"hc_tag_up{tag=\"foo\"} 1\n" +
		"\n" +
		"# HELP hc_checks_total The total number of checks.\n" +
		"# TYPE hc_checks_total gauge\n" +
		"hc_checks_total 1\n" +
		"\n" +
		"# HELP hc_checks_down_total The number of checks currently down.\n" +
		"# TYPE hc_checks_down_total gauge\n" +
		"hc_checks_down_total 0\n"
	if got := rec.Body.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

// Each check's state, its tags' and the project's counts, with label values escaped.
func TestProjectMetricsStates(t *testing.T) {
	r, log := newTestAPI(t)
	ids := map[string]schemas.ID{}
	for name, body := range map[string]string{
		"down":    `{"name": "down", "tags": "db prod"}`,
		"grace":   `{"name": "grace", "tags": "prod", "timeout": 600, "grace": 600}`,
		"paused":  `{"name": "paused"}`,
		"started": `{"name": "started", "tags": "web"}`,
		"escaped": `{"name": "Line 1\nLine \"2\" \\", "tags": "A\\C"}`,
	} {
		ids[name] = createForMetrics(t, r, body)
	}
	deleted := createForMetrics(t, r, `{"name": "deleted", "tags": "gone"}`)
	if rec := call(r, "DELETE", "/api/v3/checks/"+deleted.String(), rwKey, ""); rec.Code != http.StatusOK {
		t.Fatalf("delete: %d", rec.Code)
	}
	log.mu.Lock()
	for name, change := range map[string]func(row *history.CheckRow){
		"down": func(row *history.CheckRow) { row.State.Status = schemas.StatusDown },
		"grace": func(row *history.CheckRow) {
			row.State.Status, row.State.LastPing = schemas.StatusUp, testNow.Add(-15*time.Minute)
		},
		"paused":  func(row *history.CheckRow) { row.State.Status = schemas.StatusPaused },
		"started": func(row *history.CheckRow) { row.State.LastStart = testNow.Add(-time.Minute) },
	} {
		row := log.checks[ids[name]]
		change(&row)
		log.checks[ids[name]] = row
	}
	log.mu.Unlock()

	body := call(r, "GET", metricsPath+roKey, "", "").Body.String()
	line := func(metric, name string, value int) string {
		return metric + `{name="` + name + `", tags="` + map[string]string{"down": "db prod", "grace": "prod", "started": "web"}[name] +
			`", unique_key="` + uniqueKey(ids[name]) + `"} ` + string(rune('0'+value)) + "\n"
	}
	for _, want := range []string{
		line("hc_check_up", "down", 0), line("hc_check_up", "grace", 1), line("hc_check_up", "paused", 1),
		line("hc_check_grace", "grace", 1), line("hc_check_grace", "down", 0),
		line("hc_check_paused", "paused", 1), line("hc_check_paused", "started", 0),
		line("hc_check_started", "started", 1), line("hc_check_started", "down", 0),
		`hc_check_up{name="Line 1\nLine \"2\" \\", tags="A\\C", unique_key="` + uniqueKey(ids["escaped"]) + `"} 1` + "\n",
		"hc_tag_up{tag=\"A\\\\C\"} 1\nhc_tag_up{tag=\"db\"} 0\nhc_tag_up{tag=\"prod\"} 0\nhc_tag_up{tag=\"web\"} 1\n\n",
		"hc_checks_total 5\n", "hc_checks_down_total 1\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("missing %q in:\n%s", want, body)
		}
	}
	if strings.Contains(body, "deleted") || strings.Contains(body, "gone") {
		t.Errorf("a deleted check is scraped:\n%s", body)
	}
	// Prometheus' own parser reads it: the escaped name comes back whole.
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("Prometheus cannot read the scrape: %v", err)
	}
	var names []string
	for _, m := range families["hc_check_up"].GetMetric() {
		for _, label := range m.GetLabel() {
			if label.GetName() == "name" {
				names = append(names, label.GetValue())
			}
		}
	}
	if len(families) != 7 || !slices.Contains(names, "Line 1\nLine \"2\" \\") || len(names) != 5 {
		t.Errorf("parsed %d families, check names %q", len(families), names)
	}
}

// Only the project's read-only key opens its metrics, from the path or as a bearer
// token, with Healthchecks' codes for everything else.
func TestProjectMetricsAccess(t *testing.T) {
	r, _ := newTestAPI(t)
	otherProject := "/projects/" + schemas.ID{2}.String() + "/metrics/"
	for _, tt := range []struct {
		name, method, path, authorization string
		want                              int
	}{
		{"read-only key", "GET", metricsPath + roKey, "", 200},
		{"older path", "GET", "/projects/" + schemas.ID{1}.String() + "/checks/metrics/" + roKey, "", 200},
		{"any method", "POST", metricsPath + roKey, "", 200},
		{"head", "HEAD", metricsPath + roKey, "", 200},
		{"bearer token", "GET", metricsPath, "Bearer " + roKey, 200},
		{"read-write key", "GET", metricsPath + rwKey, "", 403},
		{"made-up key", "GET", metricsPath + "hcr_zzzzzzzzzzzzzzzzzzzzzzzzzzzz", "", 403},
		{"another project's code", "GET", otherProject + roKey, "", 403},
		{"short key", "GET", metricsPath + roKey[1:], "", 400},
		{"no token", "GET", metricsPath, "", 401},
		{"basic authorization", "GET", metricsPath, "Basic " + roKey, 401},
		{"bearer token too long", "GET", metricsPath, "Bearer x" + roKey, 400},
		{"bearer token after two spaces", "GET", metricsPath, "Bearer  " + roKey, 400},
		{"bearer token starting with a letter of Bearer", "GET", metricsPath, "Bearer r" + roKey[:31], 403},
		{"bearer read-write key", "GET", metricsPath, "Bearer " + rwKey, 403},
		{"key with a slash after it", "GET", metricsPath + roKey + "/", "", 404},
		{"uppercase code", "GET", "/projects/" + strings.ToUpper(schemas.ID{10}.String()) + "/metrics/" + roKey, "", 404},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, tt.path, nil)
			if tt.authorization != "" {
				req.Header.Set("Authorization", tt.authorization)
			}
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Fatalf("%d %s, want %d", rec.Code, rec.Body, tt.want)
			}
			if rec.Code != http.StatusOK && rec.Code != http.StatusNotFound && (rec.Body.Len() != 0 || rec.Header().Get("Content-Type") != "text/html; charset=utf-8") {
				t.Errorf("%d answered %q %v, want an empty HTML answer", rec.Code, rec.Body, rec.Header())
			}
		})
	}
	rec := call(r, "GET", strings.TrimSuffix(metricsPath, "/"), "", "")
	if rec.Code != http.StatusMovedPermanently || rec.Header().Get("Location") != metricsPath {
		t.Errorf("without the slash: %d %v, want 301 to %s", rec.Code, rec.Header(), metricsPath)
	}
}

// BenchmarkProjectMetricsTenThousandChecks times one scrape of a project of 10,000
// checks, from memory that answers at once, into a writer that discards the body.
func BenchmarkProjectMetricsTenThousandChecks(b *testing.B) {
	r, _ := tenThousandChecks(b)
	b.ReportAllocs()
	for b.Loop() {
		w := &discardWriter{header: http.Header{}}
		r.ServeHTTP(w, httptest.NewRequest("GET", metricsPath+roKey, nil))
		if w.code != http.StatusOK || w.written < 4_000_000 {
			b.Fatal(w.code, w.written)
		}
	}
}
