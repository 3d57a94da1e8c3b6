// Package pingurl parses Healthchecks ping URLs: the path below the ping prefix and the
// query string, into what the ping asks for. It is pure: it knows no checks and does no
// I/O, so every Healthchecks routing rule is tested here without a server.
package pingurl

import (
	"strings"

	"github.com/hcstream/hcstream/schemas"
)

// Request is a parsed ping URL.
type Request struct {
	// CheckID is set for the UUID form.
	CheckID schemas.ID
	// PingKey and Slug are set for the slug form.
	PingKey string
	Slug    string
	BySlug  bool

	Kind       schemas.PingKind
	ExitStatus uint8
	// ExitStatusTooLarge is an exit status above 255: Healthchecks answers 400 after it
	// found the check, so the caller reports it only then.
	ExitStatusTooLarge bool

	RunID    schemas.ID
	HasRunID bool
	// RunIDInvalid is a rid parameter that is present but not a UUID (400, after lookup).
	RunIDInvalid bool

	// Create is create=1 on a slug URL: provision the check when it does not exist.
	Create bool
}

// Problem is a URL that Healthchecks rejects before looking anything up.
type Problem int

// Problems, each with its Healthchecks status and body.
const (
	// NoRoute: the path matches no ping route (404, a "Not Found" page).
	NoRoute Problem = iota + 1
	// UppercaseSlug: a slug with uppercase letters (400 "invalid url format").
	UppercaseSlug
)

// isUUID reports whether s is a UUID in Healthchecks' URL form: 8-4-4-4-12 hex digits,
// lowercase unless anyCase. It stands for the route's regular expression, which cost
// about a tenth of a ping's handling.
func isUUID(s string, anyCase bool) bool {
	if len(s) != 36 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f':
		case anyCase && 'A' <= c && c <= 'F':
		default:
			return false
		}
	}
	return true
}

// isSlug reports whether s is a non-empty run of letters, digits, '-' and '_'.
func isSlug(s string) bool {
	for i := range len(s) {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return s != ""
}

// Parse reads path (below the ping prefix, without a leading slash) and the raw query.
func Parse(path, rawQuery string) (Request, Problem) {
	segments := strings.Split(path, "/")
	var req Request
	if isUUID(segments[0], false) {
		switch {
		case len(segments) == 1, len(segments) == 2 && segments[1] == "":
			return withQuery(uuidForm(req, segments[0]), rawQuery), 0
		case len(segments) == 2 && setAction(&req, segments[1]):
			return withQuery(uuidForm(req, segments[0]), rawQuery), 0
		}
		// Anything else falls through to the slug routes, as Django's route order does.
	}
	if len(segments) < 2 || len(segments) > 3 || !isSlug(segments[0]) || !isSlug(segments[1]) {
		return Request{}, NoRoute
	}
	if len(segments) == 3 && !setAction(&req, segments[2]) {
		return Request{}, NoRoute
	}
	if segments[1] != strings.ToLower(segments[1]) {
		return Request{}, UppercaseSlug
	}
	req.PingKey, req.Slug, req.BySlug = segments[0], segments[1], true
	req = withQuery(req, rawQuery)
	return req, 0
}

func uuidForm(req Request, id string) Request {
	req.CheckID, _ = schemas.ParseID(id)
	return req
}

// setAction reads the last path segment: start, fail, log or an exit status.
func setAction(req *Request, segment string) bool {
	switch segment {
	case "start":
		req.Kind = schemas.PingStart
	case "fail":
		req.Kind = schemas.PingFail
	case "log":
		req.Kind = schemas.PingLog
	default:
		if segment == "" || strings.Trim(segment, "0123456789") != "" {
			return false
		}
		req.Kind = schemas.PingExitStatus
		// Leading zeros are allowed (Django's <int>); anything with more than three
		// significant digits is certainly above 255.
		digits := strings.TrimLeft(segment, "0")
		status := 0
		if len(digits) > 3 {
			status = 256
		} else {
			for _, d := range digits {
				status = status*10 + int(d-'0')
			}
		}
		if status > 255 {
			req.ExitStatusTooLarge = true
		} else {
			req.ExitStatus = uint8(status)
		}
	}
	return true
}

func withQuery(req Request, rawQuery string) Request {
	if rawQuery == "" {
		return req
	}
	if rid, ok := lastQueryValue(rawQuery, "rid"); ok {
		if !isUUID(rid, true) {
			req.RunIDInvalid = true
		} else {
			req.RunID, _ = schemas.ParseID(strings.ToLower(rid))
			req.HasRunID = true
		}
	}
	if req.BySlug {
		if create, ok := lastQueryValue(rawQuery, "create"); ok && create == "1" {
			req.Create = true
		}
	}
	return req
}

// lastQueryValue returns the last value of key in rawQuery, read as Django's
// request.GET reads it: pairs split on '&' only, a pair without '=' has an empty value,
// '+' is a space, and a broken %-escape stays as written. url.ParseQuery instead drops
// pairs it cannot parse (a ';', a bad escape), which would turn "?rid=%zz" into a ping
// without a run ID where Healthchecks answers 400.
func lastQueryValue(rawQuery, key string) (value string, found bool) {
	for pair := range strings.SplitSeq(rawQuery, "&") {
		if pair == "" {
			continue
		}
		name, v, _ := strings.Cut(pair, "=")
		if lenientUnescape(name) == key {
			value, found = lenientUnescape(v), true
		}
	}
	return value, found
}

// lenientUnescape decodes '+' and valid %XX escapes and keeps anything else as written.
func lenientUnescape(s string) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '+':
			b.WriteByte(' ')
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}
