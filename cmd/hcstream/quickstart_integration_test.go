//go:build integration

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// quickStartScript is the shell block of README's Quick start, which readers paste as
// it is.
func quickStartScript(t *testing.T) string {
	t.Helper()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Quick start\n")
	if !ok {
		t.Fatal("README has no Quick start section")
	}
	_, block, ok := strings.Cut(section, "```sh\n")
	if !ok {
		t.Fatal("README's Quick start has no sh block")
	}
	block, _, ok = strings.Cut(block, "```")
	if !ok {
		t.Fatal("README's Quick start block does not end")
	}
	return block
}

// TestQuickStartRuns runs README's Quick start against a stack, with the stack's own
// binary and address in place of make run's: a command in it that stopped working
// (the check's uuid not extracted, say) fails here.
func TestQuickStartRuns(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("the Quick start needs curl: ", err)
	}
	s := startStack(t, isolatedEnv(t))
	binary := filepath.Join(t.TempDir(), "hcstream")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		t.Fatalf("building hcstream: %v\n%s", err, out)
	}
	script := quickStartScript(t)
	for _, needed := range []string{"bin/hcstream", "127.0.0.1:8000", "sleep 1\n"} {
		if !strings.Contains(script, needed) {
			t.Fatalf("the Quick start no longer has %q; update this test with it:\n%s", needed, script)
		}
	}
	script = strings.ReplaceAll(script, "bin/hcstream", binary)
	script = strings.ReplaceAll(script, "127.0.0.1:8000", s.env["HC_LISTEN"])
	// The script gives the fold a second, plenty on a quiet machine; a loaded CI box
	// is given more, since this test is about the commands, not the fold's speed.
	script = strings.ReplaceAll(script, "sleep 1\n", "sleep 5\n")

	cmd := exec.Command("bash", "-e", "-o", "pipefail", "-c", script)
	cmd.Env = os.Environ()
	for k, v := range s.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the Quick start failed: %v\n%s", err, out)
	}
	printed := string(out)
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`"api_key":"hcw_`),                                     // project create
		regexp.MustCompile(`(?m)^OK\nOK\n`),                                       // both pings
		regexp.MustCompile(`"name": "Backups", .*"n_pings": 2, "status": "down"`), // the check, after its fail ping
		regexp.MustCompile(`\{"pings": \[\{"type": "fail", .*\{"type": "success", `),
		regexp.MustCompile(`(?m)^OK\n\{"ok":true,`), // status, as text and as JSON
	} {
		if !want.MatchString(printed) {
			t.Errorf("the Quick start's output does not match %s:\n%s", want, printed)
		}
	}
}
