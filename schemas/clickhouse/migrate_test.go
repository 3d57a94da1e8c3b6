package clickhouse

import (
	"strings"
	"testing"
)

func TestMigrationsParse(t *testing.T) {
	ms, err := Migrations("hc_test")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 || ms[0].Version != 1 {
		t.Fatalf("migrations = %+v", ms)
	}
	seen := map[int]bool{}
	for _, m := range ms {
		if seen[m.Version] {
			t.Errorf("migration version %d appears twice", m.Version)
		}
		seen[m.Version] = true
		for _, stmt := range m.Statements {
			if strings.Contains(stmt, "{db}") || strings.Contains(stmt, ";") {
				t.Errorf("migration %d: statement not split or not substituted: %q", m.Version, stmt)
			}
			if !strings.Contains(stmt, "IF NOT EXISTS") && !addColumn.MatchString(stmt) {
				t.Errorf("migration %d: every statement must be idempotent (IF NOT EXISTS, or an ADD COLUMN the migrator checks): %q", m.Version, stmt)
			}
		}
	}
	if got := len(ms[0].Statements); got != 4 || len(ms) < 2 || len(ms[1].Statements) != 2 {
		t.Errorf("001 has %d statements, want 4", got)
	}
}

func TestDatabaseNameValidated(t *testing.T) {
	for _, bad := range []string{"", "a-b", "x; DROP", "1abc"} {
		if _, err := Migrations(bad); err == nil {
			t.Errorf("Migrations(%q) accepted an unsafe name", bad)
		}
	}
}
