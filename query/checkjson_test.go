package query

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// The check list's hand-written encoder writes exactly what json.Marshal and the
// Python separators write, for any field values.
func FuzzCheckJSON(f *testing.F) {
	f.Add("nightly", "db prod", "", "POST", "2026-12-01T10:00:00+00:00", int64(3600), uint64(7), true, false)
	f.Add(`quote " and \ backslash`, "<b>&amp;</b>", "line\nbreak\ttab", "", "", int64(-1), uint64(0), false, true)
	f.Add("ünïcödé ✓", "\u2028\u2029", "\x00\x1f\x7f", "\xff\xfe invalid", "日本語", int64(0), uint64(1<<63), true, true)
	f.Fuzz(func(t *testing.T, name, tags, desc, methods, when string, n int64, pings uint64, flag, other bool) {
		c := checkJSON{Name: name, Slug: desc, Tags: tags, Desc: desc, Grace: n, NPings: pings, Status: methods, Started: flag,
			ManualResume: other, Methods: methods, Subject: name, SubjectFail: tags, StartKw: desc, SuccessKw: when, FailureKw: name,
			FilterSubject: flag, FilterBody: other, FilterHTTPBody: flag, FilterDefaultFail: other,
			FailureThreshold: int(n % 1000), RecoveryThreshold: int(pings % 1000), BadgeURL: when}
		if flag {
			c.LastPing, c.LastDuration, c.UUID, c.PingURL, c.UpdateURL = &when, &n, &name, &tags, &desc
			c.PauseURL, c.ResumeURL, c.Channels, c.Timeout = &methods, &when, &name, &n
		} else {
			c.NextPing, c.UniqueKey, c.Schedule, c.TZ = &when, &desc, &tags, &methods
		}
		want, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := string(c.appendJSON(nil)), string(pythonJSON(want)); got != want {
			t.Errorf("appendJSON:\n%s\nwant\n%s", got, want)
		}
	})
}

// The hand-written timestamp matches time's layout formatting for any instant, in any
// zone, including years that need more or fewer than four digits.
func FuzzISOSeconds(f *testing.F) {
	f.Add(int64(1764583200), int64(0), 0)
	f.Add(int64(-62135596800), int64(999999999), 3600)
	f.Add(int64(253402300799), int64(1), -36000)
	f.Add(int64(253402300800), int64(0), 0)
	f.Fuzz(func(t *testing.T, sec, nsec int64, offset int) {
		at := time.Unix(sec, nsec).In(time.FixedZone("z", offset%86400))
		want := at.UTC().Format("2006-01-02T15:04:05") + "+00:00"
		if got := isoSecondsText(at); got != want {
			t.Errorf("isoSecondsText(%v) = %q, want %q", at, got, want)
		}
	})
}

// A run's duration is written as Healthchecks writes round(total_seconds, 2): a Python
// float, rounded from the exact binary value with ties to even. The expected texts are
// Python's repr(round(us / 10**6, 2)).
func TestPingDurationIsPythonsRoundedFloat(t *testing.T) {
	for us, want := range map[int64]string{
		0:             "0.0",
		1:             "0.0",
		4999:          "0.0",
		5000:          "0.01",
		125000:        "0.12",
		135000:        "0.14",
		375000:        "0.38",
		1000000:       "1.0",
		1005000:       "1.0",
		2675000:       "2.67",
		3000000:       "3.0",
		59990000:      "59.99",
		86400000000:   "86400.0",
		259199999999:  "259200.0",
		1234567891234: "1234567.89",
	} {
		got, err := json.Marshal(pingJSON{Duration: ptr(pingDuration(time.Duration(us) * time.Microsecond))})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(string(got), `"duration":`+want+"}") {
			t.Errorf("%d us: %s, want duration %s", us, got, want)
		}
	}
}
