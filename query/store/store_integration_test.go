//go:build integration

package store

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hcstream/hcstream/deploy/testenv"
	"github.com/hcstream/hcstream/schemas"
)

// ProjectKeys takes every project, or only those created since a time, each project's
// two keys with its creation time.
func TestProjectKeysCreatedSince(t *testing.T) {
	t.Parallel()
	conn, database := testenv.ClickHouse(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	now := time.Now().Truncate(time.Microsecond)
	projects := []struct {
		id      schemas.ID
		name    string
		created time.Time
	}{
		{schemas.ID{1}, "old", now.Add(-2 * time.Hour)},
		{schemas.ID{2}, "recent", now.Add(-10 * time.Minute)},
		{schemas.ID{3}, "new", now},
	}
	for i, p := range projects {
		err := conn.Exec(ctx, "INSERT INTO "+database+".projects (project_id, name, api_key_hash, api_key_readonly_hash, ping_key, created_us, version) SELECT ?, ?, ?, ?, ?, ?, ?",
			uuid.UUID(p.id), p.name, p.name+"-rw", p.name+"-ro", p.name+"-ping", p.created.UnixMicro(), uint64(i+1))
		if err != nil {
			t.Fatal(err)
		}
	}
	st := NewClickHouse(conn, database)
	read := func(since time.Time) []string {
		t.Helper()
		keys, err := st.ProjectKeys(ctx, since)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, k := range keys {
			if k.Project.PingKey != k.Project.Name+"-ping" || k.Hash != k.Project.Name+map[bool]string{false: "-rw", true: "-ro"}[k.Project.ReadOnly] {
				t.Errorf("key %+v: hash, ping key and read-only flag do not belong together", k)
			}
			for _, p := range projects {
				if p.id == k.Project.ID && !k.Created.Equal(p.created) {
					t.Errorf("%s created %v, want %v", p.name, k.Created, p.created)
				}
			}
			got = append(got, k.Hash)
		}
		slices.Sort(got)
		return got
	}
	if got, want := read(time.Time{}), []string{"new-ro", "new-rw", "old-ro", "old-rw", "recent-ro", "recent-rw"}; !slices.Equal(got, want) {
		t.Errorf("every project's keys: %v, want %v", got, want)
	}
	if got, want := read(now.Add(-10*time.Minute)), []string{"new-ro", "new-rw", "recent-ro", "recent-rw"}; !slices.Equal(got, want) {
		t.Errorf("keys of projects created in the last 10 minutes: %v, want %v", got, want)
	}
	if got := read(now.Add(time.Microsecond)); len(got) != 0 {
		t.Errorf("keys of projects created after the newest: %v, want none", got)
	}
}
