package query

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hcstream/hcstream/projector/check"
	"github.com/hcstream/hcstream/query/store"
	"github.com/hcstream/hcstream/schemas"
)

// checkJSON is Healthchecks' Check.to_dict, keys in its order. Pointer fields are
// present only for the key type or check kind that has them.
type checkJSON struct {
	Name              string  `json:"name"`
	Slug              string  `json:"slug"`
	Tags              string  `json:"tags"`
	Desc              string  `json:"desc"`
	Grace             int64   `json:"grace"`
	NPings            uint64  `json:"n_pings"`
	Status            string  `json:"status"`
	Started           bool    `json:"started"`
	LastPing          *string `json:"last_ping"`
	NextPing          *string `json:"next_ping"`
	ManualResume      bool    `json:"manual_resume"`
	Methods           string  `json:"methods"`
	Subject           string  `json:"subject"`
	SubjectFail       string  `json:"subject_fail"`
	StartKw           string  `json:"start_kw"`
	SuccessKw         string  `json:"success_kw"`
	FailureKw         string  `json:"failure_kw"`
	FilterSubject     bool    `json:"filter_subject"`
	FilterBody        bool    `json:"filter_body"`
	FilterHTTPBody    bool    `json:"filter_http_body"`
	FilterDefaultFail bool    `json:"filter_default_fail"`
	FailureThreshold  int     `json:"failure_threshold"`
	RecoveryThreshold int     `json:"recovery_threshold"`
	BadgeURL          string  `json:"badge_url"`
	LastDuration      *int64  `json:"last_duration,omitempty"`
	UUID              *string `json:"uuid,omitempty"`
	PingURL           *string `json:"ping_url,omitempty"`
	UpdateURL         *string `json:"update_url,omitempty"`
	PauseURL          *string `json:"pause_url,omitempty"`
	ResumeURL         *string `json:"resume_url,omitempty"`
	Channels          *string `json:"channels,omitempty"`
	UniqueKey         *string `json:"unique_key,omitempty"`
	Timeout           *int64  `json:"timeout,omitempty"`
	Schedule          *string `json:"schedule,omitempty"`
	TZ                *string `json:"tz,omitempty"`
}

// isoSeconds is Healthchecks' check timestamp format: microseconds stripped, +00:00.
func isoSeconds(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := isoSecondsText(t)
	return &s
}

func isoSecondsText(t time.Time) string {
	var buf [32]byte
	return string(appendISOSeconds(buf[:0], t))
}

// appendISOSeconds appends t as isoSeconds writes it. A list renders two per check, and
// time.AppendFormat, which interprets its layout on every call, was a third of
// rendering one.
func appendISOSeconds(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return append(t.AppendFormat(b, "2006-01-02T15:04:05"), "+00:00"...)
	}
	hour, minute, second := t.Clock()
	b = appendPadded(b, year, 4)
	b = appendPadded(append(b, '-'), int(month), 2)
	b = appendPadded(append(b, '-'), day, 2)
	b = appendPadded(append(b, 'T'), hour, 2)
	b = appendPadded(append(b, ':'), minute, 2)
	b = appendPadded(append(b, ':'), second, 2)
	return append(b, "+00:00"...)
}

// appendPadded appends n, which is not negative, in width digits with leading zeros.
func appendPadded(b []byte, n, width int) []byte {
	var digits [4]byte
	for i := width - 1; i >= 0; i-- {
		digits[i] = byte('0' + n%10)
		n /= 10
	}
	return append(b, digits[:width]...)
}

// isoMicros is Python's isoformat(): microseconds only when non-zero.
func isoMicros(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond()/1000 == 0 {
		return t.Format("2006-01-02T15:04:05") + "+00:00"
	}
	return t.Format("2006-01-02T15:04:05.000000") + "+00:00"
}

func ptr[T any](v T) *T { return &v }

// uniqueKey is Healthchecks' read-only identifier: sha1 of the first 16 hex digits.
func uniqueKey(id schemas.ID) string {
	hexID := strings.ReplaceAll(id.String(), "-", "")
	sum := sha1.Sum([]byte(hexID[:16]))
	return hex.EncodeToString(sum[:])
}

// checkPointees holds what a rendered check's optional fields point at, so that they
// cost one allocation together rather than one each: a list renders ten thousand checks.
type checkPointees struct {
	lastPing, nextPing, uuid, pingURL, updateURL, pauseURL, resumeURL, channels, uniqueKey, schedule, tz string
	lastDuration, timeout                                                                                int64
}

func (a *API) renderCheck(r *request, s check.State, now time.Time) checkJSON {
	return a.renderCheckShowing(r, s, check.StatusAt(s, now, r.version == 1))
}

// renderCheckShowing renders the check with status, which StatusAt gave for the read.
func (a *API) renderCheckShowing(r *request, s check.State, status string) checkJSON {
	version, readOnly := r.version, r.project.ReadOnly
	cfg := s.Config
	var badge [128]byte
	out := checkJSON{
		Name: cfg.Name, Slug: cfg.Slug, Tags: cfg.Tags, Desc: cfg.Desc, Grace: int64(cfg.Grace / time.Second),
		NPings: s.NPings, Status: status, Started: !s.LastStart.IsZero(),
		ManualResume: cfg.ManualResume, Methods: cfg.Methods,
		StartKw: cfg.StartKeywords, SuccessKw: cfg.SuccessKeywords, FailureKw: cfg.FailureKeywords,
		FilterSubject: cfg.FilterSubject, FilterBody: cfg.FilterBody, FilterHTTPBody: cfg.FilterHTTPBody,
		FilterDefaultFail: cfg.FilterDefaultFail, FailureThreshold: cfg.FailuresToAlert(), RecoveryThreshold: cfg.SuccessesToRecover(),
		BadgeURL: string(append(r.badges.appendCheckKey(append(append(badge[:0], a.cfg.SiteRoot...), "/b/2/"...), s.CheckID), ".svg"...)),
	}
	held := new(checkPointees)
	if !s.LastPing.IsZero() {
		held.lastPing = isoSecondsText(s.LastPing)
		out.LastPing = &held.lastPing
	}
	if next, ok := check.NextPing(s); ok && !next.IsZero() {
		held.nextPing = isoSecondsText(next)
		out.NextPing = &held.nextPing
	}
	if cfg.FilterSubject {
		out.Subject, out.SubjectFail = cfg.SuccessKeywords, cfg.FailureKeywords
	}
	// Healthchecks shows any non-zero duration, truncated: a sub-second run as 0, and one
	// made negative by skewed ingest clocks as it is.
	if held.lastDuration = int64(s.LastDuration / time.Second); s.LastDuration != 0 {
		out.LastDuration = &held.lastDuration
	}
	if readOnly {
		held.uniqueKey = uniqueKey(s.CheckID)
		out.UniqueKey = &held.uniqueKey
	} else {
		var idText [36]byte
		id := string(s.CheckID.Append(idText[:0]))
		update := a.apiURL(version, "checks/"+id)
		held.uuid, held.pingURL, held.updateURL = id, a.cfg.PingEndpoint+id, update
		held.pauseURL, held.resumeURL = update+"/pause", update+"/resume"
		if len(cfg.Channels) > 0 {
			channels := slices.Clone(cfg.Channels)
			sort.Strings(channels)
			held.channels = strings.Join(channels, ",")
		}
		out.UUID, out.PingURL, out.UpdateURL = &held.uuid, &held.pingURL, &held.updateURL
		out.PauseURL, out.ResumeURL, out.Channels = &held.pauseURL, &held.resumeURL, &held.channels
	}
	if cfg.Kind == schemas.KindSimple {
		held.timeout = int64(cfg.Timeout / time.Second)
		out.Timeout = &held.timeout
	} else {
		held.schedule, held.tz = cfg.Schedule, cfg.TZ
		out.Schedule, out.TZ = &held.schedule, &held.tz
	}
	return out
}

// pingJSON is one entry of the pings list; duration follows body_url when present.
type pingJSON struct {
	Type       string        `json:"type"`
	Date       string        `json:"date"`
	N          uint64        `json:"n"`
	Scheme     string        `json:"scheme"`
	RemoteAddr *string       `json:"remote_addr"`
	Method     string        `json:"method"`
	UA         string        `json:"ua"`
	RID        *string       `json:"rid"`
	BodyURL    *string       `json:"body_url"`
	Duration   *pingDuration `json:"duration,omitempty"`
}

// pingDuration is a run's duration as Healthchecks writes it in the pings list:
// round(total_seconds, 2), a Python float, so three seconds are 3.0 and 0.125 s,
// a tie, rounds to even (0.12).
type pingDuration time.Duration

func (d pingDuration) MarshalJSON() ([]byte, error) {
	// total_seconds() divides whole microseconds once; Duration.Seconds() adds two
	// parts, which can differ in the last bit.
	seconds := float64(time.Duration(d)/time.Microsecond) / 1e6
	// strconv rounds the exact binary value, ties to even, as Python's round does.
	rounded, err := strconv.ParseFloat(strconv.FormatFloat(seconds, 'f', 2, 64), 64)
	if err != nil {
		return nil, err
	}
	out := strconv.AppendFloat(nil, rounded, 'f', -1, 64)
	if !bytes.ContainsRune(out, '.') {
		out = append(out, ".0"...)
	}
	return out, nil
}

func (a *API) renderPing(checkID schemas.ID, version int, p store.Ping) pingJSON {
	out := pingJSON{Type: p.Kind, Date: isoMicros(p.At), N: p.N, Scheme: p.Scheme, Method: p.Method, UA: p.UserAgent}
	if p.RemoteAddr != "" {
		out.RemoteAddr = ptr(p.RemoteAddr)
	}
	if p.RunID != "" {
		out.RID = ptr(p.RunID)
	}
	if p.HasBody {
		out.BodyURL = ptr(a.apiURL(version, "checks/"+checkID.String()+"/pings/"+itoa(p.N)+"/body"))
	}
	if p.HasDuration && (p.Kind == "success" || p.Kind == "fail") {
		out.Duration = ptr(pingDuration(p.Duration))
	}
	return out
}

// appendJSON appends c as json.Marshal would write it, with Python's separators: the
// check list writes thousands of these, and reflection plus a second pass for the
// separators was most of its time. FuzzCheckJSON keeps the two encodings identical.
func (c *checkJSON) appendJSON(b []byte) []byte {
	b = appendKeyString(append(b, '{'), "name", c.Name)
	b = appendKeyString(append(b, ", "...), "slug", c.Slug)
	b = appendKeyString(append(b, ", "...), "tags", c.Tags)
	b = appendKeyString(append(b, ", "...), "desc", c.Desc)
	b = strconv.AppendInt(append(b, `, "grace": `...), c.Grace, 10)
	b = strconv.AppendUint(append(b, `, "n_pings": `...), c.NPings, 10)
	b = appendKeyString(append(b, ", "...), "status", c.Status)
	b = strconv.AppendBool(append(b, `, "started": `...), c.Started)
	b = appendKeyNullableString(append(b, ", "...), "last_ping", c.LastPing)
	b = appendKeyNullableString(append(b, ", "...), "next_ping", c.NextPing)
	b = strconv.AppendBool(append(b, `, "manual_resume": `...), c.ManualResume)
	b = appendKeyString(append(b, ", "...), "methods", c.Methods)
	b = appendKeyString(append(b, ", "...), "subject", c.Subject)
	b = appendKeyString(append(b, ", "...), "subject_fail", c.SubjectFail)
	b = appendKeyString(append(b, ", "...), "start_kw", c.StartKw)
	b = appendKeyString(append(b, ", "...), "success_kw", c.SuccessKw)
	b = appendKeyString(append(b, ", "...), "failure_kw", c.FailureKw)
	b = strconv.AppendBool(append(b, `, "filter_subject": `...), c.FilterSubject)
	b = strconv.AppendBool(append(b, `, "filter_body": `...), c.FilterBody)
	b = strconv.AppendBool(append(b, `, "filter_http_body": `...), c.FilterHTTPBody)
	b = strconv.AppendBool(append(b, `, "filter_default_fail": `...), c.FilterDefaultFail)
	b = strconv.AppendInt(append(b, `, "failure_threshold": `...), int64(c.FailureThreshold), 10)
	b = strconv.AppendInt(append(b, `, "recovery_threshold": `...), int64(c.RecoveryThreshold), 10)
	b = appendKeyString(append(b, ", "...), "badge_url", c.BadgeURL)
	if c.LastDuration != nil {
		b = strconv.AppendInt(append(b, `, "last_duration": `...), *c.LastDuration, 10)
	}
	for _, f := range [...]struct {
		key   string
		value *string
	}{{"uuid", c.UUID}, {"ping_url", c.PingURL}, {"update_url", c.UpdateURL}, {"pause_url", c.PauseURL},
		{"resume_url", c.ResumeURL}, {"channels", c.Channels}, {"unique_key", c.UniqueKey}} {
		if f.value != nil {
			b = appendKeyString(append(b, ", "...), f.key, *f.value)
		}
	}
	if c.Timeout != nil {
		b = strconv.AppendInt(append(b, `, "timeout": `...), *c.Timeout, 10)
	}
	if c.Schedule != nil {
		b = appendKeyString(append(b, ", "...), "schedule", *c.Schedule)
	}
	if c.TZ != nil {
		b = appendKeyString(append(b, ", "...), "tz", *c.TZ)
	}
	return append(b, '}')
}

func appendKeyString(b []byte, key, value string) []byte {
	b = append(append(append(b, '"'), key...), `": `...)
	return appendJSONString(b, value)
}

func appendKeyNullableString(b []byte, key string, value *string) []byte {
	if value == nil {
		return append(append(append(b, '"'), key...), `": null`...)
	}
	return appendKeyString(b, key, *value)
}

// appendJSONString appends s quoted as Python's json.dumps quotes it: plain printable
// ASCII is copied as is; anything else (quotes, backslashes, control characters,
// non-ASCII) goes through json.Marshal and appendPythonJSON.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if !plainJSON[s[i]] {
			quoted, _ := json.Marshal(s)
			return appendPythonJSON(b, quoted)
		}
	}
	return append(append(append(b, '"'), s...), '"')
}

// plainJSON marks the bytes Python's json.dumps copies into a string unchanged:
// printable ASCII except the quote and the backslash.
var plainJSON = func() (plain [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		plain[c] = c != '"' && c != '\\'
	}
	return plain
}()
