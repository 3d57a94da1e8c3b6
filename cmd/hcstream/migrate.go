package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/segmentio/kafka-go"

	"github.com/hcstream/hcstream/schemas"
	chschema "github.com/hcstream/hcstream/schemas/clickhouse"
)

// migrate creates the Kafka topics and applies ClickHouse migrations; both steps are
// idempotent and safe to run from several processes at once.
func migrate(ctx context.Context, cfg config, conn driver.Conn, logger *slog.Logger) error {
	if err := createTopics(ctx, cfg, logger); err != nil {
		return err
	}
	applied, err := chschema.Migrate(ctx, conn, cfg.ClickHouseDatabase)
	if err != nil {
		return fmt.Errorf("migrating ClickHouse: %w", err)
	}
	logger.Info("stores ready", "component", "migrate", "count", applied)
	return nil
}

func createTopics(ctx context.Context, cfg config, logger *slog.Logger) error {
	client := &kafka.Client{Addr: kafka.TCP(cfg.KafkaBrokers...), Timeout: 10 * time.Second, Transport: &kafka.Transport{DialTimeout: 2 * time.Second}}
	// The events topic carries pings with their bodies and checks with their
	// descriptions, and the registry copies of the latter; Kafka's default record limit
	// (about 1 MiB) is below what Healthchecks accepts.
	recordLimit := schemas.MaxEventBytes(cfg.PingBodyLimit)
	maxRecord := kafka.ConfigEntry{ConfigName: "max.message.bytes", ConfigValue: strconv.Itoa(recordLimit)}
	resp, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{
		{Topic: cfg.EventsTopic, NumPartitions: cfg.Partitions, ReplicationFactor: cfg.ReplicationFactor, ConfigEntries: []kafka.ConfigEntry{maxRecord}},
		{Topic: cfg.FlipsTopic, NumPartitions: cfg.Partitions, ReplicationFactor: cfg.ReplicationFactor},
		{Topic: cfg.RegistryTopic, NumPartitions: 1, ReplicationFactor: cfg.ReplicationFactor, ConfigEntries: []kafka.ConfigEntry{
			{ConfigName: "cleanup.policy", ConfigValue: "compact"}, maxRecord,
		}},
	}})
	if err != nil {
		return fmt.Errorf("creating Kafka topics: %w", err)
	}
	var existing []string
	for topic, err := range resp.Errors {
		switch {
		case errors.Is(err, kafka.TopicAlreadyExists):
			if topic == cfg.EventsTopic || topic == cfg.RegistryTopic {
				existing = append(existing, topic)
			}
		case err != nil:
			return fmt.Errorf("creating Kafka topic %s: %w", topic, err)
		}
	}
	raiseRecordLimit(ctx, client, existing, recordLimit, logger)
	return nil
}

// raiseRecordLimit raises the max.message.bytes of topics made before it was set, or
// by someone else, to at least limit. Failing that (no permission, a topic operator
// that owns the setting), it says what to set: until then the pings and checks larger
// than the topic's limit are refused with 503 (pings) or a JSON error (API writes).
func raiseRecordLimit(ctx context.Context, client *kafka.Client, topics []string, limit int, logger *slog.Logger) {
	if len(topics) == 0 {
		return
	}
	log := logger.With("component", "migrate")
	warn := func(topic string, err error) {
		log.Warn("could not make sure a topic takes the largest records hcstream writes; set its max.message.bytes",
			"topic", topic, "max_message_bytes", limit, "err", err)
	}
	resources := make([]kafka.DescribeConfigRequestResource, len(topics))
	for i, topic := range topics {
		resources[i] = kafka.DescribeConfigRequestResource{ResourceType: kafka.ResourceTypeTopic, ResourceName: topic, ConfigNames: []string{"max.message.bytes"}}
	}
	described, err := client.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{Resources: resources})
	if err != nil {
		for _, topic := range topics {
			warn(topic, err)
		}
		return
	}
	var raise []kafka.IncrementalAlterConfigsRequestResource
	was := map[string]string{}
	for _, res := range described.Resources {
		if res.Error != nil {
			warn(res.ResourceName, res.Error)
			continue
		}
		for _, entry := range res.ConfigEntries {
			if current, err := strconv.Atoi(entry.ConfigValue); entry.ConfigName == "max.message.bytes" && err == nil && current < limit {
				was[res.ResourceName] = entry.ConfigValue
				raise = append(raise, kafka.IncrementalAlterConfigsRequestResource{ResourceType: kafka.ResourceTypeTopic, ResourceName: res.ResourceName,
					Configs: []kafka.IncrementalAlterConfigsRequestConfig{{Name: "max.message.bytes", Value: strconv.Itoa(limit), ConfigOperation: kafka.ConfigOperationSet}}})
			}
		}
	}
	if len(raise) == 0 {
		return
	}
	altered, err := client.IncrementalAlterConfigs(ctx, &kafka.IncrementalAlterConfigsRequest{Resources: raise})
	if err != nil {
		for _, res := range raise {
			warn(res.ResourceName, err)
		}
		return
	}
	for _, res := range altered.Resources {
		if res.Error != nil {
			warn(res.ResourceName, res.Error)
			continue
		}
		log.Info("raised a topic's record limit", "topic", res.ResourceName, "was", was[res.ResourceName], "max_message_bytes", limit)
	}
}
