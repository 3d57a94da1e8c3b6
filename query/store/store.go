// Package store reads the projector's ClickHouse tables for the query API: projects by
// API key, check states and ping history.
//
// It only reads; the tables are written by projector/history, whose row codec it reuses
// so the two can never disagree on a column.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"

	"github.com/hcstream/hcstream/projector/history"
	"github.com/hcstream/hcstream/schemas"
	chschema "github.com/hcstream/hcstream/schemas/clickhouse"
)

// ErrNotFound is returned for a missing project or check.
var ErrNotFound = errors.New("not found")

// ClickHouse is the read model in ClickHouse.
type ClickHouse struct {
	conn     driver.Conn
	database string
}

// NewClickHouse reads from database.
func NewClickHouse(conn driver.Conn, database string) *ClickHouse {
	return &ClickHouse{conn: conn, database: database}
}

// Project is what the API needs to know about a project.
type Project struct {
	ID       schemas.ID
	Name     string
	ReadOnly bool
	PingKey  string
}

// ProjectKey is one API key's hash with the project it opens.
type ProjectKey struct {
	Hash    string
	Project Project
	// Created is when the project was created, by the clock of the process that did.
	Created time.Time
}

// ProjectKeys returns the read-write and read-only key hashes of every project created
// at or after createdSince; of all projects when it is zero. A project replayed into
// the table before its rows were merged may come twice, alike.
func (c *ClickHouse) ProjectKeys(ctx context.Context, createdSince time.Time) ([]ProjectKey, error) {
	query := "SELECT project_id, name, ping_key, api_key_hash, api_key_readonly_hash, created_us FROM " + c.database + ".projects"
	var args []any
	if !createdSince.IsZero() {
		query += " WHERE created_us >= ?"
		args = append(args, createdSince.UnixMicro())
	}
	rows, err := c.conn.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("reading project keys: %w", err)
	}
	defer rows.Close()
	var keys []ProjectKey
	for rows.Next() {
		var id uuid.UUID
		var p Project
		var readWrite, readOnly string
		var createdMicros int64
		if err := rows.Scan(&id, &p.Name, &p.PingKey, &readWrite, &readOnly, &createdMicros); err != nil {
			return nil, fmt.Errorf("scanning project keys: %w", err)
		}
		p.ID = schemas.ID(id)
		created := time.UnixMicro(createdMicros)
		keys = append(keys, ProjectKey{Hash: readWrite, Project: p, Created: created})
		p.ReadOnly = true
		keys = append(keys, ProjectKey{Hash: readOnly, Project: p, Created: created})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading project keys: %w", err)
	}
	return keys, nil
}

// ProjectVersion returns the version of a project row, 0 when absent.
func (c *ClickHouse) ProjectVersion(ctx context.Context, project schemas.ID) (uint64, error) {
	var v uint64
	err := c.conn.QueryRow(ctx, "SELECT max(version) FROM "+c.database+".projects WHERE project_id = ?", uuid.UUID(project)).Scan(&v)
	return v, err
}

// Checks returns the project's checks that are not deleted, ordered by creation.
func (c *ClickHouse) Checks(ctx context.Context, project schemas.ID) ([]history.CheckRow, error) {
	return c.checks(ctx, "project_id = ?", uuid.UUID(project))
}

// CheckCount returns how many checks a project has, deleted ones not counted.
func (c *ClickHouse) CheckCount(ctx context.Context, project schemas.ID) (int, error) {
	var n uint64
	if err := c.conn.QueryRow(ctx, "SELECT count() FROM "+c.database+".checks FINAL WHERE project_id = ? AND deleted = 0", uuid.UUID(project)).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting checks: %w", err)
	}
	return int(n), nil
}

// Check returns one check of a project.
func (c *ClickHouse) Check(ctx context.Context, project, check schemas.ID) (history.CheckRow, error) {
	rows, err := c.checks(ctx, "project_id = ? AND check_id = ?", uuid.UUID(project), uuid.UUID(check))
	if err != nil {
		return history.CheckRow{}, err
	}
	if len(rows) == 0 {
		return history.CheckRow{}, ErrNotFound
	}
	return rows[0], nil
}

// CheckProject returns the project owning a check, to tell 403 from 404.
func (c *ClickHouse) CheckProject(ctx context.Context, check schemas.ID) (schemas.ID, error) {
	rows, err := c.checks(ctx, "check_id = ?", uuid.UUID(check))
	if err != nil {
		return schemas.ID{}, err
	}
	if len(rows) == 0 {
		return schemas.ID{}, ErrNotFound
	}
	return rows[0].State.ProjectID, nil
}

// Secret returns the site secret called name, which migrations generate. Should two
// first migrations have raced and stored two, the smallest is the one every reader
// uses, and none is returned until the newest has settled (secretSettle): a reader
// between the two stores would otherwise take one that another process never uses.
func (c *ClickHouse) Secret(ctx context.Context, name string) (string, error) {
	for {
		var secret string
		var newest, now time.Time
		err := c.conn.QueryRow(ctx, "SELECT min(secret), max(created), now() FROM "+c.database+".site_secrets WHERE name = ?", name).Scan(&secret, &newest, &now)
		if err != nil {
			return "", fmt.Errorf("reading site secret %s: %w", name, err)
		}
		if secret == "" {
			return "", fmt.Errorf("site secret %s: %w (run hcstream migrate)", name, ErrNotFound)
		}
		wait := newest.Add(secretSettle).Sub(now)
		if wait <= 0 {
			return secret, nil
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return "", fmt.Errorf("site secret %s was stored %v ago and is not settled yet: %w", name, secretSettle-wait, ctx.Err())
		case <-timer.C:
		}
	}
}

// secretSettle is how long the newest secret of a name must have been stored before
// Secret answers. Racing first migrations store theirs within moments of each other;
// after this long no other comes, so every process takes the same smallest one. The
// server's clock counts whole seconds: a secret has settled for at least one.
const secretSettle = 2 * time.Second

// AwaitCheckVersion returns once the checks table holds a row of the check, deleted or
// not, with at least version, or with ctx's error (and the last read's) when ctx ends
// first. It polls, backing off from 5 ms to 100 ms between reads.
func (c *ClickHouse) AwaitCheckVersion(ctx context.Context, project, check schemas.ID, version uint64) error {
	wait := 5 * time.Millisecond
	for {
		got, err := c.checkVersion(ctx, project, check)
		if err == nil && got >= version {
			return nil
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			if err != nil {
				return fmt.Errorf("%w (last read: %w)", ctx.Err(), err)
			}
			return fmt.Errorf("%w (at version %d)", ctx.Err(), got)
		case <-timer.C:
		}
		wait = min(2*wait, 100*time.Millisecond)
	}
}

// AwaitRowsWritten returns at once: rows read from ClickHouse are in it.
func (c *ClickHouse) AwaitRowsWritten(context.Context, []history.CheckRow) error { return nil }

// checkVersion returns the version of a check's latest row, deleted or not, 0 when absent.
func (c *ClickHouse) checkVersion(ctx context.Context, project, check schemas.ID) (uint64, error) {
	var v uint64
	err := c.conn.QueryRow(ctx, "SELECT max(version) FROM "+c.database+".checks WHERE project_id = ? AND check_id = ?",
		uuid.UUID(project), uuid.UUID(check)).Scan(&v)
	return v, err
}

func (c *ClickHouse) checks(ctx context.Context, where string, args ...any) ([]history.CheckRow, error) {
	rows, err := c.conn.Query(ctx, "SELECT "+history.CheckColumns+" FROM "+c.database+".checks FINAL WHERE "+where+
		" AND deleted = 0 ORDER BY created_us, check_id", args...)
	if err != nil {
		return nil, fmt.Errorf("reading checks: %w", err)
	}
	defer rows.Close()
	var out []history.CheckRow
	for rows.Next() {
		row, err := history.ScanCheck(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

// Ping is one row of a check's ping history.
type Ping struct {
	N          uint64
	At         time.Time
	Kind       string
	Scheme     string
	RemoteAddr string
	Method     string
	UserAgent  string
	RunID      string
	Duration   time.Duration
	HasBody    bool
	// HasDuration is false when the ping was not paired with a start.
	HasDuration bool
}

// Pings returns the newest limit pings of a check, newest first.
func (c *ClickHouse) Pings(ctx context.Context, check schemas.ID, limit int) ([]Ping, error) {
	rows, err := c.conn.Query(ctx, "SELECT n, received_us, kind, scheme, remote_addr, method, ua, rid, duration_us, length(body) > 0 FROM "+
		c.database+".pings FINAL WHERE check_id = ? ORDER BY n DESC LIMIT ?", uuid.UUID(check), limit)
	if err != nil {
		return nil, fmt.Errorf("reading pings: %w", err)
	}
	defer rows.Close()
	var out []Ping
	for rows.Next() {
		var p Ping
		var at, duration int64
		var hasBody uint8
		if err := rows.Scan(&p.N, &at, &p.Kind, &p.Scheme, &p.RemoteAddr, &p.Method, &p.UserAgent, &p.RunID, &duration, &hasBody); err != nil {
			return nil, fmt.Errorf("scanning ping: %w", err)
		}
		p.At = time.UnixMicro(at).UTC()
		p.HasBody = hasBody == 1
		if duration >= 0 {
			p.Duration, p.HasDuration = time.Duration(duration)*time.Microsecond, true
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// Ping checks that ClickHouse answers a query.
func (c *ClickHouse) Ping(ctx context.Context) error { return c.conn.Ping(ctx) }

// Flip is one status change as the flips list shows it.
type Flip struct {
	At time.Time
	Up bool
}

// Flips returns a check's flips newest first, within [from, to) when those are set.
func (c *ClickHouse) Flips(ctx context.Context, check schemas.ID, from, to time.Time) ([]Flip, error) {
	query := "SELECT at_us, new_status = 'up' FROM " + c.database + ".flips FINAL WHERE check_id = ?"
	args := []any{uuid.UUID(check)}
	if !from.IsZero() {
		query += " AND at_us >= ?"
		args = append(args, from.UnixMicro())
	}
	if !to.IsZero() {
		query += " AND at_us < ?"
		args = append(args, to.UnixMicro())
	}
	rows, err := c.conn.Query(ctx, query+" ORDER BY flip_seq DESC", args...)
	if err != nil {
		return nil, fmt.Errorf("reading flips: %w", err)
	}
	defer rows.Close()
	var out []Flip
	for rows.Next() {
		var at int64
		var up uint8
		if err := rows.Scan(&at, &up); err != nil {
			return nil, fmt.Errorf("scanning flip: %w", err)
		}
		out = append(out, Flip{At: time.UnixMicro(at).UTC(), Up: up == 1})
	}
	return out, rows.Err()
}

// PingBody returns the body of a check's ping number n; false when there is no such ping.
func (c *ClickHouse) PingBody(ctx context.Context, check schemas.ID, n uint64) ([]byte, bool, error) {
	rows, err := c.conn.Query(ctx, "SELECT body FROM "+c.database+".pings FINAL WHERE check_id = ? AND n = ? LIMIT 1", uuid.UUID(check), n)
	if err != nil {
		return nil, false, fmt.Errorf("reading ping body: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, false, rows.Err()
	}
	var body string
	if err := rows.Scan(&body); err != nil {
		return nil, false, fmt.Errorf("scanning ping body: %w", err)
	}
	return []byte(body), true, nil
}

// PastState is what a check's history says about it at a past instant.
type PastState struct {
	// Status is the new status of the last flip at or before the instant, "new" when
	// the check had not flipped yet.
	Status  string
	FlipSeq uint64
	// NPings is the number of the last ping at or before the instant.
	NPings       uint64
	LastPing     time.Time
	LastDuration time.Duration
	// LastStart is the last start at or before the instant that no success or fail
	// followed; zero when none.
	LastStart time.Time
}

// StateAt reads a check's state as of at from its flips and pings.
func (c *ClickHouse) StateAt(ctx context.Context, check schemas.ID, at time.Time) (PastState, error) {
	st := PastState{Status: "new"}
	micros := at.UnixMicro()
	rows, err := c.conn.Query(ctx, "SELECT flip_seq, toString(new_status) FROM "+c.database+
		".flips FINAL WHERE check_id = ? AND at_us <= ? ORDER BY flip_seq DESC LIMIT 1", uuid.UUID(check), micros)
	if err != nil {
		return PastState{}, fmt.Errorf("reading flips: %w", err)
	}
	for rows.Next() {
		if err := rows.Scan(&st.FlipSeq, &st.Status); err != nil {
			rows.Close()
			return PastState{}, fmt.Errorf("scanning flip: %w", err)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return PastState{}, err
	}
	// The ts bound prunes parts by the sorting key; received_us is the exact instant.
	var lastPing, lastDuration, lastStart int64
	err = c.conn.QueryRow(ctx, "SELECT max(n), maxIf(received_us, kind IN ('success', 'fail')), "+
		"argMaxIf(duration_us, received_us, kind IN ('success', 'fail')), maxIf(received_us, kind = 'start') FROM "+c.database+
		".pings FINAL WHERE check_id = ? AND ts <= toDateTime(?) AND received_us <= ?",
		uuid.UUID(check), chschema.DateTime(at), micros).Scan(&st.NPings, &lastPing, &lastDuration, &lastStart)
	if err != nil {
		return PastState{}, fmt.Errorf("reading pings: %w", err)
	}
	if lastPing > 0 {
		st.LastPing = time.UnixMicro(lastPing).UTC()
	}
	// A ping row's negative duration means it had none (a success or fail without a
	// start), as in the pings list.
	if lastPing > 0 && lastDuration >= 0 {
		st.LastDuration = time.Duration(lastDuration) * time.Microsecond
	}
	if lastStart > lastPing {
		st.LastStart = time.UnixMicro(lastStart).UTC()
	}
	return st, nil
}
