package check

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hcstream/hcstream/schemas"
)

var (
	t0      = time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)
	checkID = schemas.ID{1}
	project = schemas.ID{2}
	ridA    = schemas.ID{0xa}
	ridB    = schemas.ID{0xb}
)

// step is one event of a scenario timeline, at t0 + offset.
type step struct {
	at   time.Duration
	body schemas.Body
}

func at(d time.Duration, b schemas.Body) step { return step{d, b} }

func ping(kind schemas.PingKind) schemas.PingReceived {
	return schemas.PingReceived{Kind: kind, Method: "GET", Scheme: "http"}
}

func withRID(p schemas.PingReceived, rid schemas.ID) schemas.PingReceived {
	p.RunID, p.HasRunID = rid, true
	return p
}

func defaultConfig() schemas.CheckConfig {
	return schemas.CheckConfig{Timeout: time.Hour, Grace: 10 * time.Minute, TZ: "UTC", Schedule: "* * * * *"}
}

func thresholds(failures, recoveries uint16) schemas.CheckConfig {
	cfg := defaultConfig()
	cfg.FailureThreshold, cfg.RecoveryThreshold = failures, recoveries
	return cfg
}

func fold(steps []step) (State, []Effect) {
	var s State
	var all []Effect
	for _, st := range steps {
		var effects []Effect
		s, effects = Apply(s, schemas.Event{ID: schemas.NewID(), ProjectID: project, CheckID: checkID, At: t0.Add(st.at), Body: st.body})
		all = append(all, effects...)
	}
	return s, all
}

func flipped(d time.Duration, seq uint64, from, to schemas.Status, reason string) Flipped {
	return Flipped{At: t0.Add(d), Change: schemas.StatusChanged{FlipSeq: seq, Old: from, New: to, Reason: reason}}
}

func TestApplyScenarios(t *testing.T) {
	created := at(0, schemas.CheckCreated{Config: defaultConfig()})
	postOnly := defaultConfig()
	postOnly.Methods = "POST"
	manual := defaultConfig()
	manual.ManualResume = true
	keywords := defaultConfig()
	keywords.FilterHTTPBody = true
	keywords.SuccessKeywords = " SUCCESS , done"
	keywords.FailureKeywords = "ERROR,"
	keywords.StartKeywords = "begin"
	bodyPing := func(kind schemas.PingKind, body string) schemas.PingReceived {
		p := ping(kind)
		p.Body = []byte(body)
		return p
	}
	defaultFail := keywords
	defaultFail.FilterDefaultFail = true

	tests := []struct {
		name        string
		steps       []step
		wantStatus  schemas.Status
		wantEffects []Effect
		check       func(t *testing.T, s State)
	}{
		{
			// A new check's first success flips new → up with an empty reason.
			name:        "first success",
			steps:       []step{created, at(time.Minute, ping(schemas.PingSuccess))},
			wantStatus:  schemas.StatusUp,
			wantEffects: []Effect{PingRecorded{N: 1, Kind: KindSuccess}, flipped(time.Minute, 1, schemas.StatusNew, schemas.StatusUp, "")},
			check: func(t *testing.T, s State) {
				if !s.LastPing.Equal(t0.Add(time.Minute)) || s.NPings != 1 {
					t.Errorf("last_ping %v n_pings %d", s.LastPing, s.NPings)
				}
			},
		},
		{
			// A second success while up records the ping and does not flip.
			name:        "repeated success",
			steps:       []step{created, at(1, ping(schemas.PingSuccess)), at(2, ping(schemas.PingSuccess))},
			wantStatus:  schemas.StatusUp,
			wantEffects: []Effect{PingRecorded{N: 1}, flipped(1, 1, schemas.StatusNew, schemas.StatusUp, ""), PingRecorded{N: 2}},
		},
		{
			// /fail flips to down with reason "fail".
			name:        "fail",
			steps:       []step{created, at(1, ping(schemas.PingFail))},
			wantStatus:  schemas.StatusDown,
			wantEffects: []Effect{PingRecorded{N: 1, Kind: KindFail}, flipped(1, 1, schemas.StatusNew, schemas.StatusDown, "fail")},
		},
		{
			// Exit status 0 is a success, 1..255 a failure.
			name: "exit statuses",
			steps: []step{created,
				at(1, schemas.PingReceived{Kind: schemas.PingExitStatus, ExitStatus: 0}),
				at(2, schemas.PingReceived{Kind: schemas.PingExitStatus, ExitStatus: 255})},
			wantStatus: schemas.StatusDown,
			wantEffects: []Effect{
				PingRecorded{N: 1, Kind: KindSuccess}, flipped(1, 1, schemas.StatusNew, schemas.StatusUp, ""),
				PingRecorded{N: 2, Kind: KindFail}, flipped(2, 2, schemas.StatusUp, schemas.StatusDown, "fail"),
			},
		},
		{
			// Start and log never change the stored status, but count as pings.
			name:        "start and log",
			steps:       []step{created, at(1, ping(schemas.PingStart)), at(2, ping(schemas.PingLog))},
			wantStatus:  schemas.StatusNew,
			wantEffects: []Effect{PingRecorded{N: 1, Kind: KindStart}, PingRecorded{N: 2, Kind: KindLog}},
			check: func(t *testing.T, s State) {
				if !s.LastStart.Equal(t0.Add(1)) || !s.LastPing.IsZero() {
					t.Errorf("last_start %v last_ping %v", s.LastStart, s.LastPing)
				}
			},
		},
		{
			// A success with the start's rid measures the run and clears the start.
			name:       "start then success, same rid",
			steps:      []step{created, at(0, withRID(ping(schemas.PingStart), ridA)), at(90*time.Second, withRID(ping(schemas.PingSuccess), ridA))},
			wantStatus: schemas.StatusUp,
			wantEffects: []Effect{PingRecorded{N: 1, Kind: KindStart},
				PingRecorded{N: 2, Kind: KindSuccess, Duration: 90 * time.Second, HasDuration: true},
				flipped(90*time.Second, 1, schemas.StatusNew, schemas.StatusUp, "")},
			check: func(t *testing.T, s State) {
				if s.LastDuration != 90*time.Second || !s.LastStart.IsZero() {
					t.Errorf("last_duration %v last_start %v", s.LastDuration, s.LastStart)
				}
			},
		},
		{
			// A success carrying another rid leaves the current run open.
			name:       "success with a different rid keeps the run",
			steps:      []step{created, at(0, withRID(ping(schemas.PingStart), ridA)), at(time.Second, withRID(ping(schemas.PingSuccess), ridB))},
			wantStatus: schemas.StatusUp,
			wantEffects: []Effect{PingRecorded{N: 1, Kind: KindStart}, PingRecorded{N: 2, Kind: KindSuccess},
				flipped(time.Second, 1, schemas.StatusNew, schemas.StatusUp, "")},
			check: func(t *testing.T, s State) {
				if !s.LastStart.Equal(t0) || s.LastDuration != 0 {
					t.Errorf("last_start %v last_duration %v", s.LastStart, s.LastDuration)
				}
			},
		},
		{
			// A success without rid ends a rid run without a duration.
			name:       "success without rid clears a rid run",
			steps:      []step{created, at(0, withRID(ping(schemas.PingStart), ridA)), at(time.Second, ping(schemas.PingSuccess))},
			wantStatus: schemas.StatusUp,
			wantEffects: []Effect{PingRecorded{N: 1, Kind: KindStart}, PingRecorded{N: 2, Kind: KindSuccess},
				flipped(time.Second, 1, schemas.StatusNew, schemas.StatusUp, "")},
			check: func(t *testing.T, s State) {
				if !s.LastStart.IsZero() {
					t.Errorf("last_start %v, want cleared", s.LastStart)
				}
			},
		},
		{
			// Interleaved runs: each finish pairs with its own rid's start.
			name: "interleaved rids",
			steps: []step{created,
				at(0, withRID(ping(schemas.PingStart), ridA)), at(time.Second, withRID(ping(schemas.PingStart), ridB)),
				at(5*time.Second, withRID(ping(schemas.PingSuccess), ridA))},
			wantStatus: schemas.StatusUp,
			wantEffects: []Effect{PingRecorded{N: 1, Kind: KindStart}, PingRecorded{N: 2, Kind: KindStart},
				PingRecorded{N: 3, Kind: KindSuccess, Duration: 5 * time.Second, HasDuration: true},
				flipped(5*time.Second, 1, schemas.StatusNew, schemas.StatusUp, "")},
		},
		{
			// methods=POST records other methods as ignored and changes nothing.
			name:        "methods POST ignores GET",
			steps:       []step{at(0, schemas.CheckCreated{Config: postOnly}), at(1, ping(schemas.PingFail))},
			wantStatus:  schemas.StatusNew,
			wantEffects: []Effect{PingRecorded{N: 1, Kind: KindIgnored}},
		},
		{
			// Keywords override the URL: failure first, then success, then start.
			name: "keyword filters",
			steps: []step{at(0, schemas.CheckCreated{Config: keywords}),
				at(1, bodyPing(schemas.PingFail, "all done")),
				at(2, bodyPing(schemas.PingSuccess, "ERROR: done")),
				at(3, bodyPing(schemas.PingSuccess, "begin")),
				at(4, bodyPing(schemas.PingSuccess, "nothing"))},
			wantStatus: schemas.StatusDown,
			wantEffects: []Effect{
				PingRecorded{N: 1, Kind: KindSuccess}, flipped(1, 1, schemas.StatusNew, schemas.StatusUp, ""),
				PingRecorded{N: 2, Kind: KindFail}, flipped(2, 2, schemas.StatusUp, schemas.StatusDown, "fail"),
				PingRecorded{N: 3, Kind: KindStart},
				PingRecorded{N: 4, Kind: KindIgnored},
			},
		},
		{
			// With filter_default_fail, an unmatched body (even an empty one) is a failure.
			name:        "default fail",
			steps:       []step{at(0, schemas.CheckCreated{Config: defaultFail}), at(1, bodyPing(schemas.PingSuccess, "\xff\xfe"))},
			wantStatus:  schemas.StatusDown,
			wantEffects: []Effect{PingRecorded{N: 1, Kind: KindFail}, flipped(1, 1, schemas.StatusNew, schemas.StatusDown, "fail")},
		},
		{
			// Pause flips to paused; a success then resumes to up without manual_resume.
			name:       "pause then success",
			steps:      []step{created, at(1, ping(schemas.PingSuccess)), at(2, schemas.CheckPaused{}), at(3, schemas.CheckPaused{}), at(4, ping(schemas.PingSuccess))},
			wantStatus: schemas.StatusUp,
			wantEffects: []Effect{PingRecorded{N: 1}, flipped(1, 1, schemas.StatusNew, schemas.StatusUp, ""),
				flipped(2, 2, schemas.StatusUp, schemas.StatusPaused, ""),
				PingRecorded{N: 2}, flipped(4, 3, schemas.StatusPaused, schemas.StatusUp, "")},
		},
		{
			// manual_resume: every ping of a paused check is ignored until the API resumes it.
			name: "manual resume",
			steps: []step{at(0, schemas.CheckCreated{Config: manual}), at(1, schemas.CheckPaused{}),
				at(2, ping(schemas.PingFail)), at(3, ping(schemas.PingStart)), at(4, schemas.CheckResumed{}), at(5, ping(schemas.PingSuccess))},
			wantStatus: schemas.StatusUp,
			wantEffects: []Effect{flipped(1, 1, schemas.StatusNew, schemas.StatusPaused, ""),
				PingRecorded{N: 1, Kind: KindIgnored}, PingRecorded{N: 2, Kind: KindIgnored},
				flipped(4, 2, schemas.StatusPaused, schemas.StatusNew, ""),
				PingRecorded{N: 3}, flipped(5, 3, schemas.StatusNew, schemas.StatusUp, "")},
		},
		{
			// A pause or a resume ends the run in progress (no last_start, no
			// last_duration), but the pings list still pairs the success with its start,
			// as Healthchecks looks back through the pings.
			name: "durations across a pause and a resume",
			steps: []step{created, at(0, ping(schemas.PingSuccess)), at(time.Minute, ping(schemas.PingStart)),
				at(2*time.Minute, schemas.CheckPaused{}), at(3*time.Minute, ping(schemas.PingSuccess)),
				at(4*time.Minute, withRID(ping(schemas.PingStart), ridA)), at(5*time.Minute, schemas.CheckPaused{}),
				at(6*time.Minute, schemas.CheckResumed{}), at(8*time.Minute, withRID(ping(schemas.PingSuccess), ridA))},
			wantStatus: schemas.StatusUp,
			wantEffects: []Effect{PingRecorded{N: 1}, flipped(0, 1, schemas.StatusNew, schemas.StatusUp, ""),
				PingRecorded{N: 2, Kind: KindStart}, flipped(2*time.Minute, 2, schemas.StatusUp, schemas.StatusPaused, ""),
				PingRecorded{N: 3, Duration: 2 * time.Minute, HasDuration: true}, flipped(3*time.Minute, 3, schemas.StatusPaused, schemas.StatusUp, ""),
				PingRecorded{N: 4, Kind: KindStart}, flipped(5*time.Minute, 4, schemas.StatusUp, schemas.StatusPaused, ""),
				flipped(6*time.Minute, 5, schemas.StatusPaused, schemas.StatusNew, ""),
				PingRecorded{N: 5, Duration: 4 * time.Minute, HasDuration: true}, flipped(8*time.Minute, 6, schemas.StatusNew, schemas.StatusUp, "")},
			check: func(t *testing.T, s State) {
				if s.LastDuration != 0 || !s.LastStart.IsZero() {
					t.Errorf("last_duration %v last_start %v, want neither: the pause ended the run", s.LastDuration, s.LastStart)
				}
			},
		},
		{
			// Resume of a check that is not paused changes nothing.
			name:       "resume when not paused",
			steps:      []step{created, at(1, schemas.CheckResumed{})},
			wantStatus: schemas.StatusNew,
		},
		{
			// After delete, nothing applies; a duplicate create keeps the first config.
			name:       "deleted and duplicate create",
			steps:      []step{created, at(1, schemas.CheckCreated{Config: postOnly}), at(2, schemas.CheckDeleted{}), at(3, ping(schemas.PingSuccess))},
			wantStatus: schemas.StatusNew,
			check: func(t *testing.T, s State) {
				if !s.Deleted || s.Config.Methods != "" || s.NPings != 0 {
					t.Errorf("deleted %v methods %q n_pings %d", s.Deleted, s.Config.Methods, s.NPings)
				}
			},
		},
		{
			// With a failure threshold of 3, two failures keep the check up; a success
			// in between starts the count again; the third failure in a row flips it.
			name: "failure threshold",
			steps: []step{at(0, schemas.CheckCreated{Config: thresholds(3, 1)}), at(1, ping(schemas.PingSuccess)),
				at(2, ping(schemas.PingFail)), at(3, ping(schemas.PingFail)), at(4, ping(schemas.PingSuccess)),
				at(5, ping(schemas.PingFail)), at(6, ping(schemas.PingStart)), at(7, ping(schemas.PingLog)),
				at(8, schemas.PingReceived{Kind: schemas.PingExitStatus, ExitStatus: 1}), at(9, ping(schemas.PingFail))},
			wantStatus: schemas.StatusDown,
			wantEffects: []Effect{PingRecorded{N: 1}, flipped(1, 1, schemas.StatusNew, schemas.StatusUp, ""),
				PingRecorded{N: 2, Kind: KindFail}, PingRecorded{N: 3, Kind: KindFail}, PingRecorded{N: 4},
				PingRecorded{N: 5, Kind: KindFail}, PingRecorded{N: 6, Kind: KindStart}, PingRecorded{N: 7, Kind: KindLog},
				PingRecorded{N: 8, Kind: KindFail, Duration: 2, HasDuration: true}, PingRecorded{N: 9, Kind: KindFail}, flipped(9, 2, schemas.StatusUp, schemas.StatusDown, "fail")},
			check: func(t *testing.T, s State) {
				if s.Streak != 0 || !s.LastPing.Equal(t0.Add(9)) {
					t.Errorf("streak %d last_ping %v", s.Streak, s.LastPing)
				}
			},
		},
		{
			// A failure below the threshold still counts as the check's last ping, so
			// the job's next deadline is measured from it.
			name:       "failure below threshold moves the deadline",
			steps:      []step{at(0, schemas.CheckCreated{Config: thresholds(2, 1)}), at(1, ping(schemas.PingSuccess)), at(time.Hour, ping(schemas.PingFail))},
			wantStatus: schemas.StatusUp,
			wantEffects: []Effect{PingRecorded{N: 1}, flipped(1, 1, schemas.StatusNew, schemas.StatusUp, ""),
				PingRecorded{N: 2, Kind: KindFail}, HourClosed{Tally: HourTally{Hour: t0, Pings: 1, Successes: 1}}},
			check: func(t *testing.T, s State) {
				if deadline, ok := NextDeadline(s); !ok || !deadline.Equal(t0.Add(2*time.Hour+10*time.Minute)) || s.Streak != 1 {
					t.Errorf("deadline %v %v streak %d", deadline, ok, s.Streak)
				}
			},
		},
		{
			// With a recovery threshold of 2, a down check needs two successes in a row;
			// a failure in between starts the count again.
			name: "recovery threshold",
			steps: []step{at(0, schemas.CheckCreated{Config: thresholds(1, 2)}), at(1, ping(schemas.PingFail)),
				at(2, ping(schemas.PingSuccess)), at(3, ping(schemas.PingFail)), at(4, ping(schemas.PingSuccess)),
				at(5, ping(schemas.PingSuccess))},
			wantStatus: schemas.StatusUp,
			wantEffects: []Effect{PingRecorded{N: 1, Kind: KindFail}, flipped(1, 1, schemas.StatusNew, schemas.StatusDown, "fail"),
				PingRecorded{N: 2}, PingRecorded{N: 3, Kind: KindFail}, PingRecorded{N: 4}, PingRecorded{N: 5},
				flipped(5, 2, schemas.StatusDown, schemas.StatusUp, "")},
		},
		{
			// Pausing clears a failure count: after resume the threshold starts afresh.
			name: "pause clears the count",
			steps: []step{at(0, schemas.CheckCreated{Config: thresholds(2, 1)}), at(1, ping(schemas.PingSuccess)),
				at(2, ping(schemas.PingFail)), at(3, schemas.CheckPaused{}), at(4, ping(schemas.PingFail))},
			wantStatus: schemas.StatusPaused,
			wantEffects: []Effect{PingRecorded{N: 1}, flipped(1, 1, schemas.StatusNew, schemas.StatusUp, ""),
				PingRecorded{N: 2, Kind: KindFail}, flipped(3, 2, schemas.StatusUp, schemas.StatusPaused, ""),
				PingRecorded{N: 3, Kind: KindFail}},
		},
		{
			// Lowering the threshold below the current count flips on the next failure.
			name: "threshold lowered",
			steps: []step{at(0, schemas.CheckCreated{Config: thresholds(5, 1)}), at(1, ping(schemas.PingSuccess)),
				at(2, ping(schemas.PingFail)), at(3, ping(schemas.PingFail)), at(4, schemas.CheckUpdated{Config: thresholds(2, 1)}),
				at(5, ping(schemas.PingFail))},
			wantStatus: schemas.StatusDown,
			wantEffects: []Effect{PingRecorded{N: 1}, flipped(1, 1, schemas.StatusNew, schemas.StatusUp, ""),
				PingRecorded{N: 2, Kind: KindFail}, PingRecorded{N: 3, Kind: KindFail}, PingRecorded{N: 4, Kind: KindFail},
				flipped(5, 2, schemas.StatusUp, schemas.StatusDown, "fail")},
		},
		{
			// A ping for a check that was never created is dropped.
			name:  "unknown check",
			steps: []step{at(0, ping(schemas.PingSuccess))},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, effects := fold(tt.steps)
			if s.Status != tt.wantStatus {
				t.Errorf("status = %s, want %s", s.Status, tt.wantStatus)
			}
			if diff := cmp.Diff(tt.wantEffects, effects); diff != "" {
				t.Errorf("effects (-want +got):\n%s", diff)
			}
			if tt.check != nil {
				tt.check(t, s)
			}
		})
	}
}

func TestNextPingAndAlertAfter(t *testing.T) {
	up := State{Exists: true, Status: schemas.StatusUp, LastPing: t0, Config: defaultConfig()}
	running := up
	running.LastStart = t0.Add(5 * time.Minute)
	down := running
	down.Status = schemas.StatusDown
	tests := []struct {
		name      string
		s         State
		wantNext  time.Duration
		wantAlert time.Duration
		wantOK    bool
	}{
		{"up: last ping + timeout", up, time.Hour, 70 * time.Minute, true},
		{"running: the start", running, 5 * time.Minute, 15 * time.Minute, true},
		{"down: never", down, 0, 0, false},
		{"new: never", State{Exists: true, Config: defaultConfig()}, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next, ok := NextPing(tt.s)
			alert, _ := AlertAfter(tt.s)
			if ok != tt.wantOK || (ok && (!next.Equal(t0.Add(tt.wantNext)) || !alert.Equal(t0.Add(tt.wantAlert)))) {
				t.Errorf("NextPing = %v %v, AlertAfter = %v; want +%v +%v %v", next, ok, alert, tt.wantNext, tt.wantAlert, tt.wantOK)
			}
		})
	}
}

// A check that went down by timeout needs its recovery threshold too; a new check goes
// up on its first success, there being nothing to recover from.
func TestRecoveryThresholdAfterTimeout(t *testing.T) {
	s, _ := fold([]step{at(0, schemas.CheckCreated{Config: thresholds(1, 2)}), at(1, ping(schemas.PingSuccess))})
	if s.Status != schemas.StatusUp {
		t.Fatalf("status %s after the first success, want up", s.Status)
	}
	s, effects := Advance(s, t0.Add(2*time.Hour))
	if len(effects) != 1 || s.Status != schemas.StatusDown {
		t.Fatalf("timeout: status %s effects %v", s.Status, effects)
	}
	for i, wantStatus := range []schemas.Status{schemas.StatusDown, schemas.StatusUp} {
		at := t0.Add(3*time.Hour + time.Duration(i)*time.Minute)
		s, _ = Apply(s, schemas.Event{ProjectID: project, CheckID: checkID, At: at, Body: ping(schemas.PingSuccess)})
		if s.Status != wantStatus {
			t.Fatalf("success %d: status %s, want %s", i+1, s.Status, wantStatus)
		}
	}
}

// Each ping counts in its hour's tally; moving to a later hour closes the tally of the
// one before, and a ping stamped a moment before the current hour still counts in it.
func TestHourTally(t *testing.T) {
	post := func(kind schemas.PingKind) schemas.PingReceived {
		return schemas.PingReceived{Kind: kind, Method: "POST"}
	}
	cfg := defaultConfig()
	cfg.Methods = "POST"
	steps := []step{at(0, schemas.CheckCreated{Config: cfg}),
		at(time.Minute, withRID(post(schemas.PingStart), ridA)),
		at(3*time.Minute, post(schemas.PingLog)),
		at(4*time.Minute, withRID(post(schemas.PingSuccess), ridA)),
		at(5*time.Minute, withRID(post(schemas.PingStart), ridB)),
		at(15*time.Minute, withRID(post(schemas.PingFail), ridB)),
		at(59*time.Minute, ping(schemas.PingSuccess)), // a GET, ignored: the check takes POST only
		at(2*time.Hour+time.Second, post(schemas.PingFail)),
		at(2*time.Hour-time.Millisecond, post(schemas.PingSuccess)),
	}
	s, effects := fold(steps)
	var closed []HourTally
	for _, e := range effects {
		if c, ok := e.(HourClosed); ok {
			closed = append(closed, c.Tally)
		}
	}
	want := []HourTally{{Hour: t0, Pings: 6, Successes: 1, Failures: 1, Starts: 2, Logs: 1, Ignored: 1, Runs: 2,
		RunTotal: 13 * time.Minute, RunLongest: 10 * time.Minute}}
	if diff := cmp.Diff(want, closed); diff != "" {
		t.Errorf("closed hours (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(HourTally{Hour: t0.Add(2 * time.Hour), Pings: 2, Successes: 1, Failures: 1}, s.Tally); diff != "" {
		t.Errorf("current hour (-want +got):\n%s", diff)
	}
}

// A check's project is fixed by its first create: the projector's per-project index of
// stored rows relies on it.
func TestDuplicateCreateKeepsTheProject(t *testing.T) {
	id, first, second := schemas.NewID(), schemas.NewID(), schemas.NewID()
	s, _ := Apply(State{}, schemas.Event{CheckID: id, ProjectID: first, At: t0, Body: schemas.CheckCreated{Config: defaultConfig()}})
	s, _ = Apply(s, schemas.Event{CheckID: id, ProjectID: second, At: t0.Add(time.Second), Body: schemas.CheckCreated{Config: defaultConfig()}})
	if s.ProjectID != first {
		t.Errorf("project %v after a second create, want the first %v", s.ProjectID, first)
	}
}

// Keywords are trimmed as Python's str.strip() trims them.
func TestStripSpaceIsPythons(t *testing.T) {
	for in, want := range map[string]string{
		" ERROR\t":         "ERROR",
		"\x1fERROR\x1c":    "ERROR",
		"\u00a0done\u3000": "done",
		"in\x1fside":       "in\x1fside",
		"\u200bzero width": "\u200bzero width",
	} {
		if got := StripSpace(in); got != want {
			t.Errorf("StripSpace(%q) = %q, want %q", in, got, want)
		}
	}
	if !containsKeyword("ERROR happened", "\x1fERROR") {
		t.Error("a keyword with a leading \\x1f is not found after trimming")
	}
}
