package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/hcstream/hcstream/query"
	"github.com/hcstream/hcstream/query/auth"
	"github.com/hcstream/hcstream/query/store"
	"github.com/hcstream/hcstream/schemas"
)

// createProject records a ProjectCreated event with hashed keys and prints the keys once.
// It waits until a projector has made the project visible, so the keys work at once.
func createProject(ctx context.Context, cfg config, name string, logger *slog.Logger, stdout, stderr io.Writer) int {
	conn, err := openClickHouse(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "hcstream:", err)
		return 1
	}
	defer conn.Close()
	setupCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := migrate(setupCtx, cfg, conn, logger); err != nil {
		fmt.Fprintln(stderr, "hcstream: project create:", err)
		return 1
	}
	keys := auth.NewKeys()
	ev := schemas.Event{ID: schemas.NewID(), ProjectID: schemas.NewID(), At: time.Now().UTC().Truncate(time.Microsecond),
		Body: schemas.ProjectCreated{Name: name, APIKeyHash: auth.Hash(keys.APIKey), APIKeyReadonlyHash: auth.Hash(keys.APIKeyReadonly), PingKey: keys.PingKey}}
	version, err := query.NewKafkaAppender(cfg.KafkaBrokers, cfg.EventsTopic).Append(setupCtx, ev)
	if err != nil {
		fmt.Fprintln(stderr, "hcstream: project create:", err)
		return 1
	}
	st := store.NewClickHouse(conn, cfg.ClickHouseDatabase)
	for {
		got, err := st.ProjectVersion(setupCtx, ev.ProjectID)
		if err == nil && got >= version {
			break
		}
		if setupCtx.Err() != nil {
			fmt.Fprintln(stderr, "hcstream: warning: the project is recorded but no projector has made it visible yet; its keys work once one runs")
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	out, _ := json.Marshal(map[string]string{
		"project_id": ev.ProjectID.String(), "api_key": keys.APIKey, "api_key_readonly": keys.APIKeyReadonly, "ping_key": keys.PingKey,
	})
	fmt.Fprintln(stdout, string(out))
	return 0
}
