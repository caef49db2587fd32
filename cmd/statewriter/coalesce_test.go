package main

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.mongodb.org/mongo-driver/v2/bson"
)

func TestCoalescesManyMessagesOfOneVehicleIntoOneWrite(t *testing.T) {
	store := startStore(t, "vehicles")
	unit := startKafka(t)
	var records []*kgo.Record
	for speed := range 300 {
		records = append(records, telemetry("v1", speed))
	}
	produce(t, unit, append(records, telemetry("v2", 7))...)

	w, _ := run(t, config(store, "statewriter", Unit{"a", unit}))
	waitFor(t, 20*time.Second, "301 records consumed", func() bool { return w.Stats().Consumed == 301 })
	waitFor(t, 5*time.Second, "the poll's writes", func() bool { return w.Stats().Upserted == 301 })
	// All 301 were produced before the writer started, in one batch per partition: one poll, so one
	// write for each vehicle.
	if got := w.Stats(); got.Writes != 2 || got.Replayed != 0 || got.Errors != 0 {
		t.Fatalf("stats = %+v, want 301 upserted in 2 writes (v1 and v2)", got)
	}
	if v1 := vehicle(t, w, "v1"); count(v1) != 300 || v1["speedKmh"] != 299.0 {
		t.Fatalf("v1 = %v, want 300 messages at the last speed, 299", v1)
	}
}

func TestReplayOverlappingWhatIsStoredCountsOnlyTheNewPart(t *testing.T) {
	store := startStore(t, "vehicles")
	unit := startKafka(t)
	batch := func(from, to int) []*kgo.Record {
		var out []*kgo.Record
		for speed := from; speed < to; speed++ {
			out = append(out, telemetry("v1", speed))
		}
		return out
	}
	produce(t, unit, batch(0, 100)...)
	first, stop := run(t, config(store, "g1", Unit{"a", unit}))
	waitFor(t, 20*time.Second, "the first 100", func() bool { return first.Stats().Upserted == 100 })
	stop()

	// A group without commits reads all 150: the first 100 are a replay of what v1 holds, 50 are new.
	produce(t, unit, batch(100, 150)...)
	replay, _ := run(t, config(store, "g2", Unit{"a", unit}))
	waitFor(t, 20*time.Second, "150 consumed", func() bool { return replay.Stats().Consumed == 150 })
	waitFor(t, 5*time.Second, "the writes", func() bool { return replay.Stats().Upserted+replay.Stats().Replayed == 150 })
	if got := replay.Stats(); got.Upserted != 50 || got.Replayed != 100 || got.Writes == 0 || got.Writes > 2 {
		t.Fatalf("replay stats = %+v, want 50 upserted, 100 replayed, in one or two writes", got)
	}
	if v1 := vehicle(t, replay, "v1"); count(v1) != 150 || v1["speedKmh"] != 149.0 {
		t.Fatalf("v1 = %v, want 150 messages at 149", v1)
	}
}

// syncBuffer is a log destination the writer's goroutines and the test share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// runLogged is run with the writer's log kept.
func runLogged(t *testing.T, cfg Config) (*Writer, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	w, err := NewWriter(cfg, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		w.Run(ctx)
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		w.Close()
	})
	return w, logs
}

// storedKeys are the keys of v1's offsets.
func storedKeys(t *testing.T, w *Writer) []string {
	t.Helper()
	var keys []string
	offsets, _ := vehicle(t, w, "v1")["offsets"].(bson.D)
	for _, e := range offsets {
		keys = append(keys, e.Key)
	}
	return keys
}

func TestRecoversWhenTheTopicIsRecreated(t *testing.T) {
	store := startStore(t, "vehicles")
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	unit := cluster.ListenAddrs()
	produce(t, unit, telemetry("v1", 1), telemetry("v1", 2), telemetry("v1", 3))
	w, logs := runLogged(t, config(store, "statewriter", Unit{"a", unit}))
	waitFor(t, 20*time.Second, "the first topic's 3 records", func() bool { return w.Stats().Upserted == 3 })
	before := storedKeys(t, w)

	// The new topic's records start at offset 0 again, below the 2 v1's document holds.
	if err := cluster.DeleteTopic(topic); err != nil {
		t.Fatal(err)
	}
	if err := cluster.CreateTopic(topic, 1, nil); err != nil {
		t.Fatal(err)
	}
	produce(t, unit, telemetry("v1", 10), telemetry("v1", 20))
	start := time.Now()
	waitFor(t, 15*time.Second, "the new topic's 2 records", func() bool { return w.Stats().Upserted == 5 })
	t.Logf("recovered in %s", time.Since(start).Round(100*time.Millisecond))

	if v1 := vehicle(t, w, "v1"); count(v1) != 5 || v1["speedKmh"] != 20.0 {
		t.Fatalf("v1 = %v, want 5 messages at 20", v1)
	}
	after := storedKeys(t, w)
	if len(before) != 1 || len(after) != 1 || !strings.HasPrefix(after[0], "a-0@") || after[0] == before[0] {
		t.Fatalf("offset keys %v, then %v: want one a-0@<id> key, a new one for the new topic", before, after)
	}
	oldID, newID := strings.TrimPrefix(before[0], "a-0@"), strings.TrimPrefix(after[0], "a-0@")
	want := "unit a: topic telemetry recreated (id " + oldID + " -> " + newID + "); consuming from its start"
	if got := logs.String(); strings.Count(got, want) != 1 {
		t.Fatalf("log:\n%s\nwant once: %s", got, want)
	}
}

func TestRecoversWhenTheBrokerIsReplaced(t *testing.T) {
	store := startStore(t, "vehicles")
	_, port, _ := net.SplitHostPort(freeAddr(t))
	portNumber, _ := strconv.Atoi(port)
	broker := func() *kfake.Cluster {
		cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(portNumber), kfake.SeedTopics(1, topic))
		if err != nil {
			t.Fatal(err)
		}
		return cluster
	}
	first := broker()
	unit := first.ListenAddrs()
	produce(t, unit, telemetry("v1", 1), telemetry("v1", 2), telemetry("v1", 3))
	w, logs := runLogged(t, config(store, "statewriter", Unit{"a", unit}))
	waitFor(t, 20*time.Second, "the first broker's 3 records", func() bool { return w.Stats().Upserted == 3 })

	// The broker is replaced on the same address with nothing of its log: no topic ID, no commits.
	first.Close()
	second := broker()
	t.Cleanup(second.Close)
	produce(t, unit, telemetry("v1", 10), telemetry("v1", 20))
	start := time.Now()
	waitFor(t, 15*time.Second, "the new broker's 2 records", func() bool { return w.Stats().Upserted == 5 })
	t.Logf("recovered in %s", time.Since(start).Round(100*time.Millisecond))
	if v1 := vehicle(t, w, "v1"); count(v1) != 5 || v1["speedKmh"] != 20.0 {
		t.Fatalf("v1 = %v, want 5 messages at 20", v1)
	}
	if got := logs.String(); !strings.Contains(got, "unit a: topic telemetry recreated (id ") {
		t.Fatalf("log:\n%s\nwant the recreated line", got)
	}
}
