package pingurl

import (
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hcstream/hcstream/schemas"
)

const id = "2d6a9c2e-4f1b-4a8d-8c3e-7b6a5d4c3b2a"

func TestParse(t *testing.T) {
	checkID, _ := schemas.ParseID(id)
	rid, _ := schemas.ParseID("9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d")
	tests := []struct {
		path, query string
		want        Request
		problem     Problem
	}{
		{path: id, want: Request{CheckID: checkID}},
		{path: id + "/", want: Request{CheckID: checkID}},
		{path: id + "/start", want: Request{CheckID: checkID, Kind: schemas.PingStart}},
		{path: id + "/fail", want: Request{CheckID: checkID, Kind: schemas.PingFail}},
		{path: id + "/log", want: Request{CheckID: checkID, Kind: schemas.PingLog}},
		{path: id + "/0", want: Request{CheckID: checkID, Kind: schemas.PingExitStatus}},
		{path: id + "/007", want: Request{CheckID: checkID, Kind: schemas.PingExitStatus, ExitStatus: 7}},
		{path: id + "/255", want: Request{CheckID: checkID, Kind: schemas.PingExitStatus, ExitStatus: 255}},
		{path: id + "/256", want: Request{CheckID: checkID, Kind: schemas.PingExitStatus, ExitStatusTooLarge: true}},
		{path: id + "/99999999999999999999999", want: Request{CheckID: checkID, Kind: schemas.PingExitStatus, ExitStatusTooLarge: true}},
		{path: id, query: "rid=9A8B7C6D-5E4F-4A3B-8C2D-1E0F9A8B7C6D", want: Request{CheckID: checkID, RunID: rid, HasRunID: true}},
		{path: id, query: "rid=", want: Request{CheckID: checkID, RunIDInvalid: true}},
		{path: id, query: "rid=nope", want: Request{CheckID: checkID, RunIDInvalid: true}},
		{path: id, query: "create=1", want: Request{CheckID: checkID}},
		// Unknown actions after a UUID fall through to the slug form (then 404 not found).
		{path: id + "/foo", want: Request{PingKey: id, Slug: "foo", BySlug: true}},
		{path: id + "/-1", want: Request{PingKey: id, Slug: "-1", BySlug: true}},
		{path: "key123/backup", want: Request{PingKey: "key123", Slug: "backup", BySlug: true}},
		{path: "key123/backup/fail", query: "create=1", want: Request{PingKey: "key123", Slug: "backup", BySlug: true, Kind: schemas.PingFail, Create: true}},
		{path: "key123/backup/3", query: "create=true", want: Request{PingKey: "key123", Slug: "backup", BySlug: true, Kind: schemas.PingExitStatus, ExitStatus: 3}},
		{path: "key123/Backup", problem: UppercaseSlug},
		{path: "key123/backup/", problem: NoRoute},
		{path: "key123/backup/nope", problem: NoRoute},
		{path: strings.ToUpper(id), problem: NoRoute},
		{path: "07c2f54898504b27af5d6c9dc157ec02/", problem: NoRoute},
		{path: "not-uuid/", problem: NoRoute},
		{path: "", problem: NoRoute},
		{path: "a/b/c/d", problem: NoRoute},
		{path: "a b/c", problem: NoRoute},
	}
	for _, tt := range tests {
		t.Run(tt.path+"?"+tt.query, func(t *testing.T) {
			got, problem := Parse(tt.path, tt.query)
			if problem != tt.problem {
				t.Fatalf("problem = %d, want %d", problem, tt.problem)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, seed := range []string{id, id + "/start", id + "/256", "k/s/fail", "k/S", id + "/foo"} {
		f.Add(seed, "rid="+id+"&create=1")
	}
	f.Fuzz(func(t *testing.T, path, query string) {
		req, problem := Parse(path, query)
		if problem != 0 {
			return
		}
		if req.BySlug && !req.CheckID.IsZero() {
			t.Fatalf("a request is either by UUID or by slug: %+v", req)
		}
		if req.HasRunID && req.RunIDInvalid {
			t.Fatalf("rid both valid and invalid: %+v", req)
		}
		if req.Kind > schemas.PingExitStatus {
			t.Fatalf("kind %d", req.Kind)
		}
	})
}

// The routes' regular expressions, as Healthchecks writes them; the matchers stand for
// them and must agree on every string.
var (
	uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	slugPattern = regexp.MustCompile(`^[-a-zA-Z0-9_]+$`)
	ridPattern  = regexp.MustCompile(`(?i)^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
)

func checkMatchers(t *testing.T, s string) {
	t.Helper()
	if got, want := isUUID(s, false), uuidPattern.MatchString(s); got != want {
		t.Errorf("isUUID(%q) = %v, the route's pattern says %v", s, got, want)
	}
	if got, want := isUUID(s, true), ridPattern.MatchString(s); got != want {
		t.Errorf("isUUID(%q, any case) = %v, the rid pattern says %v", s, got, want)
	}
	if got, want := isSlug(s), slugPattern.MatchString(s); got != want {
		t.Errorf("isSlug(%q) = %v, the route's pattern says %v", s, got, want)
	}
}

func TestMatchersAgreeWithPatterns(t *testing.T) {
	upper := strings.ToUpper(id)
	for _, s := range []string{
		"", id, upper, id[:35], id + "0", strings.Replace(id, "-", "0", 1), strings.Replace(id, "2", "g", 1),
		strings.Replace(upper, "2D", "2d", 1), "-" + id[1:], id[:8] + "-" + id[9:], "a", "backup-db_2", "back up", "é", "k/s",
		"x\x00", "_", "-", id[:8] + "\n" + id[9:],
	} {
		checkMatchers(t, s)
	}
	for c := range 256 {
		checkMatchers(t, string(rune(c)))
		checkMatchers(t, id[:20]+string([]byte{byte(c)})+id[21:])
		checkMatchers(t, id[:8]+string([]byte{byte(c)})+id[9:])
	}
}

func FuzzMatchers(f *testing.F) {
	for _, seed := range []string{id, strings.ToUpper(id), "backup-db_2", "", "k/s"} {
		f.Add(seed)
	}
	f.Fuzz(checkMatchers)
}

// Query values are read as Django reads them, so that a malformed query string cannot
// hide a run ID that Healthchecks would reject.
func TestLastQueryValue(t *testing.T) {
	for _, tc := range []struct {
		query, key, want string
		found            bool
	}{
		{"rid=a&rid=b", "rid", "b", true},
		{"rid", "rid", "", true},
		{"rid=", "rid", "", true},
		{"r%69d=x", "rid", "x", true},
		{"rid=%zz", "rid", "%zz", true},
		{"rid=%4", "rid", "%4", true},
		{"rid=%41%4g", "rid", "A%4g", true},
		{"rid=a+b%2Bc", "rid", "a b+c", true},
		{"rid=u;x=1", "rid", "u;x=1", true},
		{"x=1;rid=2", "rid", "", false},
		{"&&create=1&", "create", "1", true},
		{"rider=1", "rid", "", false},
	} {
		got, found := lastQueryValue(tc.query, tc.key)
		if got != tc.want || found != tc.found {
			t.Errorf("lastQueryValue(%q, %q) = %q, %v; want %q, %v", tc.query, tc.key, got, found, tc.want, tc.found)
		}
	}
}

// Where net/url parses a query without complaint, lastQueryValue agrees with it.
func FuzzLastQueryValue(f *testing.F) {
	for _, seed := range []string{"rid=a&rid=b", "rid=%41+b", "create=1&rid", "r%69d=%zz", "a=b;c"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, query string) {
		values, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		for key, all := range values {
			if got, found := lastQueryValue(query, key); !found || got != all[len(all)-1] {
				t.Errorf("lastQueryValue(%q, %q) = %q, %v; net/url has %q", query, key, got, found, all[len(all)-1])
			}
		}
	})
}
