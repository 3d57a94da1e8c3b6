package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "write golden files for the current versions (never overwrites)")

var (
	goldenAt      = time.Date(2026, 11, 25, 9, 30, 15, 123456789, time.UTC)
	goldenEventID = mustParseID("0b9f5a3c-6a55-4d8e-9a8e-3c7c7c0a1b01")
	goldenProject = mustParseID("5f0d2c1e-8b7a-4c3d-9e2f-1a0b9c8d7e6f")
	goldenCheck   = mustParseID("2d6a9c2e-4f1b-4a8d-8c3e-7b6a5d4c3b2a")
	goldenRunID   = mustParseID("9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d")
)

func mustParseID(s string) ID {
	id, err := ParseID(s)
	if err != nil {
		panic(err)
	}
	return id
}

func goldenConfig() CheckConfig {
	return CheckConfig{
		Name: "Nightly backup", Slug: "nightly-backup", Tags: "prod db", Desc: "pg_dump to S3",
		Kind: KindCron, Timeout: 86400 * time.Second, Grace: 3600 * time.Second,
		Schedule: "30 2 * * *", TZ: "Europe/Riga", ManualResume: true, Methods: "POST",
		StartKeywords: "starting", SuccessKeywords: "done,ok", FailureKeywords: "ERROR",
		FilterHTTPBody: true, FilterDefaultFail: true,
		Channels:         []string{"4c9d1a2b-3e4f-4a5b-8c6d-7e8f9a0b1c2d"},
		FailureThreshold: 3, RecoveryThreshold: 2,
	}
}

// goldenCases are the records the golden files pin. New cases may be added for the
// current version; a shipped version's files are history and are never rewritten.
func goldenCases() map[string]Event {
	check := func(b Body) Event {
		return Event{ID: goldenEventID, ProjectID: goldenProject, CheckID: goldenCheck, At: goldenAt, Body: b}
	}
	return map[string]Event{
		"ProjectCreated/basic": {ID: goldenEventID, ProjectID: goldenProject, At: goldenAt, Body: ProjectCreated{
			Name: "Backups", APIKeyHash: "sha256:1f2e3d4c", APIKeyReadonlyHash: "sha256:5a6b7c8d", PingKey: "kP3x9QmZ2vT7wL1rY8nB4c",
		}},
		"CheckCreated/defaults":   check(CheckCreated{Config: CheckConfig{Timeout: 86400 * time.Second, Grace: 3600 * time.Second, TZ: "UTC", Schedule: "* * * * *"}}),
		"CheckCreated/full":       check(CheckCreated{Config: goldenConfig()}),
		"CheckUpdated/full":       check(CheckUpdated{Config: goldenConfig()}),
		"CheckPaused/basic":       check(CheckPaused{}),
		"CheckResumed/basic":      check(CheckResumed{}),
		"CheckDeleted/basic":      check(CheckDeleted{}),
		"PingReceived/success":    check(PingReceived{Kind: PingSuccess, Method: "GET", Scheme: "http", RemoteAddr: "203.0.113.7", UserAgent: "curl/8.5.0"}),
		"PingReceived/exitstatus": check(PingReceived{Kind: PingExitStatus, ExitStatus: 3, HasRunID: true, RunID: goldenRunID, Method: "POST", Scheme: "https", RemoteAddr: "2001:db8::1", UserAgent: "runitor/1.3.0", Body: []byte("backup failed: disk full\n")}),
		"PingReceived/start-rid":  check(PingReceived{Kind: PingStart, HasRunID: true, RunID: goldenRunID, Method: "HEAD", Scheme: "http", RemoteAddr: "198.51.100.2"}),
		"StatusChanged/timeout":   check(StatusChanged{FlipSeq: 7, Old: StatusUp, New: StatusDown, Reason: "timeout"}),
		"ClockTicked/basic":       {ID: goldenEventID, At: goldenAt, Body: ClockTicked{}},
	}
}

func TestGoldenFilesDecode(t *testing.T) {
	if *update {
		writeGolden(t)
	}
	bins, err := filepath.Glob(filepath.Join("testdata", "*", "v*", "*.bin"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[Type]bool{}
	for _, bin := range bins {
		t.Run(bin, func(t *testing.T) {
			raw, err := os.ReadFile(bin)
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(strings.TrimSuffix(bin, ".bin") + ".json")
			if err != nil {
				t.Fatal(err)
			}
			typ, version, err := Peek(raw)
			if err != nil {
				t.Fatalf("reading %s: %v", bin, err)
			}
			if version == CurrentVersion(typ) {
				seen[typ] = true
			}
			compact, err := MarshalRecord(raw)
			if err != nil {
				t.Fatalf("decoding %s: %v", bin, err)
			}
			var got bytes.Buffer
			if err := json.Indent(&got, compact, "", "  "); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(strings.TrimSpace(string(want)), got.String()); diff != "" {
				t.Errorf("%s decodes differently (-golden +now):\n%s", bin, diff)
			}
		})
	}
	for typ := range typeNames {
		if !seen[typ] {
			t.Errorf("no golden file for %s v%d: every shipped version needs one (go test ./schemas -update)", typ, CurrentVersion(typ))
		}
	}
}

// writeGolden writes files for the current version only, and never overwrites one.
func writeGolden(t *testing.T) {
	t.Helper()
	for name, ev := range goldenCases() {
		typ, caseName, _ := strings.Cut(name, "/")
		dir := filepath.Join("testdata", typ, "v"+strconv.Itoa(int(CurrentVersion(ev.Body.Type()))))
		bin := filepath.Join(dir, caseName+".bin")
		if _, err := os.Stat(bin); err == nil {
			continue
		}
		raw, err := Encode(ev)
		if err != nil {
			t.Fatal(err)
		}
		js, err := json.MarshalIndent(ev, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(bin, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, caseName+".json"), append(js, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", bin)
	}
}

func TestRoundTrip(t *testing.T) {
	for name, want := range goldenCases() {
		t.Run(name, func(t *testing.T) {
			raw, err := Encode(want)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(raw)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	valid, err := Encode(goldenCases()["PingReceived/exitstatus"])
	if err != nil {
		t.Fatal(err)
	}
	unknownVersion := append([]byte(nil), valid...)
	unknownVersion[2] = 99
	futureEnvelope := append([]byte(nil), valid...)
	futureEnvelope[0] = 2
	hugeLength := append(append([]byte(nil), valid[:headerSize+3]...), 0xff, 0xff, 0xff, 0xff, 0x0f)
	overThreshold := goldenCases()["CheckCreated/full"]
	overThreshold.Body = CheckCreated{Config: CheckConfig{FailureThreshold: MaxThreshold + 1}}
	hugeThreshold, err := Encode(overThreshold)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		record []byte
		want   error
	}{
		{"empty", nil, ErrCorrupt},
		{"truncated header", valid[:20], ErrCorrupt},
		{"truncated body", valid[:len(valid)-3], ErrCorrupt},
		{"trailing bytes", append(append([]byte(nil), valid...), 0), ErrCorrupt},
		{"length past end", hugeLength, ErrCorrupt},
		{"threshold out of range", hugeThreshold, ErrCorrupt},
		{"unknown body version", unknownVersion, ErrUnknownVersion},
		{"unknown envelope format", futureEnvelope, ErrUnknownVersion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(tt.record)
			if !errors.Is(err, tt.want) {
				t.Errorf("Decode() error = %v, want %v", err, tt.want)
			}
		})
	}
}
