package main

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// Every setting's documented default must be accepted by its own parser.
func TestDefaultsParse(t *testing.T) {
	cfg, err := loadConfig(flag.NewFlagSet("hcstream", flag.ContinueOnError), nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatalf("loading with every default: %v", err)
	}
	if cfg.CheckLimit != 0 || cfg.PingBodyLimit != 10000 {
		t.Errorf("defaults: check limit %d, ping body limit %d", cfg.CheckLimit, cfg.PingBodyLimit)
	}
	_, err = loadConfig(flag.NewFlagSet("hcstream", flag.ContinueOnError), nil, func(k string) string {
		if k == "HC_CHECK_LIMIT" {
			return "-1"
		}
		return ""
	}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "HC_CHECK_LIMIT") {
		t.Errorf("HC_CHECK_LIMIT=-1: %v, want an error naming it", err)
	}
}

// The produce spacing may be 0 (off) but not so long that pings would wait for it
// instead of for Kafka; other durations stay positive.
func TestDurationBounds(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		want        time.Duration
		ok          bool
	}{
		{"HC_INGEST_PRODUCE_SPACING", "0", 0, true},
		{"HC_INGEST_PRODUCE_SPACING", "5ms", 5 * time.Millisecond, true},
		{"HC_INGEST_PRODUCE_SPACING", "100ms", 100 * time.Millisecond, true},
		{"HC_INGEST_PRODUCE_SPACING", "101ms", 0, false},
		{"HC_INGEST_PRODUCE_SPACING", "-1ms", 0, false},
		{"HC_INGEST_PRODUCE_SPACING", "soon", 0, false},
		{"HC_INGEST_PUBLISH_TIMEOUT", "0", 0, false},
		{"HC_INGEST_PUBLISH_TIMEOUT", "1h", time.Hour, true},
	} {
		cfg, err := loadConfig(flag.NewFlagSet("hcstream", flag.ContinueOnError), nil, func(k string) string {
			if k == tc.name {
				return tc.value
			}
			return ""
		}, io.Discard)
		switch {
		case !tc.ok && (err == nil || !strings.Contains(err.Error(), tc.name)):
			t.Errorf("%s=%s: %v, want an error naming it", tc.name, tc.value, err)
		case tc.ok && err != nil:
			t.Errorf("%s=%s: %v", tc.name, tc.value, err)
		case tc.ok && tc.name == "HC_INGEST_PRODUCE_SPACING" && cfg.ProduceSpacing != tc.want,
			tc.ok && tc.name == "HC_INGEST_PUBLISH_TIMEOUT" && cfg.PublishTimeout != tc.want:
			t.Errorf("%s=%s: read as %v and %v, want %v", tc.name, tc.value, cfg.ProduceSpacing, cfg.PublishTimeout, tc.want)
		}
	}
}

// A publish timeout that a ping could spend waiting out the produce spacing is refused,
// naming both settings.
func TestPublishTimeoutLeavesRoomAfterTheSpacing(t *testing.T) {
	for _, tc := range []struct {
		timeout, spacing string
		ok               bool
	}{
		{"3ms", "2ms", false},
		{"2ms", "2ms", false},
		{"4ms", "2ms", true},
		{"1ms", "0", true},
		{"199ms", "100ms", false},
		{"200ms", "100ms", true},
	} {
		env := map[string]string{"HC_INGEST_PUBLISH_TIMEOUT": tc.timeout, "HC_INGEST_PRODUCE_SPACING": tc.spacing}
		_, err := loadConfig(flag.NewFlagSet("hcstream", flag.ContinueOnError), nil, func(k string) string { return env[k] }, io.Discard)
		switch {
		case tc.ok && err != nil:
			t.Errorf("timeout %s, spacing %s: %v", tc.timeout, tc.spacing, err)
		case !tc.ok && (err == nil || !strings.Contains(err.Error(), "HC_INGEST_PUBLISH_TIMEOUT") || !strings.Contains(err.Error(), "HC_INGEST_PRODUCE_SPACING")):
			t.Errorf("timeout %s, spacing %s: %v, want an error naming both", tc.timeout, tc.spacing, err)
		}
	}
}

func TestSettingsAreTheEffectiveValuesWithSecretsHidden(t *testing.T) {
	env := map[string]string{"HC_PING_BODY_LIMIT": "5000", "HC_LISTEN": "127.0.0.1:7000", "HC_CLICKHOUSE_PASSWORD": "hunter2"}
	cfg, err := loadConfig(flag.NewFlagSet("hcstream", flag.ContinueOnError), []string{"--listen", "127.0.0.1:9999"},
		func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var logged strings.Builder
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("starting", "settings", slog.GroupValue(cfg.Settings...))
	var line struct{ Settings map[string]string }
	if err := json.Unmarshal([]byte(logged.String()), &line); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"HC_PING_BODY_LIMIT":     "5000",
		"HC_LISTEN":              "127.0.0.1:9999", // the flag over the variable
		"HC_CHECK_LIMIT":         "0",              // the default
		"HC_CLICKHOUSE_PASSWORD": "(set)",
	}
	for name, value := range want {
		if line.Settings[name] != value {
			t.Errorf("%s logged as %q, want %q", name, line.Settings[name], value)
		}
	}
	if len(line.Settings) != len(envVars()) {
		t.Errorf("%d settings logged, want all %d", len(line.Settings), len(envVars()))
	}
	if strings.Contains(logged.String(), "hunter2") {
		t.Errorf("the password was logged: %s", logged.String())
	}
}

func TestHelpPrintsTheUsage(t *testing.T) {
	for _, arg := range []string{"help", "-h", "-help", "--help"} {
		var out, errs strings.Builder
		if code := run(context.Background(), []string{arg}, func(string) string { return "" }, &out, &errs); code != 0 || out.String() != usage {
			t.Errorf("hcstream %s: exit %d, printed %q (stderr %q); want 0 and the usage", arg, code, out.String(), errs.String())
		}
	}
}
