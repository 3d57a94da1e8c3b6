package logthrottle

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestPassLetsOneLinePerInterval(t *testing.T) {
	start := time.Date(2026, 12, 2, 7, 0, 0, 0, time.UTC)
	var throttle Throttle
	for i, step := range []struct {
		after    time.Duration
		wantOK   bool
		wantHeld int
	}{
		{0, true, 0},
		{0, false, 0},
		{time.Second, false, 0},
		{Interval - time.Nanosecond, false, 0},
		{Interval, true, 3},
		{Interval + time.Second, false, 0},
		{3 * Interval, true, 1},
		{5 * Interval, true, 0},
	} {
		ok, held := throttle.pass(start.Add(step.after))
		if ok != step.wantOK || held != step.wantHeld {
			t.Errorf("step %d (+%v): %v, %d held; want %v, %d", i, step.after, ok, held, step.wantOK, step.wantHeld)
		}
	}
}

func TestLogWritesPassingLinesWithTheCountHeldBack(t *testing.T) {
	start := time.Date(2026, 12, 2, 7, 0, 0, 0, time.UTC)
	var out strings.Builder
	logger := slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	var throttle Throttle
	for _, after := range []time.Duration{0, time.Second, 2 * time.Second, Interval} {
		throttle.Log(context.Background(), logger, start.Add(after), slog.LevelWarn, "publishing ping", "err", "broker down")
	}
	want := "level=WARN msg=\"publishing ping\" err=\"broker down\" not_logged=0\n" +
		"level=WARN msg=\"publishing ping\" err=\"broker down\" not_logged=2\n"
	if out.String() != want {
		t.Errorf("logged:\n%s\nwant:\n%s", out.String(), want)
	}
}
