package main

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// recordingStore applies updates after a short wait, noting how many writes overlapped and the order
// each vehicle's writes came in; a vehicle named in block waits until the context ends.
type recordingStore struct {
	mu       sync.Mutex
	inFlight map[string]bool
	active   int
	peak     int
	order    map[string][]string
	overlap  []string // vehicles written twice at once
	block    string
}

func newRecordingStore(block string) *recordingStore {
	return &recordingStore{inFlight: map[string]bool{}, order: map[string][]string{}, block: block}
}

func (s *recordingStore) Apply(ctx context.Context, u Update) (int, error) {
	s.mu.Lock()
	if s.inFlight[u.Vehicle] {
		s.overlap = append(s.overlap, u.Vehicle)
	}
	s.inFlight[u.Vehicle] = true
	s.active++
	s.peak = max(s.peak, s.active)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inFlight[u.Vehicle] = false
		s.active--
		s.mu.Unlock()
	}()
	if u.Vehicle == s.block {
		<-ctx.Done()
		return 0, ctx.Err()
	}
	time.Sleep(2 * time.Millisecond)
	s.mu.Lock()
	s.order[u.Vehicle] = append(s.order[u.Vehicle], u.OffsetKey.String())
	s.mu.Unlock()
	return len(u.Records), nil
}

func (s *recordingStore) Probe(context.Context, string) (string, error) { return "", nil }
func (s *recordingStore) Ping(context.Context) error                    { return nil }
func (s *recordingStore) Close(context.Context) error                   { return nil }

// pollOf is one poll's updates: each vehicle once per partition, partition 0 first.
func pollOf(vehicles int, partitions int32) []Update {
	var out []Update
	for p := range partitions {
		for v := range vehicles {
			out = append(out, Update{
				Vehicle:   fmt.Sprintf("v%03d", v),
				OffsetKey: OffsetKey{Unit: "a", Partition: p},
				Records:   []Record{{Offset: int64(v)}},
			})
		}
	}
	return out
}

func TestWriteAllWritesVehiclesAtOnceAndEachVehicleInOrder(t *testing.T) {
	store := newRecordingStore("")
	w := testWriter("")
	w.store = store
	updates := pollOf(64, 2)
	if got := w.writeAll(context.Background(), "a", updates); got != len(updates) {
		t.Fatalf("written = %d, want all %d", got, len(updates))
	}
	if store.peak < 2 || store.peak > storeWriters {
		t.Fatalf("%d writes at once at the peak, want between 2 and %d", store.peak, storeWriters)
	}
	if len(store.overlap) > 0 {
		t.Fatalf("vehicles written twice at once: %v", store.overlap)
	}
	for vehicle, keys := range store.order {
		if len(keys) != 2 || keys[0] != "a-0" || keys[1] != "a-1" {
			t.Fatalf("%s written as %v, want a-0 then a-1", vehicle, keys)
		}
	}
	if s := w.Stats(); s.Writes != int64(len(updates)) || s.Upserted != int64(len(updates)) {
		t.Fatalf("stats = %+v, want %d writes", s, len(updates))
	}
}

func TestWriteAllCountsOnlyThePrefixWrittenWhenStopped(t *testing.T) {
	// v005's write never returns before the writer stops: what follows it in the poll may be written,
	// but only the updates before it can be committed.
	store := newRecordingStore("v005")
	w := testWriter("")
	w.store = store
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if got := w.writeAll(ctx, "a", pollOf(20, 1)); got != 5 {
		t.Fatalf("written = %d, want the 5 updates before v005", got)
	}
}
