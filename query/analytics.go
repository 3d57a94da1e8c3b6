package query

import (
	"net/http"
	"net/url"
	"time"

	"github.com/hcstream/hcstream/query/store"
	"github.com/hcstream/hcstream/schemas"
)

// maxBuckets bounds the series of one analytics response.
const maxBuckets = 10000

// defaultWindow is the analytics window when the request names no start.
const defaultWindow = 30 * 24 * time.Hour

// analyticsJSON is the analytics of one check or of a project's checks over a window
// (an hcstream addition). Counts come from the hourly rollup, so the window is widened
// to whole buckets.
type analyticsJSON struct {
	From             string       `json:"from"`
	To               string       `json:"to"`
	Bucket           string       `json:"bucket"`
	Checks           int          `json:"checks"`
	Uptime           *float64     `json:"uptime"`
	DownSeconds      float64      `json:"down_seconds"`
	MonitoredSeconds float64      `json:"monitored_seconds"`
	Pings            pingCounts   `json:"pings"`
	FailureRatio     *float64     `json:"failure_ratio"`
	Runs             runsJSON     `json:"runs"`
	Series           []bucketJSON `json:"series"`
}

type pingCounts struct {
	Total   uint64 `json:"total"`
	Success uint64 `json:"success"`
	Fail    uint64 `json:"fail"`
	Start   uint64 `json:"start"`
	Log     uint64 `json:"log"`
	Ign     uint64 `json:"ign"`
}

type runsJSON struct {
	Count   uint64   `json:"count"`
	Mean    *float64 `json:"mean"`
	P50     *float64 `json:"p50"`
	P95     *float64 `json:"p95"`
	P99     *float64 `json:"p99"`
	Longest *float64 `json:"longest"`
}

type bucketJSON struct {
	Start        string     `json:"start"`
	Pings        pingCounts `json:"pings"`
	FailureRatio *float64   `json:"failure_ratio"`
	Runs         uint64     `json:"runs"`
	RunMean      *float64   `json:"run_mean"`
}

// analyticsWindow reads from, to and bucket: RFC 3339 times (to defaults to now, from
// to 30 days before to) widened to whole UTC buckets of an hour or a day. It returns
// a message for a 400 when the query is not valid.
func analyticsWindow(q url.Values, now time.Time) (from, to time.Time, bucket time.Duration, name, msg string) {
	to = now
	if s := q.Get("to"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return from, to, 0, "", "to is not an RFC 3339 time"
		}
		to = t
	}
	from = to.Add(-defaultWindow)
	if s := q.Get("from"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return from, to, 0, "", "from is not an RFC 3339 time"
		}
		from = t
	}
	switch name = q.Get("bucket"); name {
	case "", "hour":
		name, bucket = "hour", time.Hour
	case "day":
		bucket = 24 * time.Hour
	default:
		return from, to, 0, "", "bucket must be hour or day"
	}
	if !from.Before(to) {
		return from, to, 0, "", "from must be before to"
	}
	// Truncate works on absolute time, so hours and days are UTC boundaries.
	from = from.UTC().Truncate(bucket)
	if end := to.UTC().Truncate(bucket); end.Before(to) {
		to = end.Add(bucket)
	} else {
		to = end
	}
	if to.Sub(from)/bucket > maxBuckets {
		return from, to, 0, "", "the window holds more than 10000 buckets; choose a shorter window or bucket=day"
	}
	return from, to, bucket, name, ""
}

// statusTime splits [from, to) by the stored status in force: how long the check was
// down, and how long it was monitored at all (up or down; new and paused are not).
func statusTime(h store.StatusHistory, from, to time.Time) (down, monitored time.Duration) {
	status, since := h.Initial, from
	add := func(until time.Time) {
		if !until.After(since) {
			return
		}
		switch status {
		case "down":
			down += until.Sub(since)
			monitored += until.Sub(since)
		case "up":
			monitored += until.Sub(since)
		}
	}
	for _, c := range h.Changes {
		at := c.At
		if at.Before(from) {
			at = from
		}
		if at.After(to) {
			break
		}
		add(at)
		status, since = c.Status, at
	}
	add(to)
	return down, monitored
}

func ratio(part, whole uint64) *float64 {
	if whole == 0 {
		return nil
	}
	r := float64(part) / float64(whole)
	return &r
}

func secondsOf(d time.Duration) *float64 {
	s := seconds(d)
	return &s
}

// seconds is d in seconds to the microsecond the history keeps: Duration.Seconds adds
// the nanoseconds in a second step, which prints 9.708704 as 9.708704000000001.
func seconds(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1e6
}

// analytics answers for the checks in scope (checks of them).
// analytics answers for scope's checks, of which counted tells which still exist (nil:
// all of scope). A deleted check leaves no flip behind, so its last status would
// otherwise count on through every later window.
func (a *API) analytics(w http.ResponseWriter, r *request, scope store.Scope, checks int, counted func(schemas.ID) bool) {
	ctx := r.Context()
	now := a.now()
	from, to, bucket, bucketName, msg := analyticsWindow(r.URL.Query(), now)
	if msg != "" {
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	buckets, err := a.store.Buckets(ctx, scope, from, to, bucket)
	if err != nil {
		a.storeFailed(w, "reading hourly counts", err)
		return
	}
	runs, err := a.store.RunDurations(ctx, scope, from, to)
	if err != nil {
		a.storeFailed(w, "reading run durations", err)
		return
	}
	histories, err := a.store.StatusHistories(ctx, scope, from, to)
	if err != nil {
		a.storeFailed(w, "reading status histories", err)
		return
	}
	out := analyticsJSON{From: isoMicros(from), To: isoMicros(to), Bucket: bucketName, Checks: checks,
		Series: make([]bucketJSON, 0, to.Sub(from)/bucket)}
	// The window runs to the end of its last bucket, which may lie ahead: time that has
	// not passed is not monitored yet.
	passed := to
	if now.Before(passed) {
		passed = now
	}
	var down, monitored time.Duration
	for _, h := range histories {
		if counted != nil && !counted(h.Check) {
			continue
		}
		d, m := statusTime(h, from, passed)
		down, monitored = down+d, monitored+m
	}
	out.DownSeconds, out.MonitoredSeconds = seconds(down), seconds(monitored)
	if monitored > 0 {
		up := 100 * (1 - down.Seconds()/monitored.Seconds())
		out.Uptime = &up
	}
	next := 0
	for start := from; start.Before(to); start = start.Add(bucket) {
		item := bucketJSON{Start: isoMicros(start)}
		if next < len(buckets) && buckets[next].Start.Equal(start) {
			b := buckets[next]
			next++
			item.Pings = pingCounts{Total: b.Pings, Success: b.Successes, Fail: b.Failures, Start: b.Starts, Log: b.Logs, Ign: b.Ignored}
			item.FailureRatio = ratio(b.Failures, b.Successes+b.Failures)
			item.Runs = b.Runs
			if b.Runs > 0 {
				item.RunMean = secondsOf(b.RunTotal / time.Duration(b.Runs))
			}
			p := &out.Pings
			p.Total, p.Success, p.Fail, p.Start, p.Log, p.Ign = p.Total+b.Pings, p.Success+b.Successes, p.Fail+b.Failures,
				p.Start+b.Starts, p.Log+b.Logs, p.Ign+b.Ignored
		}
		out.Series = append(out.Series, item)
	}
	out.FailureRatio = ratio(out.Pings.Fail, out.Pings.Success+out.Pings.Fail)
	out.Runs.Count = runs.Count
	if runs.Count > 0 {
		out.Runs.Mean, out.Runs.Longest = secondsOf(runs.Mean), secondsOf(runs.Longest)
	}
	if runs.HasPercentiles {
		out.Runs.P50, out.Runs.P95, out.Runs.P99 = secondsOf(runs.P50), secondsOf(runs.P95), secondsOf(runs.P99)
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) checkAnalytics(w http.ResponseWriter, r *request) {
	row, ok := a.ownCheck(w, r)
	if !ok {
		return
	}
	a.waitForHistory(r.Context(), row.State.ProjectID, row.State.CheckID, row.Version)
	a.analytics(w, r, store.Scope{Project: r.project.ID, Check: row.State.CheckID}, 1, nil)
}

func (a *API) projectAnalytics(w http.ResponseWriter, r *request) {
	rows, err := a.store.Checks(r.Context(), r.project.ID)
	if err != nil {
		a.storeFailed(w, "reading checks", err)
		return
	}
	live := make(map[schemas.ID]bool, len(rows))
	for _, row := range rows {
		live[row.State.CheckID] = true
	}
	a.waitForRowsHistory(r.Context(), rows)
	a.analytics(w, r, store.Scope{Project: r.project.ID}, len(rows), func(id schemas.ID) bool { return live[id] })
}
