package testenv

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
)

// DeleteRecords deletes a partition's records before offset, as retention would, so
// that tests can read a log whose start has moved. kafka-go has no call for it, so the
// request (DeleteRecords v0–v1) is defined here.
func DeleteRecords(t testing.TB, topic string, partition int, before int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client := &kafka.Client{Addr: kafka.TCP(KafkaBrokers(t)...), Timeout: 30 * time.Second, Transport: &kafka.Transport{}}
	msg, err := client.Transport.RoundTrip(ctx, client.Addr, &deleteRecordsRequest{
		Topics:    []deleteRecordsTopic{{Name: topic, Partitions: []deleteRecordsPartition{{Partition: int32(partition), Offset: before}}}},
		TimeoutMs: 20_000,
	})
	if err != nil {
		t.Fatalf("deleting records of %s/%d before %d: %v", topic, partition, before, err)
	}
	for _, tp := range msg.(*deleteRecordsResponse).Topics {
		for _, p := range tp.Partitions {
			if p.ErrorCode != 0 {
				t.Fatalf("deleting records of %s/%d before %d: %v", topic, p.Partition, before, kafka.Error(p.ErrorCode))
			}
			if p.LowWatermark != before {
				t.Fatalf("deleting records of %s/%d before %d: the log now starts at %d", topic, p.Partition, before, p.LowWatermark)
			}
		}
	}
}

func init() {
	protocol.Register(&deleteRecordsRequest{}, &deleteRecordsResponse{})
}

type deleteRecordsRequest struct {
	Topics    []deleteRecordsTopic `kafka:"min=v0,max=v1"`
	TimeoutMs int32                `kafka:"min=v0,max=v1"`
}

type deleteRecordsTopic struct {
	Name       string                   `kafka:"min=v0,max=v1"`
	Partitions []deleteRecordsPartition `kafka:"min=v0,max=v1"`
}

type deleteRecordsPartition struct {
	Partition int32 `kafka:"min=v0,max=v1"`
	Offset    int64 `kafka:"min=v0,max=v1"`
}

func (*deleteRecordsRequest) ApiKey() protocol.ApiKey { return protocol.DeleteRecords }

// Broker is the leader of the one partition the request names: only a leader deletes.
func (r *deleteRecordsRequest) Broker(cluster protocol.Cluster) (protocol.Broker, error) {
	topic := r.Topics[0]
	partition, ok := cluster.Topics[topic.Name].Partitions[topic.Partitions[0].Partition]
	if !ok {
		return protocol.Broker{}, fmt.Errorf("no leader known for %s/%d", topic.Name, topic.Partitions[0].Partition)
	}
	return cluster.Brokers[partition.Leader], nil
}

type deleteRecordsResponse struct {
	ThrottleTimeMs int32                        `kafka:"min=v0,max=v1"`
	Topics         []deleteRecordsResponseTopic `kafka:"min=v0,max=v1"`
}

type deleteRecordsResponseTopic struct {
	Name       string                           `kafka:"min=v0,max=v1"`
	Partitions []deleteRecordsResponsePartition `kafka:"min=v0,max=v1"`
}

type deleteRecordsResponsePartition struct {
	Partition    int32 `kafka:"min=v0,max=v1"`
	LowWatermark int64 `kafka:"min=v0,max=v1"`
	ErrorCode    int16 `kafka:"min=v0,max=v1"`
}

func (*deleteRecordsResponse) ApiKey() protocol.ApiKey { return protocol.DeleteRecords }
