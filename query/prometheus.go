package query

import (
	"bufio"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"github.com/hcstream/hcstream/projector/check"
	"github.com/hcstream/hcstream/query/auth"
	"github.com/hcstream/hcstream/schemas"
)

// registerProjectMetrics mounts Healthchecks' Prometheus endpoint, the check states of
// one project in Prometheus' text format, read with the project's read-only key: in
// the path, or as a bearer token. Healthchecks serves the first also under
// /checks/metrics/, from an older release.
func (a *API) registerProjectMetrics(r *mux.Router) {
	h := http.HandlerFunc(a.projectMetrics)
	for _, pattern := range []string{
		"/projects/{code:" + uuidPattern + "}/metrics/{key:[-a-zA-Z0-9_]+}",
		"/projects/{code:" + uuidPattern + "}/checks/metrics/{key:[-a-zA-Z0-9_]+}",
		"/projects/{code:" + uuidPattern + "}/metrics/",
	} {
		r.Handle(pattern, a.metrics.instrument(0, pattern, h))
	}
	slashless := "/projects/{code:" + uuidPattern + "}/metrics"
	r.Handle(slashless, a.metrics.instrument(0, slashless, redirectSlash()))
}

// projectMetrics answers any method, as the Healthchecks view does: 401 without a
// bearer token where the path has no key, 400 for a key of the wrong length, 403 for
// anything but the project's read-only key.
func (a *API) projectMetrics(w http.ResponseWriter, r *http.Request) {
	vars := mux.Vars(r)
	key, inPath := vars["key"]
	if !inPath {
		bearer := r.Header.Get("Authorization")
		if !strings.HasPrefix(bearer, "Bearer ") {
			writeEmpty(w, http.StatusUnauthorized)
			return
		}
		key = strings.TrimPrefix(bearer, "Bearer ")
	}
	if len(key) != auth.KeyLength {
		writeEmpty(w, http.StatusBadRequest)
		return
	}
	code, _ := schemas.ParseID(vars["code"])
	project, found, err := a.keys.project(r.Context(), key)
	switch {
	case err != nil:
		// The keyring logs its failed reads.
		writeError(w, http.StatusServiceUnavailable, "store unavailable")
		return
	case !found || !project.ReadOnly || project.ID != code:
		writeEmpty(w, http.StatusForbidden)
		return
	}
	rows, err := a.store.Checks(r.Context(), project.ID)
	if err != nil {
		a.storeFailed(w, "listing checks for metrics", err)
		return
	}
	now := a.now()
	checks := make([]checkSample, len(rows))
	for i, row := range rows {
		s := &row.State
		checks[i] = checkSample{
			labels: `{name="` + escapeLabel(s.Config.Name) + `", tags="` + escapeLabel(s.Config.Tags) +
				`", unique_key="` + uniqueKey(s.CheckID) + `"}`,
			status:  check.StatusAt(*s, now, false),
			started: !s.LastStart.IsZero(),
			tags:    tagList(s.Config.Tags),
		}
	}
	w.Header().Set("Content-Type", "text/plain")
	out := bufio.NewWriterSize(w, 64<<10)
	writeProjectMetrics(out, checks)
	_ = out.Flush()
}

// checkSample is what the Prometheus endpoint tells of one check.
type checkSample struct {
	labels  string
	status  string
	started bool
	tags    []string
}

// writeProjectMetrics writes Healthchecks' metrics, in its order and words.
func writeProjectMetrics(out *bufio.Writer, checks []checkSample) {
	down := schemas.StatusDown.String()
	gauge := func(name, help string, value func(checkSample) bool) {
		out.WriteString("# HELP " + name + " " + help + "\n# TYPE " + name + " gauge\n")
		for _, c := range checks {
			out.WriteString(name + c.labels + " " + binary(value(c)) + "\n")
		}
	}
	gauge("hc_check_up", "Whether the check is currently up (1 for yes, 0 for no).", func(c checkSample) bool { return c.status != down })
	out.WriteString("\n")
	gauge("hc_check_started", "Whether the check is currently started (1 for yes, 0 for no).", func(c checkSample) bool { return c.started })
	out.WriteString("\n")
	gauge("hc_check_grace", "Whether the check is currently in the grace period (1 for yes, 0 for no).", func(c checkSample) bool { return c.status == check.Grace })
	out.WriteString("\n")
	gauge("hc_check_paused", "Whether the check is currently paused (1 for yes, 0 for no).", func(c checkSample) bool { return c.status == schemas.StatusPaused.String() })

	allTags, downTags, downChecks := map[string]bool{}, map[string]bool{}, 0
	for _, c := range checks {
		for _, tag := range c.tags {
			allTags[tag] = true
			if c.status == down {
				downTags[tag] = true
			}
		}
		if c.status == down {
			downChecks++
		}
	}
	out.WriteString("\n# HELP hc_tag_up Whether all checks with this tag are up (1 for yes, 0 for no).\n# TYPE hc_tag_up gauge\n")
	// Python sorts str by code point, which is the byte order of UTF-8.
	for _, tag := range slices.Sorted(maps.Keys(allTags)) {
		out.WriteString(`hc_tag_up{tag="` + escapeLabel(tag) + `"} ` + binary(!downTags[tag]) + "\n")
	}
	out.WriteString("\n# HELP hc_checks_total The total number of checks.\n# TYPE hc_checks_total gauge\nhc_checks_total " + strconv.Itoa(len(checks)) + "\n\n")
	out.WriteString("# HELP hc_checks_down_total The number of checks currently down.\n# TYPE hc_checks_down_total gauge\nhc_checks_down_total " + strconv.Itoa(downChecks) + "\n")
}

// escapeLabel escapes a label value as Healthchecks does: backslash, double quote and
// newline, which is what Prometheus' text format asks for.
var escapeLabel = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace

func binary(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
