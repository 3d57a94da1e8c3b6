package main

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// A mix names known kinds, the unknown one included, with whole, non-negative weights.
func TestParseMix(t *testing.T) {
	kinds, err := parseMix("success=80, unknown=15,fail=5")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, k := range kinds {
		got = append(got, k.name)
	}
	if strings.Join(got, ",") != "success,unknown,fail" {
		t.Errorf("kinds %v, want success, unknown, fail in order", got)
	}
	for _, bad := range []string{"success", "success=x", "success=-1", "sometimes=3", ""} {
		if _, err := parseMix(bad); err == nil {
			t.Errorf("-mix %q accepted", bad)
		}
	}
}

// Kinds are picked in proportion to their weights, and a kind of weight 0 never.
func TestPickFollowsTheWeights(t *testing.T) {
	kinds, err := parseMix("success=3,unknown=1,fail=0")
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	counts := map[string]int{}
	const n = 40000
	for range n {
		counts[pick(kinds, r).name]++
	}
	if counts["fail"] != 0 {
		t.Errorf("a kind of weight 0 was picked %d times", counts["fail"])
	}
	if share := float64(counts["unknown"]) / n; share < 0.23 || share > 0.27 {
		t.Errorf("unknown picked %.3f of the time, want about 0.25", share)
	}
}

// Numbers that would measure nothing are refused, each naming its flag.
func TestOptionsValidate(t *testing.T) {
	good := options{checks: 1000, concurrency: 256, rate: 25000, duration: time.Minute, warmup: 5 * time.Second}
	if err := good.validate(); err != nil {
		t.Fatalf("make load's options: %v", err)
	}
	for flag, bad := range map[string]func(*options){
		"-checks":      func(o *options) { o.checks = 0 },
		"-concurrency": func(o *options) { o.concurrency = 0 },
		"-rate":        func(o *options) { o.rate = -1 },
		"-burst":       func(o *options) { o.burst = -5 },
		"-duration":    func(o *options) { o.duration = 0 },
		"-warmup":      func(o *options) { o.warmup = -time.Second },
	} {
		o := good
		bad(&o)
		if err := o.validate(); err == nil || !strings.Contains(err.Error(), flag) {
			t.Errorf("%s out of range: %v, want an error naming it", flag, err)
		}
	}
}
