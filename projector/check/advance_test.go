package check

import (
	"testing"
	"time"
	_ "time/tzdata" // time zones for the schedule cases

	"github.com/google/go-cmp/cmp"

	"github.com/hcstream/hcstream/schemas"
)

func TestAdvance(t *testing.T) {
	created := at(0, schemas.CheckCreated{Config: defaultConfig()}) // timeout 1h, grace 10m
	tests := []struct {
		name        string
		steps       []step
		now         time.Duration
		wantStatus  schemas.Status
		wantEffects []Effect
	}{
		{
			// Before last_ping + timeout + grace nothing happens.
			name:       "up, within grace",
			steps:      []step{created, at(0, ping(schemas.PingSuccess))},
			now:        70*time.Minute - time.Nanosecond,
			wantStatus: schemas.StatusUp,
		},
		{
			// Exactly at last_ping + timeout + grace the check is down, flipped at the deadline.
			name:        "up, deadline reached",
			steps:       []step{created, at(0, ping(schemas.PingSuccess))},
			now:         70 * time.Minute,
			wantStatus:  schemas.StatusDown,
			wantEffects: []Effect{flipped(70*time.Minute, 2, schemas.StatusUp, schemas.StatusDown, "timeout")},
		},
		{
			// Caught up late, the flip still carries the deadline, not the processing time.
			name:        "backlog",
			steps:       []step{created, at(0, ping(schemas.PingSuccess))},
			now:         50 * time.Hour,
			wantStatus:  schemas.StatusDown,
			wantEffects: []Effect{flipped(70*time.Minute, 2, schemas.StatusUp, schemas.StatusDown, "timeout")},
		},
		{
			// A start must finish within grace: a new check overrunning its start goes down.
			name:        "new check, overrunning start",
			steps:       []step{created, at(time.Minute, ping(schemas.PingStart))},
			now:         11 * time.Minute,
			wantStatus:  schemas.StatusDown,
			wantEffects: []Effect{flipped(11*time.Minute, 1, schemas.StatusNew, schemas.StatusDown, "timeout")},
		},
		{
			// A paused check that starts and never finishes goes paused → down.
			name:        "paused check, overrunning start",
			steps:       []step{created, at(0, schemas.CheckPaused{}), at(time.Minute, ping(schemas.PingStart))},
			now:         time.Hour,
			wantStatus:  schemas.StatusDown,
			wantEffects: []Effect{flipped(11*time.Minute, 2, schemas.StatusPaused, schemas.StatusDown, "timeout")},
		},
		{
			// A running up check is due at min(schedule, start) + grace.
			name:        "up and running",
			steps:       []step{created, at(0, ping(schemas.PingSuccess)), at(5*time.Minute, ping(schemas.PingStart))},
			now:         15 * time.Minute,
			wantStatus:  schemas.StatusDown,
			wantEffects: []Effect{flipped(15*time.Minute, 2, schemas.StatusUp, schemas.StatusDown, "timeout")},
		},
		{
			// New, paused and down checks without a run have no deadline.
			name:       "new check never goes down",
			steps:      []step{created},
			now:        1000 * time.Hour,
			wantStatus: schemas.StatusNew,
		},
		{
			name:       "down stays down without a second flip",
			steps:      []step{created, at(0, ping(schemas.PingFail))},
			now:        1000 * time.Hour,
			wantStatus: schemas.StatusDown,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := fold(tt.steps)
			s, effects := Advance(s, t0.Add(tt.now))
			if s.Status != tt.wantStatus {
				t.Errorf("status %s, want %s", s.Status, tt.wantStatus)
			}
			if diff := cmp.Diff(tt.wantEffects, effects); diff != "" {
				t.Errorf("effects (-want +got):\n%s", diff)
			}
			if again, more := Advance(s, t0.Add(tt.now+time.Hour)); len(tt.wantEffects) > 0 && (len(more) != 0 || again.FlipSeq != s.FlipSeq) {
				t.Errorf("a second Advance flipped again: %v", more)
			}
		})
	}
}

func TestNextDeadline(t *testing.T) {
	s, _ := fold([]step{at(0, schemas.CheckCreated{Config: defaultConfig()}), at(0, ping(schemas.PingSuccess))})
	if d, ok := NextDeadline(s); !ok || !d.Equal(t0.Add(70*time.Minute)) {
		t.Errorf("NextDeadline = %v %v, want +70m", d, ok)
	}
	s, _ = Advance(s, t0.Add(70*time.Minute))
	if _, ok := NextDeadline(s); ok {
		t.Error("a down check has no deadline")
	}
}

func TestHold(t *testing.T) {
	s, _ := fold([]step{at(0, schemas.CheckCreated{Config: defaultConfig()}), at(0, ping(schemas.PingSuccess))})
	// An outage from +30m to +2h: the check had 40 minutes left and keeps them.
	s, held := Hold(s, 90*time.Minute)
	if !held {
		t.Fatal("an up check with a deadline must be held")
	}
	if d, _ := NextDeadline(s); !d.Equal(t0.Add(160 * time.Minute)) {
		t.Errorf("deadline after the hold = +%v, want +160m", d.Sub(t0))
	}
	if _, effects := Advance(s, t0.Add(159*time.Minute)); len(effects) != 0 {
		t.Errorf("flipped before the postponed deadline: %v", effects)
	}
	// The API's status agrees with the flips: late, not down, until the postponed deadline.
	if got := StatusAt(s, t0.Add(159*time.Minute), false); got != Grace {
		t.Errorf("status before the postponed deadline = %s, want grace", got)
	}
	if got := StatusAt(s, t0.Add(160*time.Minute), false); got != "down" {
		t.Errorf("status at the postponed deadline = %s, want down", got)
	}
	if _, effects := Advance(s, t0.Add(160*time.Minute)); len(effects) != 1 {
		t.Errorf("no flip at the postponed deadline")
	}
	// The next ping sets a fresh deadline without the hold.
	s, _ = Apply(s, schemas.Event{CheckID: checkID, ProjectID: project, At: t0.Add(2 * time.Hour), Body: ping(schemas.PingSuccess)})
	if s.Held != 0 {
		t.Errorf("held %v after a new ping", s.Held)
	}
	// A new check has no deadline and nothing to hold.
	if _, held := Hold(State{Exists: true, Config: defaultConfig()}, time.Hour); held {
		t.Error("a new check without a run was held")
	}
}

// A start after an outage keeps the hold the deadline by schedule still needs, and
// gives the run itself none of it: the check is due at min(schedule + hold, start) +
// grace.
func TestHoldThroughAStart(t *testing.T) {
	for _, tc := range []struct {
		name          string
		start         time.Duration
		wantDownAfter time.Duration
	}{
		// Due at +60m by schedule, held 40m to +100m (down at +110m).
		{"a start within the held grace keeps the hold", 105 * time.Minute, 110 * time.Minute},
		{"a start while the hold still runs is timed from the start", 80 * time.Minute, 90 * time.Minute},
		{"a start before the schedule's deadline needs no hold", 30 * time.Minute, 40 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := fold([]step{at(0, schemas.CheckCreated{Config: defaultConfig()}), at(0, ping(schemas.PingSuccess))})
			s, _ = Hold(s, 40*time.Minute)
			s, effects := Apply(s, schemas.Event{CheckID: checkID, ProjectID: project, At: t0.Add(tc.start), Body: ping(schemas.PingStart)})
			for _, e := range effects {
				if _, ok := e.(Flipped); ok {
					t.Fatalf("the start flipped the check: %v", effects)
				}
			}
			if got, ok := AlertAfter(s); !ok || !got.Equal(t0.Add(tc.wantDownAfter)) {
				t.Errorf("alert after +%v, want +%v", got.Sub(t0), tc.wantDownAfter)
			}
			if _, effects := Advance(s, t0.Add(tc.wantDownAfter-time.Nanosecond)); len(effects) != 0 {
				t.Errorf("flipped before +%v: %v", tc.wantDownAfter, effects)
			}
			if got := StatusAt(s, t0.Add(tc.wantDownAfter), false); got != "down" {
				t.Errorf("status at +%v = %s, want down", tc.wantDownAfter, got)
			}
			if _, effects := Advance(s, t0.Add(tc.wantDownAfter)); len(effects) != 1 {
				t.Errorf("no flip at +%v", tc.wantDownAfter)
			}
		})
	}
}

// Cron and OnCalendar checks are due at the next match after the last ping, in their time
// zone, with the daylight-saving handling of Debian cron and systemd respectively.
func TestScheduleDeadlines(t *testing.T) {
	cron := func(expr, tz string) schemas.CheckConfig {
		return schemas.CheckConfig{Kind: schemas.KindCron, Schedule: expr, TZ: tz, Grace: time.Hour}
	}
	onCalendar := func(expr, tz string) schemas.CheckConfig {
		return schemas.CheckConfig{Kind: schemas.KindOnCalendar, Schedule: expr, TZ: tz, Grace: time.Hour}
	}
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name      string
		cfg       schemas.CheckConfig
		lastPing  string
		wantNext  string
		beforeDue string // still up or grace here
		due       string // down exactly here
	}{
		{"daily in Riga", cron("0 9 * * *", "Europe/Riga"), "2026-01-05T07:00:10Z", "2026-01-06T07:00:00Z", "2026-01-06T07:59:59Z", "2026-01-06T08:00:00Z"},
		// 02:30 does not exist on 2026-03-29 in Berlin: expected at 03:00 CEST.
		{"Berlin spring forward", cron("30 2 * * *", "Europe/Berlin"), "2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z", "2026-03-29T01:59:00Z", "2026-03-29T02:00:00Z"},
		// 02:30 happens twice on 2026-10-25 in Berlin: expected at the first.
		{"Berlin fall back", cron("30 2 * * *", "Europe/Berlin"), "2026-10-24T00:30:00Z", "2026-10-25T00:30:00Z", "2026-10-25T01:29:00Z", "2026-10-25T01:30:00Z"},
		{"New York spring forward", cron("0 2 * * *", "America/New_York"), "2026-03-07T07:00:00Z", "2026-03-08T07:00:00Z", "2026-03-08T07:59:00Z", "2026-03-08T08:00:00Z"},
		{"OnCalendar weekdays in Riga", onCalendar("Mon..Fri 09:00", "Europe/Riga"), "2026-01-09T07:00:10Z", "2026-01-12T07:00:00Z", "2026-01-12T07:59:59Z", "2026-01-12T08:00:00Z"},
		// systemd does not run 02:30 on 2026-03-29 in Berlin, so the check is not expected
		// until the next day: no false alarm on the night the clocks go forward.
		{"OnCalendar Berlin spring forward", onCalendar("02:30", "Europe/Berlin"), "2026-03-28T01:30:00Z", "2026-03-30T00:30:00Z", "2026-03-30T01:29:59Z", "2026-03-30T01:30:00Z"},
		// 02:30 happens twice on 2026-10-25 in Berlin: expected at the first.
		{"OnCalendar Berlin fall back", onCalendar("02:30", "Europe/Berlin"), "2026-10-24T00:30:00Z", "2026-10-25T00:30:00Z", "2026-10-25T01:29:00Z", "2026-10-25T01:30:00Z"},
		{"OnCalendar Sydney spring forward", onCalendar("02:30", "Australia/Sydney"), "2026-10-02T16:30:00Z", "2026-10-04T15:30:00Z", "2026-10-04T16:29:59Z", "2026-10-04T16:30:00Z"},
		// A zone at the end of a line overrides the check's.
		{"OnCalendar line zone", onCalendar("09:00 America/New_York\n23:00", "Europe/Riga"), "2026-01-05T14:00:10Z", "2026-01-05T21:00:00Z", "2026-01-05T21:59:59Z", "2026-01-05T22:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := State{Exists: true, Status: schemas.StatusUp, LastPing: utc(tt.lastPing), Config: tt.cfg}
			next, ok := NextPing(s)
			if !ok || !next.Equal(utc(tt.wantNext)) {
				t.Fatalf("next_ping = %v %v, want %s", next.UTC(), ok, tt.wantNext)
			}
			if got := StatusAt(s, utc(tt.beforeDue), false); got != Grace {
				t.Errorf("status at %s = %s, want grace", tt.beforeDue, got)
			}
			if _, effects := Advance(s, utc(tt.beforeDue)); len(effects) != 0 {
				t.Errorf("flipped before the deadline")
			}
			_, effects := Advance(s, utc(tt.due))
			if len(effects) != 1 || !effects[0].(Flipped).At.Equal(utc(tt.due)) {
				t.Errorf("at %s: effects %v, want a timeout flip dated then", tt.due, effects)
			}
		})
	}
}

// An OnCalendar schedule with no match left (the search stops at 2200) never makes the
// check late, as Healthchecks' StopIteration leaves it up.
func TestOnCalendarWithoutNextMatch(t *testing.T) {
	cfg := schemas.CheckConfig{Kind: schemas.KindOnCalendar, Schedule: "2199-12-31 23:59:59\n2100-02-29", TZ: "UTC", Grace: time.Hour}
	s := State{Exists: true, Status: schemas.StatusUp, LastPing: time.Date(2199, 12, 31, 23, 59, 59, 0, time.UTC), Config: cfg}
	if next, ok := NextPing(s); ok {
		t.Errorf("next_ping = %v, want none", next)
	}
	later := time.Date(2250, 1, 1, 0, 0, 0, 0, time.UTC)
	if got := StatusAt(s, later, false); got != schemas.StatusUp.String() {
		t.Errorf("status = %s, want up", got)
	}
	if _, effects := Advance(s, later); len(effects) != 0 {
		t.Errorf("effects %v, want none", effects)
	}
}
