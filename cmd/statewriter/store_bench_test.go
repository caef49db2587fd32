package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
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
