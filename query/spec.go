package query

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	sched "github.com/hcstream/hcstream/projector/schedule"
	"github.com/hcstream/hcstream/schemas"
)

func defaultCheckConfig() schemas.CheckConfig {
	return schemas.CheckConfig{Timeout: 24 * time.Hour, Grace: time.Hour, Schedule: "* * * * *", TZ: "UTC"}
}

var slugPattern = regexp.MustCompile(`^[a-z0-9-_]*$`)

// uniqueFields are the fields an upsert may match checks on.
var uniqueFields = []string{"name", "slug", "tags", "timeout", "grace"}

// applySpec validates a create/update body in Healthchecks' field order, reporting only
// the first problem, and applies the fields present. It returns "" when the body is valid.
func applySpec(cfg *schemas.CheckConfig, body map[string]json.RawMessage, version int) string {
	str := func(field string, maxLen int, dst *string) string {
		raw, ok := body[field]
		if !ok {
			return ""
		}
		var s string
		if isNull(raw) || json.Unmarshal(raw, &s) != nil {
			return field + " is not a string"
		}
		if maxLen > 0 && utf8.RuneCountInString(s) > maxLen {
			return field + " is too long"
		}
		*dst = s
		return ""
	}
	boolean := func(field string, dst *bool) string {
		raw, ok := body[field]
		if !ok {
			return ""
		}
		if isNull(raw) || json.Unmarshal(raw, dst) != nil {
			return field + " is not a boolean"
		}
		return ""
	}
	seconds := func(field string, dst *time.Duration) string {
		raw, ok := body[field]
		if !ok {
			return ""
		}
		// Healthchecks reads true and false as 1 and 0 here (so "too small").
		n, msg := wholeNumber(field, raw, 60, 31536000, true)
		if msg == "" {
			*dst = time.Duration(n) * time.Second
		}
		return msg
	}
	var channels, failureKw, desc, startKw, successKw, subject, subjectFail, name, slug, tags, schedule, tz, methods string
	var filterSubject, filterBody, filterHTTPBody, filterDefaultFail, manualResume bool
	var grace, timeout time.Duration
	var failureThreshold, recoveryThreshold uint16
	checks := []func() string{
		func() string { return str("channels", 0, &channels) },
		func() string { return str("desc", 0, &desc) },
		func() string { return str("failure_kw", 200, &failureKw) },
		func() string { return threshold(body, "failure_threshold", &failureThreshold) },
		func() string { return boolean("filter_subject", &filterSubject) },
		func() string { return boolean("filter_body", &filterBody) },
		func() string { return boolean("filter_http_body", &filterHTTPBody) },
		func() string { return boolean("filter_default_fail", &filterDefaultFail) },
		func() string { return seconds("grace", &grace) },
		func() string { return boolean("manual_resume", &manualResume) },
		func() string {
			raw, ok := body["methods"]
			if !ok {
				return ""
			}
			if json.Unmarshal(raw, &methods) != nil || isNull(raw) || (methods != "" && methods != "POST") {
				return "methods has unexpected value"
			}
			return ""
		},
		func() string { return str("name", schemas.MaxNameLength, &name) },
		func() string { return threshold(body, "recovery_threshold", &recoveryThreshold) },
		func() string {
			if msg := str("schedule", 100, &schedule); msg != "" {
				return msg
			}
			if _, ok := body["schedule"]; ok && sched.Validate(schedule) != nil {
				return "schedule is not a valid cron or OnCalendar expression"
			}
			return ""
		},
		func() string {
			if msg := str("slug", schemas.MaxNameLength, &slug); msg != "" {
				return msg
			}
			if !slugPattern.MatchString(slug) {
				return "slug does not match pattern"
			}
			return ""
		},
		func() string { return str("start_kw", 200, &startKw) },
		func() string { return str("subject", 200, &subject) },
		func() string { return str("subject_fail", 200, &subjectFail) },
		func() string { return str("success_kw", 200, &successKw) },
		func() string { return str("tags", schemas.MaxTagsLength, &tags) },
		func() string { return seconds("timeout", &timeout) },
		func() string {
			if msg := str("tz", 0, &tz); msg != "" {
				return msg
			}
			if _, ok := body["tz"]; ok {
				canonical, ok := sched.CanonicalZone(tz)
				if !ok {
					return "tz is not a valid timezone"
				}
				tz = canonical // Healthchecks stores and returns the current name of a legacy alias
			}
			return ""
		},
		func() string {
			raw, ok := body["unique"]
			if !ok {
				return ""
			}
			var items []json.RawMessage
			if json.Unmarshal(raw, &items) != nil || isNull(raw) {
				return "unique is not an array"
			}
			for _, item := range items {
				var s string
				if json.Unmarshal(item, &s) != nil || !slices.Contains(uniqueFields, s) {
					return "an item in 'unique' has unexpected value"
				}
			}
			return ""
		},
	}
	for _, check := range checks {
		if msg := check(); msg != "" {
			return msg
		}
	}
	has := func(field string) bool { _, ok := body[field]; return ok }
	if has("name") {
		cfg.Name = name
		if version < 3 {
			cfg.Slug = slugify(name)
		}
	}
	switch {
	case has("schedule"):
		cfg.Kind, cfg.Schedule = scheduleKind(schedule), schedule
	case has("timeout"):
		cfg.Kind, cfg.Timeout = schemas.KindSimple, timeout
	}
	if has("subject") {
		cfg.SuccessKeywords = subject
		cfg.FilterSubject = cfg.SuccessKeywords != "" || cfg.FailureKeywords != ""
	}
	if has("subject_fail") {
		cfg.FailureKeywords = subjectFail
		cfg.FilterSubject = cfg.SuccessKeywords != "" || cfg.FailureKeywords != ""
	}
	assign := []struct {
		field string
		apply func()
	}{
		{"slug", func() { cfg.Slug = slug }},
		{"tags", func() { cfg.Tags = tags }},
		{"desc", func() { cfg.Desc = desc }},
		{"manual_resume", func() { cfg.ManualResume = manualResume }},
		{"methods", func() { cfg.Methods = methods }},
		{"tz", func() { cfg.TZ = tz }},
		{"start_kw", func() { cfg.StartKeywords = startKw }},
		{"success_kw", func() { cfg.SuccessKeywords = successKw }},
		{"failure_kw", func() { cfg.FailureKeywords = failureKw }},
		{"filter_subject", func() { cfg.FilterSubject = filterSubject }},
		{"filter_body", func() { cfg.FilterBody = filterBody }},
		{"filter_http_body", func() { cfg.FilterHTTPBody = filterHTTPBody }},
		{"filter_default_fail", func() { cfg.FilterDefaultFail = filterDefaultFail }},
		{"grace", func() { cfg.Grace = grace }},
		{"failure_threshold", func() { cfg.FailureThreshold = failureThreshold }},
		{"recovery_threshold", func() { cfg.RecoveryThreshold = recoveryThreshold }},
	}
	for _, a := range assign {
		if has(a.field) {
			a.apply()
		}
	}
	return ""
}

// threshold reads failure_threshold or recovery_threshold, hcstream's own fields: a
// whole number of consecutive runs from 1 to schemas.MaxThreshold.
func threshold(body map[string]json.RawMessage, field string, dst *uint16) string {
	raw, ok := body[field]
	if !ok {
		return ""
	}
	n, msg := wholeNumber(field, raw, 1, schemas.MaxThreshold, false)
	if msg == "" {
		*dst = uint16(n)
	}
	return msg
}

// wholeNumber reads a JSON integer within [least, most] as Healthchecks' schema check
// does (60.0 is not a number), returning the validation message when it is not one.
// boolAsNumber reads true and false as 1 and 0, a quirk of timeout and grace.
func wholeNumber(field string, raw json.RawMessage, least, most int64, boolAsNumber bool) (int64, string) {
	var n int64
	switch t := bytes.TrimSpace(raw); {
	case boolAsNumber && string(t) == "true":
		n = 1
	case boolAsNumber && string(t) == "false":
		n = 0
	case isNull(t) || bytes.ContainsAny(t, ".eE") || json.Unmarshal(t, &n) != nil:
		return 0, field + " is not a number"
	}
	if n < least {
		return 0, field + " is too small"
	}
	if n > most {
		return 0, field + " is too large"
	}
	return n, ""
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// scheduleKind is Healthchecks' detection: one line of exactly five fields is cron.
func scheduleKind(schedule string) schemas.ScheduleKind {
	if sched.IsCron(schedule) {
		return schemas.KindCron
	}
	return schemas.KindOnCalendar
}

// pythonSpace is what Python's \s matches in ASCII text: Go's \s lacks \v and \x1c-\x1f
// (check.StripSpace is the same rule for str.strip()).
const pythonSpace = `\t\n\v\f\r \x1c-\x1f`

var (
	slugDrop   = regexp.MustCompile(`[^\w` + pythonSpace + `-]`)
	slugSpaces = regexp.MustCompile(`[-` + pythonSpace + `]+`)
)

// slugify is Django's slugify, step by step (v1/v2 derive the slug from the name):
// letters with accents or compatibility forms keep their ASCII part, the rest is dropped.
func slugify(name string) string {
	var ascii strings.Builder
	for _, r := range norm.NFKD.String(name) {
		if r < utf8.RuneSelf {
			ascii.WriteRune(r)
		}
	}
	s := slugDrop.ReplaceAllString(strings.ToLower(ascii.String()), "")
	return strings.Trim(slugSpaces.ReplaceAllString(s, "-"), "-_")
}

// resolveChannels applies the channels field. hcstream has no channels yet, so only
// "" and "*" (both meaning none) resolve; any identifier is unknown.
func resolveChannels(cfg *schemas.CheckConfig, body map[string]json.RawMessage) string {
	raw, ok := body["channels"]
	if !ok {
		return ""
	}
	var spec string
	_ = json.Unmarshal(raw, &spec)
	if spec == "" || spec == "*" {
		cfg.Channels = nil
		return ""
	}
	for item := range strings.SplitSeq(spec, ",") {
		if item == "" {
			return "empty channel identifier"
		}
	}
	first, _, _ := strings.Cut(spec, ",")
	return "invalid channel identifier: " + first
}
