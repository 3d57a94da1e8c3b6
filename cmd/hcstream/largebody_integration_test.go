//go:build integration

package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/hcstream/hcstream/deploy/testenv"
	"github.com/hcstream/hcstream/schemas"
)

// topicRecordLimit returns a topic's max.message.bytes.
func topicRecordLimit(t *testing.T, topic string) int {
	t.Helper()
	client := &kafka.Client{Addr: kafka.TCP(testenv.KafkaBrokers(t)...), Timeout: 10 * time.Second}
	resp, err := client.DescribeConfigs(context.Background(), &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{
		{ResourceType: kafka.ResourceTypeTopic, ResourceName: topic, ConfigNames: []string{"max.message.bytes"}},
	}})
	if err != nil || len(resp.Resources) != 1 || resp.Resources[0].Error != nil || len(resp.Resources[0].ConfigEntries) != 1 {
		t.Fatalf("describing %s: %v %+v", topic, err, resp)
	}
	limit, err := strconv.Atoi(resp.Resources[0].ConfigEntries[0].ConfigValue)
	if err != nil {
		t.Fatal(err)
	}
	return limit
}

// The events and registry topics take the largest event a request can make, whether
// hcstream creates them or finds them made with Kafka's default limit.
func TestTopicsTakeTheLargestEvents(t *testing.T) {
	t.Parallel()
	name := testenv.UniqueName(t)
	cfg := config{KafkaBrokers: testenv.KafkaBrokers(t), EventsTopic: testenv.Topic(t, 2), RegistryTopic: name + "_registry",
		FlipsTopic: name + "_flips", Partitions: 2, ReplicationFactor: 1, PingBodyLimit: 3_000_000}
	testenv.DeleteTopicsAfter(t, cfg.RegistryTopic, cfg.FlipsTopic)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var logged bytes.Buffer
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(logged.String())
		}
	})
	if err := createTopics(ctx, cfg, slog.New(slog.NewTextHandler(&logged, nil))); err != nil {
		t.Fatal(err)
	}
	want := schemas.MaxEventBytes(cfg.PingBodyLimit)
	for _, topic := range []string{cfg.EventsTopic, cfg.RegistryTopic} {
		// The controller has the new limit when the alteration returns; the broker
		// describing the topic learns it from the metadata log a moment later.
		testenv.Eventually(t, 10*time.Second, topic+" does not take the largest records", func() bool {
			return topicRecordLimit(t, topic) == want
		})
	}
}

// Ping bodies and check descriptions above Kafka's default record limit (about 1 MiB)
// are accepted, stored and served, as Healthchecks accepts them.
func TestLargeBodiesOnRealStack(t *testing.T) {
	t.Parallel()
	env := isolatedEnv(t)
	env["HC_PING_BODY_LIMIT"] = "3000000"
	s := startStack(t, env)
	key := s.createProject(t)["api_key"]
	desc := strings.Repeat("d", 2_000_000)
	created := do(t, "POST", s.base+"/api/v3/checks/", key, `{"name": "large", "desc": "`+desc+`"}`)
	if created.code != http.StatusCreated {
		t.Fatalf("creating a check with a 2 MB description: %d %.200s", created.code, created.body)
	}
	check := created.json(t)
	if got := do(t, "GET", check["update_url"].(string), key, "").json(t)["desc"]; got != desc {
		t.Errorf("the description read back has %d bytes, want %d", len(got.(string)), len(desc))
	}
	body := strings.Repeat("b", 2_900_000)
	if got := do(t, "POST", check["ping_url"].(string)+"/log", "", body); got.code != http.StatusOK {
		t.Fatalf("a ping with a 2.9 MB body: %d %q", got.code, got.body)
	}
	var bodyURL string
	testenv.Eventually(t, 15*time.Second, "the ping never showed", func() bool {
		pings := do(t, "GET", check["update_url"].(string)+"/pings/", key, "").json(t)["pings"].([]any)
		if len(pings) == 0 {
			return false
		}
		bodyURL, _ = pings[0].(map[string]any)["body_url"].(string)
		return true
	})
	if got := do(t, "GET", bodyURL, key, ""); got.code != http.StatusOK || got.body != body {
		t.Errorf("the ping body read back: %d with %d bytes, want 200 with %d", got.code, len(got.body), len(body))
	}
}
