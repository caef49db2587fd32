package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// BenchmarkStoreWritesAtAThousandVehicles measures the state writes a poll makes against the real FerretDB
// (`make bench` records it in bench/results/statewriter-store.txt): 1,000 vehicles, each update one
// record of about 1.3 KB shaped like the fleet's VSS messages (251 cell voltages: FerretDB's cost grows with
// a document's values, not its bytes), written storeWriters at once as a poll writes them, into a
// collection that already holds every vehicle (10,000 vehicles wrote as fast).
func BenchmarkStoreWritesAtAThousandVehicles(b *testing.B) {
	const vehicles = 1000
	uri := startStore(b, "vehicles")
	store, err := OpenStore(Config{StoreURI: uri, Database: "vehicles", Collection: "vehicles", Username: user, Password: password})
	if err != nil {
		b.Fatal(err)
	}
	w := testWriter("")
	w.store = store
	vss := []byte(`{"Vehicle": {"Speed": 50.0, "CellVoltages": [` + strings.Repeat("3.712,", 250) + `3.7]}}`)
	poll := func(offset int) []Update {
		updates := make([]Update, vehicles)
		for v := range updates {
			updates[v] = Update{Vehicle: fmt.Sprintf("vehicle-%05d", v), OffsetKey: OffsetKey{Unit: "u1"},
				Records: []Record{{Offset: int64(offset), Seen: time.Now(), Value: vss}}}
		}
		return updates
	}
	w.writeAll(context.Background(), "u1", poll(0)) // every vehicle has its document
	b.ResetTimer()
	started := time.Now()
	for i := range b.N {
		if n := w.writeAll(context.Background(), "u1", poll(i+1)); n != vehicles {
			b.Fatalf("%d of %d written", n, vehicles)
		}
	}
	b.ReportMetric(float64(vehicles*b.N)/time.Since(started).Seconds(), "writes/s")
}

// BenchmarkPollCPUPerRecord measures the writer's own CPU for a poll (`make bench` records it in
// bench/results/statewriter-cpu.txt): 1,000 vehicles with three records each over four partitions, shaped
// like the fleet's VSS messages, grouped (collect), merged (plan) and encoded as the MongoDB updates they
// become, without a store. On the node it shares the cores with the hubs a fleet's acknowledgements wait on.
func BenchmarkPollCPUPerRecord(b *testing.B) {
	const vehicles, perVehicle, partitions = 1000, 3, 4
	w := testWriter("")
	parts := make([]kgo.FetchPartition, partitions)
	for r := range perVehicle {
		for v := range vehicles {
			p := &parts[v%partitions]
			p.Partition = int32(v % partitions)
			value := fmt.Sprintf(`{"vehicleId":"vehicle-%05d","seq":%d,"Vehicle":{"Speed":%d.5,`+
				`"CurrentLocation":{"Latitude":48.1,"Longitude":11.5},"Powertrain":{"TractionBattery":`+
				`{"CellVoltage":{"CellVoltages":[%s3.7]}}}}}`, v, r, r, strings.Repeat("3.712,", 250))
			p.Records = append(p.Records, &kgo.Record{Key: []byte(fmt.Sprintf("vehicle-%05d", v)), Value: []byte(value),
				Partition: p.Partition, Offset: int64(len(p.Records)), Timestamp: time.Now()})
		}
	}
	fetches := kgo.Fetches{{Topics: []kgo.FetchTopic{{Topic: topic, Partitions: parts}}}}
	b.ResetTimer()
	for range b.N {
		for _, u := range w.collect("u1", fetches, map[string]string{}).updates {
			if _, err := bson.Marshal(mongoUpdate(u, plan(u, nil))); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*vehicles*perVehicle), "µs/record")
}
