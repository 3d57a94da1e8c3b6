package query

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func TestRouteLabel(t *testing.T) {
	for pattern, want := range map[string]string{
		"/checks/":                         "/checks/",
		"/checks/" + uuidRoute + "/pings/": "/checks/{id}/pings/",
		"/checks/" + uuidRoute + "/pings/{n:[0-9]+}/body": "/checks/{id}/pings/{n}/body",
		"/checks/" + uniqueKeyRoute + "/flips/":           "/checks/{key}/flips/",
		"/b/{states:[0-9]+}/{key}.{format}":               "/b/{states}/{key}.{format}",
		"/badge/{key}/{sig}/{tag}.{format}":               "/badge/{key}/{sig}/{tag}.{format}",
	} {
		if got := routeLabel(pattern); got != want {
			t.Errorf("routeLabel(%q) = %q, want %q", pattern, got, want)
		}
	}
}

// Every API request is timed under its route pattern, API version, method and code, so
// one check's reads and the check list are told apart however many checks there are.
func TestRequestsAreTimedByRoute(t *testing.T) {
	reg := prometheus.NewRegistry()
	r, _ := newInstrumentedTestAPI(t, func() time.Time { return testNow }, reg)
	created := call(r, "POST", "/api/v3/checks/", rwKey, `{"name": "timed"}`)
	if created.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", created.Code, created.Body)
	}
	var check struct{ UUID string }
	if err := json.Unmarshal(created.Body.Bytes(), &check); err != nil || check.UUID == "" {
		t.Fatalf("create answered %s (%v)", created.Body, err)
	}
	id := check.UUID
	call(r, "GET", "/api/v3/checks/"+id, rwKey, "")
	call(r, "GET", "/api/v3/checks/"+id, rwKey, "")
	call(r, "GET", "/api/v1/checks/", roKey, "")
	call(r, "GET", "/api/v2/checks/", "wrong", "")

	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[[4]string]uint64{}
	for _, f := range families {
		if f.GetName() != "hcstream_api_request_duration_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			counts[labelsOf(m)] = m.GetHistogram().GetSampleCount()
		}
	}
	for key, want := range map[[4]string]uint64{
		{"/checks/", "v3", "post", "201"}:    1,
		{"/checks/{id}", "v3", "get", "200"}: 2,
		{"/checks/", "v1", "get", "200"}:     1,
		{"/checks/", "v2", "get", "401"}:     1,
	} {
		if counts[key] != want {
			t.Errorf("requests timed as %v: %d, want %d (all: %v)", key, counts[key], want, counts)
		}
	}
	if len(counts) != 4 {
		t.Errorf("%d series, want 4: %v", len(counts), counts)
	}
}

func labelsOf(m *dto.Metric) [4]string {
	var out [4]string
	for _, l := range m.GetLabel() {
		switch l.GetName() {
		case "route":
			out[0] = l.GetValue()
		case "version":
			out[1] = l.GetValue()
		case "method":
			out[2] = l.GetValue()
		case "code":
			out[3] = l.GetValue()
		}
	}
	return out
}
