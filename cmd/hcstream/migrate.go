package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/segmentio/kafka-go"

	chschema "github.com/hcstream/hcstream/schemas/clickhouse"
)

// migrate creates the Kafka topics and applies ClickHouse migrations; both steps are
// idempotent and safe to run from several processes at once.
func migrate(ctx context.Context, cfg config, conn driver.Conn, logger *slog.Logger) error {
	if err := createTopics(ctx, cfg); err != nil {
		return err
	}
	applied, err := chschema.Migrate(ctx, conn, cfg.ClickHouseDatabase)
	if err != nil {
		return fmt.Errorf("migrating ClickHouse: %w", err)
	}
	logger.Info("stores ready", "component", "migrate", "clickhouse_migrations_applied", applied)
	return nil
}

func createTopics(ctx context.Context, cfg config) error {
	client := &kafka.Client{Addr: kafka.TCP(cfg.KafkaBrokers...), Timeout: 10 * time.Second, Transport: &kafka.Transport{DialTimeout: 2 * time.Second}}
	resp, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{
		{Topic: cfg.EventsTopic, NumPartitions: cfg.Partitions, ReplicationFactor: cfg.ReplicationFactor},
		{Topic: cfg.FlipsTopic, NumPartitions: cfg.Partitions, ReplicationFactor: cfg.ReplicationFactor},
		{Topic: cfg.RegistryTopic, NumPartitions: 1, ReplicationFactor: cfg.ReplicationFactor, ConfigEntries: []kafka.ConfigEntry{
			{ConfigName: "cleanup.policy", ConfigValue: "compact"},
		}},
	}})
	if err != nil {
		return fmt.Errorf("creating Kafka topics: %w", err)
	}
	for topic, err := range resp.Errors {
		if err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
			return fmt.Errorf("creating Kafka topic %s: %w", topic, err)
		}
	}
	return nil
}
