package main

import (
	"math/rand/v2"
	"strings"
	"testing"
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
