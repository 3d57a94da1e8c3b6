package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// keysFrom is where the key-value pairs of a logger method's arguments start.
var keysFrom = map[string]int{
	"Debug": 1, "Info": 1, "Warn": 1, "Error": 1,
	"DebugContext": 2, "InfoContext": 2, "WarnContext": 2, "ErrorContext": 2,
	"With": 0,
}

// isLogger is whether a method's receiver is one of the code's loggers, which are
// all named for what they are (log, logger, p.log, in.log, …).
func isLogger(x ast.Expr) bool {
	switch x := x.(type) {
	case *ast.Ident:
		return strings.Contains(strings.ToLower(x.Name), "log")
	case *ast.SelectorExpr:
		return strings.Contains(strings.ToLower(x.Sel.Name), "log")
	}
	return false
}

// Every key the code logs with is in README's list, so operators can rely on a small,
// stable set of keys in their queries.
func TestLogKeysAreDocumented(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	section, _, _ := strings.Cut(string(readme[strings.Index(string(readme), "### Logs and metrics"):]), "| Metric |")
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("`([a-z_]+)`").FindAllStringSubmatch(section, -1) {
		documented[m[1]] = true
	}
	if !documented["check_id"] || !documented["err"] {
		t.Fatalf("found no key list in README's Logs and metrics section: %v", documented)
	}
	calls := 0
	err = filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != "../.." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "deploy") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		fset := token.NewFileSet()
		file, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			method, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			from, ok := keysFrom[method.Sel.Name]
			if !ok || !isLogger(method.X) {
				// A throttled line: throttle.Log(ctx, logger, now, level, msg, key, value, …).
				if method.Sel.Name != "Log" || len(call.Args) < 5 || !isLogger(call.Args[1]) {
					return true
				}
				from = 5
			}
			calls++
			for i := from; i < len(call.Args); i += 2 {
				lit, ok := call.Args[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					t.Errorf("%s: a log key that is not a string literal", fset.Position(call.Args[i].Pos()))
					continue
				}
				if key, _ := strconv.Unquote(lit.Value); !documented[key] {
					t.Errorf("%s: log key %q is not in README's list", fset.Position(lit.Pos()), key)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls < 30 {
		t.Fatalf("found %d logging calls; the search is broken", calls)
	}
}
