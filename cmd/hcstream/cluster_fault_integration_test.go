//go:build integration

package main

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/hcstream/hcstream/deploy/testenv"
	"github.com/hcstream/hcstream/schemas/kafkarec"
)

// One node of a three-node Kafka cluster crashes (SIGKILL) under load: the node leading
// the partition of one of the pinged checks. Topics are
// replicated three times and acks=all needs two replicas, so the cluster keeps every
// acknowledged ping: while the node is down the partitions it led move to the others,
// pings refused meanwhile get 503 within the publish bound, and then every check is
// acknowledged again without restarting hcstream. After the node comes back nothing is
// refused; every acknowledged ping is in Kafka and ClickHouse holds each ping once.
func TestFaultKafkaClusterLosesANode(t *testing.T) {
	const nodeDown = 15 * time.Second
	t.Cleanup(func() { localStack(t, "kafka-cluster.sh", "down") })
	localStack(t, "kafka-cluster.sh", "up")
	brokers := strings.Split(strings.TrimSpace(localStack(t, "kafka-cluster.sh", "brokers")), ",")

	env := isolatedEnv(t)
	env["HC_KAFKA_BROKERS"] = strings.Join(brokers, ",")
	env["HC_KAFKA_REPLICATION_FACTOR"] = "3"
	env["HC_KAFKA_PARTITIONS"] = "6"
	env["HC_INGEST_PUBLISH_TIMEOUT"] = "2s"
	testenv.DeleteTopicsAfterOn(t, brokers, env["HC_KAFKA_TOPIC_EVENTS"], env["HC_KAFKA_TOPIC_REGISTRY"], env["HC_KAFKA_TOPIC_FLIPS"])
	s := startStack(t, env)
	checks := createChecks(t, env, s.base, 12, `"timeout": 3600`)

	load := startRIDLoad(t, s.base, checks, 16)
	time.Sleep(3 * time.Second) //nolint:forbidigo // load runs for a while before the fault
	// The node leading the first check's partition, so the kill surely hits pings.
	victim := partitionLeader(t, brokers, env["HC_KAFKA_TOPIC_EVENTS"], kafkarec.Partition([]byte(checks[0]), 6))
	localStack(t, "kafka-cluster.sh", "node", strconv.Itoa(victim), "stop-hard")
	killed := time.Now()
	time.Sleep(nodeDown) //nolint:forbidigo // the node stays down for a while under load
	restarting := time.Now()
	localStack(t, "kafka-cluster.sh", "node", strconv.Itoa(victim), "up")
	restarted := time.Now()
	time.Sleep(5 * time.Second) //nolint:forbidigo // load continues with the node back
	results := load.finish()

	// The last refusal while the node was down marks when every partition had a leader again.
	var failedOver time.Time
	refused := 0
	for _, r := range results {
		if r.code == http.StatusOK {
			continue
		}
		refused++
		if r.code != http.StatusServiceUnavailable {
			t.Errorf("ping of %s at %s got %d, want 200 or 503", r.check, r.start.Format(time.TimeOnly), r.code)
		}
		if took := r.end.Sub(r.start); took > 3*time.Second {
			t.Errorf("a refused ping took %v, bound 2s", took)
		}
		if r.start.After(restarting) {
			t.Errorf("ping of %s at %s refused after the node was restarted", r.check, r.start.Format(time.TimeOnly))
		}
		if r.end.After(failedOver) {
			failedOver = r.end
		}
	}
	if failedOver.IsZero() {
		failedOver = killed
	}
	t.Logf("node %d killed: %d pings refused with 503, the last %v after the kill; node restarted in %v",
		victim, refused, failedOver.Sub(killed).Round(time.Millisecond), restarted.Sub(restarting).Round(time.Millisecond))
	if failedOver.After(restarting) {
		t.Fatalf("pings were still refused when the node was restarted %v after the kill", nodeDown)
	}
	ackedWithNodeDown := map[string]bool{}
	for _, r := range results {
		if r.code == http.StatusOK && r.start.After(failedOver) && r.end.Before(restarting) {
			ackedWithNodeDown[r.check] = true
		}
	}
	if len(ackedWithNodeDown) != len(checks) {
		t.Errorf("with node %d down only %d of %d checks got pings acknowledged", victim, len(ackedWithNodeDown), len(checks))
	}

	events := ackedInKafka(t, brokers, env["HC_KAFKA_TOPIC_EVENTS"], results)
	exactlyOnce(t, env["HC_CLICKHOUSE_DATABASE"], int64(len(events)))
}

// partitionLeader returns the node id that leads a partition of topic.
func partitionLeader(t *testing.T, brokers []string, topic string, partition int) int {
	t.Helper()
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second, Transport: &kafka.Transport{}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	meta, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil || len(meta.Topics) != 1 {
		t.Fatalf("metadata of %s: %v", topic, err)
	}
	for _, p := range meta.Topics[0].Partitions {
		if p.ID == partition {
			if len(p.Replicas) != 3 {
				t.Fatalf("partition %d of %s has %d replicas, want 3", partition, topic, len(p.Replicas))
			}
			return p.Leader.ID
		}
	}
	t.Fatalf("%s has no partition %d", topic, partition)
	return 0
}
