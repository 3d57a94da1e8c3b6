package main

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const module = "github.com/hcstream/hcstream"

// goList returns, per package of the module, what `go list` prints for format.
func goList(t *testing.T, format string, args ...string) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-f", format}, args...)...)
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	result := map[string][]string{}
	for line := range strings.Lines(string(out)) {
		fields := strings.Fields(line)
		if len(fields) > 0 {
			result[fields[0]] = fields[1:]
		}
	}
	return result
}

// The core is pure, and each library stays at its edge.
func TestDependencyRules(t *testing.T) {
	// Pure packages: the standard library and other pure hcstream packages only, and none
	// of the I/O parts of the standard library.
	pure := []string{"schemas", "projector/check", "projector/deadline", "projector/schedule", "ingest/pingurl"}
	pureDep := map[string]bool{module + "/schemas": true, module + "/projector/check": true, module + "/projector/schedule": true, module + "/projector/deadline": true}
	forbiddenStd := map[string]bool{"net/http": true, "log/slog": true, "log": true, "os/exec": true, "database/sql": true}
	for _, pkg := range pure {
		deps := goList(t, `{{.ImportPath}} {{join .Deps " "}}`, "./"+pkg)[module+"/"+pkg]
		for _, dep := range deps {
			external := strings.Contains(strings.Split(dep, "/")[0], ".")
			if (external && !strings.HasPrefix(dep, module)) || forbiddenStd[dep] {
				t.Errorf("%s must stay pure but depends on %s", pkg, dep)
			}
			if strings.HasPrefix(dep, module+"/") && !pureDep[dep] {
				t.Errorf("%s must depend only on pure packages, not %s", pkg, dep)
			}
		}
	}

	allowed := map[string][]string{
		"github.com/segmentio/kafka-go":          {"schemas/kafkarec", "ingest", "projector", "query", "query/status", "cmd", "deploy/testenv"},
		"github.com/ClickHouse/clickhouse-go/v2": {"schemas/clickhouse", "projector/history", "query/store", "query/status", "cmd", "deploy/testenv"},
		"github.com/gorilla/mux":                 {"ingest", "query", "cmd"},
		"github.com/prometheus/client_golang":    {"ingest", "projector", "query", "cmd"},
		module + "/cmd":                          {},
		module + "/deploy/testenv":               {},
	}
	imports := goList(t, `{{.ImportPath}} {{join .Imports " "}}`, "./...")
	for pkg, deps := range imports {
		rel := strings.TrimPrefix(strings.TrimPrefix(pkg, module), "/")
		for _, dep := range deps {
			for lib, users := range allowed {
				if dep != lib && !strings.HasPrefix(dep, lib+"/") {
					continue
				}
				ok := false
				for _, u := range users {
					ok = ok || rel == u || u == "cmd" && strings.HasPrefix(rel, "cmd/")
				}
				if !ok {
					t.Errorf("%s imports %s; only %v may", rel, dep, users)
				}
			}
		}
	}
}

// The fold and the codec never read the wall clock: replay must give the same result.
func TestPureCoreReadsNoClock(t *testing.T) {
	for _, dir := range []string{"schemas", "projector/check", "projector/deadline", "projector/schedule", "ingest/pingurl"} {
		files, _ := filepath.Glob(filepath.Join("../..", dir, "*.go"))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if regexp.MustCompile(`time\.(Now|Since|Until)\(`).Match(src) {
				t.Errorf("%s reads the wall clock", f)
			}
		}
	}
}

// README documents every setting, with its default.
func TestREADMEListsEverySetting(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range envVars() {
		def := "(empty)"
		if v.def != "" {
			def = "`" + v.def + "`"
		} else if v.name == "HC_INGEST_TRUSTED_PROXIES" {
			def = "(none)"
		}
		if !strings.Contains(string(readme), "| `"+v.name+"` | "+def+" |") {
			t.Errorf("README's configuration table lacks %s with default %s", v.name, def)
		}
	}
}

// make fuzz runs every fuzz target, in its package.
func TestMakeFuzzRunsEveryTarget(t *testing.T) {
	makefile, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	target := regexp.MustCompile(`(?m)^func (Fuzz\w+)\(`)
	found := 0
	err = filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".") && path != "../.." {
			return filepath.SkipDir
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		text, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		pkg := "./" + filepath.ToSlash(filepath.Dir(strings.TrimPrefix(path, "../../")))
		for _, m := range target.FindAllStringSubmatch(string(text), -1) {
			found++
			if want := "-fuzz '^" + m[1] + "$$' -fuzztime $(FUZZTIME) " + pkg + "\n"; !strings.Contains(string(makefile), want) {
				t.Errorf("make fuzz does not run %s in %s", m[1], pkg)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found < 15 {
		t.Fatalf("found %d fuzz targets; the search is broken", found)
	}
}
