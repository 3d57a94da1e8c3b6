package check

import (
	"testing"
	"time"

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
