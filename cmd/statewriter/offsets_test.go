package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

func TestWrittenOffsetsForgetAUnitAndAWriteUnderWayWhenItWas(t *testing.T) {
	o := newWrittenOffsets()
	a := Update{Vehicle: "v1", OffsetKey: OffsetKey{Unit: "a", Partition: 2, TopicID: "T"}}
	b := Update{Vehicle: "v1", OffsetKey: OffsetKey{Unit: "b", Partition: 2}}
	if _, _, known := o.lookup(a); known {
		t.Fatal("known before any write")
	}
	_, epoch, _ := o.lookup(a)
	o.remember(a, 41, epoch)
	_, epochB, _ := o.lookup(b)
	o.remember(b, 7, epochB)
	if stored, _, known := o.lookup(a); !known || len(stored) != 1 || stored["a-2@T"] != 41 {
		t.Fatalf("lookup = %v %v, want a-2@T: 41 alone", stored, known)
	}

	_, underWay, _ := o.lookup(a)
	o.partitionsLeft("a")
	o.remember(a, 42, underWay) // a write that began before its unit was forgotten
	if _, _, known := o.lookup(a); known {
		t.Fatal("unit a still known after its partitions left, or a write from before was remembered")
	}
	if stored, _, known := o.lookup(b); !known || stored["b-2"] != 7 {
		t.Fatal("unit b was forgotten with unit a")
	}
	o.forgetVehicle(b)
	if _, _, known := o.lookup(b); known {
		t.Fatal("v1 on unit b still known after forgetVehicle")
	}
}

// monitoredStore is the writer's MongoDB store with a count of the `find` commands it sends.
func monitoredStore(t *testing.T, uri string) (*mongoStore, *atomic.Int64) {
	t.Helper()
	finds := &atomic.Int64{}
	monitor := &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		if e.CommandName == "find" {
			finds.Add(1)
		}
	}}
	client, err := mongo.Connect(storeOptions(uri, "vehicles", user, password).SetMonitor(monitor))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	return &mongoStore{client: client, coll: client.Database("vehicles").Collection("vehicles"), written: newWrittenOffsets()}, finds
}

func records(vehicle string, from, to int64) Update {
	u := Update{Vehicle: vehicle, OffsetKey: OffsetKey{Unit: "a", Partition: 0}}
	for offset := from; offset <= to; offset++ {
		u.Records = append(u.Records, Record{Offset: offset, Seen: time.Now(), Value: []byte(fmt.Sprintf(`{"speedKmh":%d,"cells":[3.5,-0.25,0.001,1e-7]}`, offset))})
	}
	return u
}

func TestMongoReadsOffsetsOnlyWhileItDoesNotOwnWhatItWrote(t *testing.T) {
	uri := startStore(t, "vehicles")
	ctx := context.Background()
	store, finds := monitoredStore(t, uri)
	apply := func(s *mongoStore, u Update, want int) {
		t.Helper()
		if applied, err := s.Apply(ctx, u); err != nil || applied != want {
			t.Fatalf("apply %s %d..%d = %d, %v; want %d", u.Vehicle, u.Records[0].Offset, u.Records[len(u.Records)-1].Offset, applied, err, want)
		}
	}
	apply(store, records("v1", 0, 1), 2)
	apply(store, records("v1", 2, 2), 1)
	apply(store, records("v1", 2, 3), 1) // 2 is held: counted once
	if n := finds.Load(); n != 1 {
		t.Fatalf("%d reads for three writes of one vehicle and partition, want 1 (the first)", n)
	}

	// The partition goes to another writer, which stores 4 and 5, then comes back.
	other, _ := monitoredStore(t, uri)
	apply(other, records("v1", 3, 5), 2)
	store.PartitionsLeft("a")
	apply(store, records("v1", 4, 6), 1)
	if n := finds.Load(); n != 2 {
		t.Fatalf("%d reads, want 2: the offsets written by the other owner are read again", n)
	}
	var doc bson.M
	if err := store.coll.FindOne(ctx, bson.M{"_id": "v1"}).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if count(doc) != 7 || doc["speedKmh"] != 6.0 {
		t.Fatalf("v1 = %v, want 7 messages (offsets 0-6, each once) at speed 6", doc)
	}
	// Doubles read back as stored (the docstore's build parses plain numbers itself, toolchain.py).
	if cells := fmt.Sprint(doc["cells"]); cells != "[3.5 -0.25 0.001 1e-07]" {
		t.Fatalf("cells = %s, want [3.5 -0.25 0.001 1e-07]", cells)
	}
}

func TestAWriterForgetsWhatItWroteWhenThePartitionsMove(t *testing.T) {
	store := startStore(t, "vehicles")
	unit := startKafka(t)
	batch := func() []*kgo.Record { // new records each time: a produced one keeps its produce's context
		var out []*kgo.Record
		for v := range 30 {
			out = append(out, telemetry(fmt.Sprintf("v%02d", v), 1))
		}
		return out
	}
	produce(t, unit, batch()...)
	first, _ := run(t, config(store, "g", Unit{"a", unit}))
	waitFor(t, 20*time.Second, "the first 30", func() bool { return first.Stats().Upserted == 30 })
	written := first.store.(*mongoStore).written
	remembered := func() int {
		written.mu.Lock()
		defer written.mu.Unlock()
		return len(written.known["a"])
	}
	if n := remembered(); n != 30 {
		t.Fatalf("%d vehicles remembered, want 30", n)
	}

	// A second writer joins the group: the first gives up some of the three partitions and forgets.
	second, _ := run(t, config(store, "g", Unit{"a", unit}))
	waitFor(t, 20*time.Second, "the first writer to forget", func() bool { return remembered() == 0 })
	produce(t, unit, batch()...)
	waitFor(t, 20*time.Second, "the next 30", func() bool {
		return first.Stats().Upserted+second.Stats().Upserted == 60
	})
	for v := range 30 {
		if doc := vehicle(t, first, fmt.Sprintf("v%02d", v)); count(doc) != 2 {
			t.Fatalf("v%02d = %v, want 2 messages", v, doc)
		}
	}
}
