// Package clickhouse holds hcstream's ClickHouse schema as numbered, append-only
// migrations (migrations/NNN_name.sql) and the migrator that applies them.
//
// Every statement must run on ClickHouse 18.16 and on current releases. A shipped
// migration is never edited: a change is a new file.
package clickhouse

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migration is one numbered file of statements.
type Migration struct {
	Version    int
	Name       string
	Statements []string
}

var databaseName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ValidDatabase reports whether name is usable unquoted in every statement.
func ValidDatabase(name string) error {
	if !databaseName.MatchString(name) {
		return fmt.Errorf("clickhouse database %q: use letters, digits and underscores only", name)
	}
	return nil
}

// Migrations returns every migration in order, with {db} replaced by database.
func Migrations(database string) ([]Migration, error) {
	if err := ValidDatabase(database); err != nil {
		return nil, err
	}
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []Migration
	for _, path := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(path, "migrations/"), ".sql")
		num, name, ok := strings.Cut(base, "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration file %s: want NNN_name.sql", path)
		}
		raw, err := migrationFiles.ReadFile(path)
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: version, Name: name, Statements: splitStatements(strings.ReplaceAll(string(raw), "{db}", database))})
	}
	return out, nil
}

// splitStatements cuts a file at semicolons that end a line and drops comment lines:
// ClickHouse accepts one statement per query.
func splitStatements(sql string) []string {
	var out []string
	var cur strings.Builder
	for line := range strings.Lines(sql) {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "--") {
			continue
		}
		cur.WriteString(line)
		if strings.HasSuffix(trimmed, ";") {
			if stmt := strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"); stmt != "" {
				out = append(out, stmt)
			}
			cur.Reset()
		}
	}
	if stmt := strings.TrimSpace(cur.String()); stmt != "" {
		out = append(out, stmt)
	}
	return out
}

// Migrate creates the database and applies every migration not yet recorded in
// schema_migrations. Statements are idempotent (IF NOT EXISTS), so a migration
// interrupted before it was recorded is simply applied again. Site secrets the database
// lacks are taken from secretsFrom (a database being rebuilt keeps its badge URLs), or,
// without one, generated.
func Migrate(ctx context.Context, conn driver.Conn, database string, secretsFrom ...string) (applied []int, err error) {
	migrations, err := Migrations(database)
	if err != nil {
		return nil, err
	}
	for _, stmt := range []string{
		"CREATE DATABASE IF NOT EXISTS " + database,
		"CREATE TABLE IF NOT EXISTS " + database + ".schema_migrations (version UInt32, name String, applied_at DateTime) ENGINE = ReplacingMergeTree ORDER BY version",
	} {
		if err := conn.Exec(ctx, stmt); err != nil {
			return nil, fmt.Errorf("preparing database %s: %w", database, err)
		}
	}
	done, err := appliedVersions(ctx, conn, database)
	if err != nil {
		return nil, fmt.Errorf("reading applied migrations: %w", err)
	}
	for _, m := range migrations {
		if done[m.Version] {
			continue
		}
		for i, stmt := range m.Statements {
			if exists, err := addsExistingColumn(ctx, conn, stmt); err != nil || exists {
				if err != nil {
					return applied, fmt.Errorf("applying migration %03d_%s statement %d: %w", m.Version, m.Name, i+1, err)
				}
				continue
			}
			if err := conn.Exec(ctx, stmt); err != nil {
				// Another process migrating the same database at once (replicas starting
				// together) may have added the column between the check and the ALTER.
				if exists, _ := addsExistingColumn(ctx, conn, stmt); exists {
					continue
				}
				return applied, fmt.Errorf("applying migration %03d_%s statement %d: %w", m.Version, m.Name, i+1, err)
			}
		}
		if err := conn.Exec(ctx, "INSERT INTO "+database+".schema_migrations (version, name, applied_at) SELECT ?, ?, now()", m.Version, m.Name); err != nil {
			return applied, fmt.Errorf("recording migration %03d_%s: %w", m.Version, m.Name, err)
		}
		applied = append(applied, m.Version)
	}
	for _, from := range secretsFrom {
		if err := ValidDatabase(from); err != nil {
			return applied, err
		}
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = ? AND name = 'site_secrets'", from).Scan(&n); err != nil {
			return applied, fmt.Errorf("looking for the site secrets of %s: %w", from, err)
		}
		if n == 0 {
			continue
		}
		for _, name := range SiteSecrets {
			if err := ensureSecret(ctx, conn, database, name, from); err != nil {
				return applied, err
			}
		}
	}
	for _, name := range SiteSecrets {
		if err := ensureSecret(ctx, conn, database, name, ""); err != nil {
			return applied, err
		}
	}
	return applied, nil
}

// SiteSecrets names the secrets Migrate generates once per database.
var SiteSecrets = []string{BadgeSecret}

// BadgeSecret keys the public badge URLs: their check and project keys and tag signatures.
const BadgeSecret = "badges"

// ensureSecret stores a secret under name unless one of that name exists: the one
// database copyFrom holds, or, when copyFrom is "", 32 new random bytes.
func ensureSecret(ctx context.Context, conn driver.Conn, database, name, copyFrom string) error {
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM "+database+".site_secrets WHERE name = ?", name).Scan(&n); err != nil {
		return fmt.Errorf("reading site secret %s: %w", name, err)
	}
	if n > 0 && copyFrom != "" {
		// A database rebuilt from another must serve the same badge URLs.
		const smallest = ".site_secrets WHERE name = ? ORDER BY secret LIMIT 1"
		var have, want string
		err := conn.QueryRow(ctx, "SELECT secret FROM "+database+smallest, name).Scan(&have)
		if err == nil {
			err = conn.QueryRow(ctx, "SELECT secret FROM "+copyFrom+smallest, name).Scan(&want)
		}
		if err != nil {
			return fmt.Errorf("comparing site secret %s with %s: %w", name, copyFrom, err)
		}
		if have != want {
			return fmt.Errorf("database %s already has its own site secret %s, not the one of %s: its badge URLs would differ; drop it and rebuild", database, name, copyFrom)
		}
	}
	if n > 0 {
		return nil
	}
	// Another first migration may have counted none as well: the server counts again as
	// it inserts, which narrows that race to the insert itself, and readers wait for a
	// name's secrets to settle before they use the smallest (query/store).
	insert := "INSERT INTO " + database + ".site_secrets (name, secret, created) "
	noneYet := "(SELECT count() FROM " + database + ".site_secrets WHERE name = ?) = 0"
	var err error
	if copyFrom != "" {
		err = conn.Exec(ctx, insert+"SELECT name, secret, created FROM "+copyFrom+".site_secrets WHERE name = ? AND "+noneYet+" ORDER BY secret LIMIT 1", name, name)
	} else {
		var b [32]byte
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
		err = conn.Exec(ctx, insert+"SELECT ?, ?, now() WHERE "+noneYet, name, hex.EncodeToString(b[:]), name)
	}
	if err != nil {
		return fmt.Errorf("storing site secret %s: %w", name, err)
	}
	return nil
}

var addColumn = regexp.MustCompile(`^ALTER TABLE ([A-Za-z0-9_]+)\.([A-Za-z0-9_]+) ADD COLUMN ([A-Za-z0-9_]+) `)

// addsExistingColumn reports whether stmt adds a column that is already there, which
// makes an interrupted migration safe to run again.
func addsExistingColumn(ctx context.Context, conn driver.Conn, stmt string) (bool, error) {
	m := addColumn.FindStringSubmatch(stmt)
	if m == nil {
		return false, nil
	}
	var n uint64
	err := conn.QueryRow(ctx, "SELECT count() FROM system.columns WHERE database = ? AND table = ? AND name = ?", m[1], m[2], m[3]).Scan(&n)
	return n > 0, err
}

func appliedVersions(ctx context.Context, conn driver.Conn, database string) (map[int]bool, error) {
	rows, err := conn.Query(ctx, "SELECT DISTINCT version FROM "+database+".schema_migrations")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	done := map[int]bool{}
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		done[int(v)] = true
	}
	return done, rows.Err()
}
