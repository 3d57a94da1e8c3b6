//go:build integration

package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/hcstream/hcstream/deploy/testenv"
	"github.com/hcstream/hcstream/schemas"
	"github.com/hcstream/hcstream/schemas/kafkarec"
)

// flipper stands in for hcstream: a ping of check publishes at once a flip of another
// check of the same partition to the state the ping asks for (down for /fail, else
// up), which the probe must not take for its own, and after delay the check's own
// flip, then answers.
func flipper(t *testing.T, topic string, partitions int, check, other schemas.ID, delay time.Duration) *httptest.Server {
	client := &kafka.Client{Addr: kafka.TCP(testenv.KafkaBrokers(t)...), Timeout: 10 * time.Second, Transport: &kafka.Transport{}}
	partition := kafkarec.Partition(kafkarec.Key(schemas.Event{CheckID: check}), partitions)
	publish := func(ctx context.Context, id schemas.ID, to schemas.Status) error {
		msg, err := kafkarec.Message(schemas.Event{ID: schemas.NewID(), CheckID: id, At: time.Now(), Body: schemas.StatusChanged{New: to}})
		if err != nil {
			return err
		}
		resp, err := client.Produce(ctx, &kafka.ProduceRequest{Topic: topic, Partition: partition, RequiredAcks: kafka.RequireAll,
			Records: kafka.NewRecordReader(kafka.Record{Key: kafka.NewBytes(msg.Key), Value: kafka.NewBytes(msg.Value), Headers: msg.Headers})})
		if err == nil {
			err = resp.Error
		}
		return err
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		to := schemas.StatusUp
		if strings.HasSuffix(r.URL.Path, "/fail") {
			to = schemas.StatusDown
		}
		err := publish(r.Context(), other, to)
		if err == nil {
			time.Sleep(delay)
			err = publish(r.Context(), check, to)
		}
		if err != nil {
			t.Errorf("publishing a flip: %v", err)
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("OK"))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// sharingPartition returns a check other than check whose flips go to the same
// partition.
func sharingPartition(check schemas.ID, partitions int) schemas.ID {
	want := kafkarec.Partition(kafkarec.Key(schemas.Event{CheckID: check}), partitions)
	for {
		other := schemas.NewID()
		if kafkarec.Partition(kafkarec.Key(schemas.Event{CheckID: other}), partitions) == want {
			return other
		}
	}
}

// A flip probe times each of its check's flips from the ping's request to the flip's
// arrival on the topic.
func TestProbeFlipsTimesEachFlip(t *testing.T) {
	const partitions, delay = 3, 200 * time.Millisecond
	topic := testenv.Topic(t, partitions)
	// A topic created a moment ago may not be led yet; appending waits until it is.
	client := &kafka.Client{Addr: kafka.TCP(testenv.KafkaBrokers(t)...), Timeout: 10 * time.Second, Transport: &kafka.Transport{}}
	for p := range partitions {
		testenv.Produce(context.Background(), t, client, topic, p, kafka.Record{Value: kafka.NewBytes([]byte("not an event"))})
	}
	check := schemas.NewID()
	srv := flipper(t, topic, partitions, check, sharingPartition(check, partitions), delay)
	o := options{baseURL: srv.URL, brokers: strings.Join(testenv.KafkaBrokers(t), ","), flipsTopic: topic}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	took, err := probeFlips(ctx, http.DefaultClient, o, check.String(), 4, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(took) != 4 {
		t.Fatalf("%d flips timed, want 4", len(took))
	}
	for i, d := range took {
		// The check's flip is published delay after the request; a probe that took the
		// other check's flip would time it sooner.
		if d < delay || d > 5*time.Second {
			t.Errorf("flip %d timed at %v, want between %v and 5s", i+1, d, delay)
		}
	}
}
