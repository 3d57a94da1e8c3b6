package query

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/hcstream/hcstream/projector/check"
	"github.com/hcstream/hcstream/projector/history"
	"github.com/hcstream/hcstream/query/store"
	"github.com/hcstream/hcstream/schemas"
	chschema "github.com/hcstream/hcstream/schemas/clickhouse"
)

// badgeKeys turns check and project IDs into the keys of their public badge URLs and
// back. A key is the ID encrypted with a site secret (one AES block, shown as a UUID):
// it reveals nothing of the ID, which for a check is the credential that pings it, and
// needs no lookup table to resolve. Tag badges are signed as Healthchecks signs them.
type badgeKeys struct {
	secret          string
	checks, project cipher.Block
}

func newBadgeKeys(secret string) badgeKeys {
	block := func(purpose string) cipher.Block {
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(purpose))
		b, err := aes.NewCipher(mac.Sum(nil)[:16])
		if err != nil {
			panic(err) // a 16-byte key is always valid
		}
		return b
	}
	return badgeKeys{secret: secret, checks: block("hcstream check badge key"), project: block("hcstream project badge key")}
}

func encryptID(b cipher.Block, id schemas.ID) string {
	var out [36]byte
	return string(appendEncryptedID(out[:0], b, id))
}

func appendEncryptedID(dst []byte, b cipher.Block, id schemas.ID) []byte {
	var out schemas.ID
	b.Encrypt(out[:], id[:])
	return out.Append(dst)
}

func decryptID(b cipher.Block, key string) (schemas.ID, bool) {
	enc, err := schemas.ParseID(key)
	if err != nil || enc.String() != key {
		return schemas.ID{}, false
	}
	var id schemas.ID
	b.Decrypt(id[:], enc[:])
	return id, true
}

func (k badgeKeys) checkKey(id schemas.ID) string { return encryptID(k.checks, id) }
func (k badgeKeys) appendCheckKey(b []byte, id schemas.ID) []byte {
	return appendEncryptedID(b, k.checks, id)
}
func (k badgeKeys) checkOf(key string) (schemas.ID, bool)   { return decryptID(k.checks, key) }
func (k badgeKeys) projectKey(id schemas.ID) string         { return encryptID(k.project, id) }
func (k badgeKeys) projectOf(key string) (schemas.ID, bool) { return decryptID(k.project, key) }
func (k badgeKeys) validSignature(projectKey, tag, sig string) bool {
	return hmac.Equal([]byte(k.signature(projectKey, tag)), []byte(sig))
}

// signature is Healthchecks' tag badge signature: the first 8 characters of Django's
// base64_hmac(salt=project badge key, value=tag, key=secret, algorithm=sha1).
func (k badgeKeys) signature(projectKey, tag string) string {
	key := sha1.Sum([]byte(projectKey + k.secret))
	mac := hmac.New(sha1.New, key[:])
	mac.Write([]byte(tag))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))[:8]
}

// badgeFormats are the URL suffixes a badge is served in.
var badgeFormats = map[string]bool{"svg": true, "json": true, "shields": true}

// badgeURLs is one entry of the badges list, keys in Healthchecks' order.
type badgeURLs struct {
	SVG      string `json:"svg"`
	SVG3     string `json:"svg3"`
	JSON     string `json:"json"`
	JSON3    string `json:"json3"`
	Shields  string `json:"shields"`
	Shields3 string `json:"shields3"`
}

// tagBadgeURLs returns the URLs of a project's badges for tag ("*": every check).
func (k badgeKeys) tagBadgeURLs(siteRoot string, project schemas.ID, tag string) badgeURLs {
	projectKey := k.projectKey(project)
	sig := k.signature(projectKey, tag)
	url := func(states2 bool, format string) string {
		s := sig
		if states2 {
			s += "-2"
		}
		u := siteRoot + "/badge/" + projectKey + "/" + s
		if tag != "*" {
			u += "/" + quoteTwice(tag)
		}
		return u + "." + format
	}
	return badgeURLs{
		SVG: url(true, "svg"), SVG3: url(false, "svg"), JSON: url(true, "json"), JSON3: url(false, "json"),
		Shields: url(true, "shields"), Shields3: url(false, "shields"),
	}
}

// quoteTwice percent-encodes every byte outside [A-Za-z0-9_.~-] and then the percent
// signs once more, as Healthchecks' badge URLs do (quote(tag, safe=""), then reverse()).
func quoteTwice(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("_.~-", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%25%02X", c)
	}
	return b.String()
}

// badgeTally is what a badge says about a set of checks.
type badgeTally struct {
	Status string `json:"status"`
	Total  int    `json:"total"`
	Grace  int    `json:"grace"`
	Down   int    `json:"down"`
}

// tallyBadge folds checks' statuses (Healthchecks' get_status without started) into a
// badge: down if any is down; in the three-state form late if any is in its grace
// period; up otherwise, new and paused included.
func tallyBadge(statuses []string, states int) badgeTally {
	t := badgeTally{Status: "up", Total: len(statuses)}
	for _, s := range statuses {
		switch s {
		case "down":
			t.Down++
			t.Status = "down"
		case "grace":
			t.Grace++
			if states == 3 && t.Status == "up" {
				t.Status = "late"
			}
		}
	}
	return t
}

// shieldsBadge is shields.io's endpoint-badge JSON.
type shieldsBadge struct {
	SchemaVersion int    `json:"schemaVersion"`
	Label         string `json:"label"`
	Message       string `json:"message"`
	Color         string `json:"color"`
}

func newShieldsBadge(label, status string) shieldsBadge {
	color := map[string]string{"up": "success", "late": "important", "down": "critical"}[status]
	return shieldsBadge{SchemaVersion: 1, Label: label, Message: status, Color: color}
}

// badgeSVG draws a flat two-part badge, label on grey and status on its colour, sized
// from an estimate of each character's width in 11px Verdana.
func badgeSVG(label, status string) string {
	color := map[string]string{"up": "#4c1", "late": "#fe7d37", "down": "#e05d44"}[status]
	labelWidth, statusWidth := textWidth(label)+10, textWidth(status)+10
	width := labelWidth + statusWidth
	l, s := html.EscapeString(label), html.EscapeString(status)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="20" role="img" aria-label="%s: %s">`, width, l, s)
	fmt.Fprintf(&b, `<title>%s: %s</title>`, l, s)
	b.WriteString(`<linearGradient id="shade" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>`)
	fmt.Fprintf(&b, `<clipPath id="round"><rect width="%d" height="20" rx="3" fill="#fff"/></clipPath>`, width)
	fmt.Fprintf(&b, `<g clip-path="url(#round)"><rect width="%d" height="20" fill="#555"/><rect x="%d" width="%d" height="20" fill="%s"/><rect width="%d" height="20" fill="url(#shade)"/></g>`,
		labelWidth, labelWidth, statusWidth, color, width)
	b.WriteString(`<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">`)
	for _, part := range []struct {
		x    float64
		text string
	}{{float64(labelWidth) / 2, l}, {float64(labelWidth) + float64(statusWidth)/2, s}} {
		fmt.Fprintf(&b, `<text x="%.1f" y="15" fill="#010101" fill-opacity=".3">%s</text><text x="%.1f" y="14">%s</text>`, part.x, part.text, part.x, part.text)
	}
	b.WriteString(`</g></svg>`)
	return b.String()
}

// textWidth estimates the width in pixels of s in 11px Verdana.
func textWidth(s string) int {
	var w float64
	for _, r := range s {
		switch {
		case strings.ContainsRune(" fijlrtI!.,:;'|()[]", r):
			w += 4
		case strings.ContainsRune("mwMW", r):
			w += 10
		case 'A' <= r && r <= 'Z':
			w += 7.5
		case 'a' <= r && r <= 'z', '0' <= r && r <= '9':
			w += 7
		default:
			w += 8
		}
	}
	return int(w + 0.5)
}

// badgeKeysNow returns the badge keys, reading the site secret when it has none. The
// store answers only with a settled secret, which never changes, so it is read once.
func (a *API) badgeKeysNow(ctx context.Context) (badgeKeys, error) {
	a.badgeMu.Lock()
	keys := a.badgeKeys
	a.badgeMu.Unlock()
	if keys.secret != "" {
		return keys, nil
	}
	// A brand-new database's secret takes a few seconds to settle.
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	secret, err := a.store.Secret(ctx, chschema.BadgeSecret)
	if err != nil {
		return badgeKeys{}, err
	}
	a.badgeMu.Lock()
	defer a.badgeMu.Unlock()
	a.badgeKeys = newBadgeKeys(secret)
	return a.badgeKeys, nil
}

// listBadges is GET /api/v{1,2,3}/badges/: the badge URLs of every tag of the project's
// checks, and of all its checks ("*"), in the order of the tags' bytes. Each tag's six
// URLs are made as they are written: a project of many tags never holds them all.
func (a *API) listBadges(w http.ResponseWriter, r *request) {
	rows, err := a.store.Checks(r.Context(), r.project.ID)
	if err != nil {
		a.storeFailed(w, "listing checks", err)
		return
	}
	tags := map[string]struct{}{"*": {}}
	for _, row := range rows {
		for _, tag := range tagList(row.State.Config.Tags) {
			tags[tag] = struct{}{}
		}
	}
	writeStreamed(w, `{"badges": {`, "}}", func(yield func([]byte) bool) {
		var compact, entry []byte
		for _, tag := range slices.Sorted(maps.Keys(tags)) {
			name, _ := json.Marshal(tag)
			urls, _ := json.Marshal(r.badges.tagBadgeURLs(a.cfg.SiteRoot, r.project.ID, tag))
			compact = append(append(append(compact[:0], name...), ':'), urls...)
			entry = appendPythonJSON(entry[:0], compact)
			if !yield(entry) {
				return
			}
		}
	})
}

// badgeRequest is one request for a public badge: no key, the URL is the credential.
type badgeRequest struct {
	*http.Request
	keys   badgeKeys
	format string
}

// publicBadge serves a badge URL as Healthchecks does: no authentication, its CORS
// decorator for GET (OPTIONS 204, other methods 405), never cached; an unknown format
// is a 404 with an empty body.
func (a *API) publicBadge(serve func(w http.ResponseWriter, r badgeRequest)) http.Handler {
	cors := corsHeaders([]string{"GET", "OPTIONS"})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		setHeaders(h, cors)
		h.Set("Cache-Control", "max-age=0, no-cache, no-store, must-revalidate, private")
		switch r.Method {
		case http.MethodOptions:
			writeEmpty(w, http.StatusNoContent)
			return
		case http.MethodGet:
		default:
			writeEmpty(w, http.StatusMethodNotAllowed)
			return
		}
		format := mux.Vars(r)["format"]
		if !badgeFormats[format] {
			writeEmpty(w, http.StatusNotFound)
			return
		}
		keys, err := a.badgeKeysNow(r.Context())
		if err != nil {
			a.storeFailed(w, "reading the badge secret", err)
			return
		}
		serve(w, badgeRequest{Request: r, keys: keys, format: format})
	})
}

// tagBadge is /badge/<project key>/<signature>[/<tag>].<format>: the project's checks
// with the tag, or all of them. A signature ending in "-2" asks for the two-state badge.
func (a *API) tagBadge(w http.ResponseWriter, r badgeRequest) {
	vars := mux.Vars(r.Request)
	projectKey, sig := vars["key"], vars["sig"]
	tag, label := "*", a.cfg.BadgeLabel
	if quoted, ok := vars["tag"]; ok {
		// The router has decoded the path once; the tag was quoted twice.
		unquoted, err := url.PathUnescape(quoted)
		if err != nil {
			writeEmpty(w, http.StatusNotFound)
			return
		}
		tag, label = unquoted, unquoted
	}
	states := 3
	if len(sig) == 10 && strings.HasSuffix(sig, "-2") {
		states = 2
	}
	project, ok := r.keys.projectOf(projectKey)
	if len(sig) < 8 || !ok || !r.keys.validSignature(projectKey, tag, sig[:8]) {
		writeEmpty(w, http.StatusNotFound)
		return
	}
	rows, err := a.store.Checks(r.Context(), project)
	if err != nil {
		a.storeFailed(w, "listing checks for a badge", err)
		return
	}
	now := a.now()
	var statuses []string
	for _, row := range rows {
		if tag == "*" || hasAllTags(row.State.Config.Tags, []string{tag}) {
			statuses = append(statuses, check.StatusAt(row.State, now, false))
		}
	}
	writeBadge(w, r.format, label, tallyBadge(statuses, states))
}

// checkBadge is /b/<states>/<check key>.<format>: one check, labelled with its name
// (its UUID when it has none); states 3 is the three-state badge, any other number the
// two-state one, as in Healthchecks.
func (a *API) checkBadge(w http.ResponseWriter, r badgeRequest) {
	vars := mux.Vars(r.Request)
	id, ok := r.keys.checkOf(vars["key"])
	// A forged key rarely decrypts to an ID hcstream could have made: refused unread.
	if !ok || !id.Generated() {
		raisedNotFound(w)
		return
	}
	project, err := a.store.CheckProject(r.Context(), id)
	var row history.CheckRow
	if err == nil {
		row, err = a.store.Check(r.Context(), project, id)
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		raisedNotFound(w)
		return
	case err != nil:
		a.storeFailed(w, "reading a check for its badge", err)
		return
	}
	label := row.State.Config.Name
	if label == "" {
		label = id.String()
	}
	states := 2
	if vars["states"] == "3" {
		states = 3
	}
	writeBadge(w, r.format, label, tallyBadge([]string{check.StatusAt(row.State, a.now(), false)}, states))
}

func writeBadge(w http.ResponseWriter, format, label string, tally badgeTally) {
	switch format {
	case "svg":
		w.Header().Set("Content-Type", "image/svg+xml")
		_, _ = io.WriteString(w, badgeSVG(label, tally.Status))
	case "json":
		writeJSON(w, http.StatusOK, tally)
	default:
		writeJSON(w, http.StatusOK, newShieldsBadge(label, tally.Status))
	}
}
