package main

import (
	"flag"
	"io"
	"strings"
	"testing"
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
