package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

const (
	topic    = "telemetry"
	user     = "statewriter"
	password = "test-password"
)

// ferretDB is the real FerretDB binary the toolchain builds; its absence fails the tests, it never skips them.
func ferretDB(t testing.TB) string {
	t.Helper()
	path := os.Getenv("AUTOCLOUD_FERRETDB")
	if path == "" {
		path, _ = filepath.Abs("../../.toolchain/bin/ferretdb")
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("FerretDB binary %s is missing: build it with `make toolchain` (or `autocloud toolchain build ferretdb`) "+
			"(or point AUTOCLOUD_FERRETDB at one)", path)
	}
	return path
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startStore runs FerretDB on SQLite in a temporary folder, with the same authentication, SQLite settings
// (synchronous=NORMAL) and GOGC as the cluster's docstore, and returns its URI once its own readiness probe (a wire-protocol ping) passes. A port
// freeAddr found free can be taken by another process before FerretDB binds it (make test runs these
// tests beside the integration tests); then it starts again on new ports.
func startStore(t testing.TB, database string) string {
	t.Helper()
	dir := t.TempDir()
	for attempt := 1; ; attempt++ {
		addr, debug := freeAddr(t), freeAddr(t)
		cmd := exec.Command(ferretDB(t), "--handler=sqlite", "--sqlite-url=file:"+dir+"/?_pragma=synchronous(normal)", "--state-dir="+dir,
			"--listen-addr="+addr, "--debug-addr="+debug, "--telemetry=disable", "--log-level=warn",
			"--test-enable-new-auth", "--setup-database="+database, "--setup-username="+user)
		cmd.Env = append(os.Environ(), "FERRETDB_SETUP_PASSWORD="+password, "GOGC=1000") // as components/local/state.py
		// A test binary killed by its timeout runs no cleanup; the store must not outlive it.
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		logPath := filepath.Join(dir, fmt.Sprintf("ferretdb-%d.log", attempt))
		logFile, err := os.Create(logPath)
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = logFile, logFile
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting FerretDB: %v", err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		stop := func() { _ = cmd.Process.Kill(); <-exited; logFile.Close() }
		t.Cleanup(stop)
		if storeReady(debug, exited, 60*time.Second) {
			return "mongodb://" + addr + "/"
		}
		stop()
		output, _ := os.ReadFile(logPath)
		if !strings.Contains(string(output), "address already in use") || attempt == 3 {
			t.Fatalf("FerretDB did not become ready on %s; its log:\n%s", addr, output)
		}
		t.Logf("attempt %d: a port was taken before FerretDB bound it; trying new ports", attempt)
	}
}

// storeReady waits for FerretDB's readiness probe; false if the process exits first or time runs out.
func storeReady(debugAddr string, exited <-chan struct{}, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if resp, err := http.Get("http://" + debugAddr + "/debug/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return true
			}
		}
		select {
		case <-exited:
			return false
		case <-time.After(50 * time.Millisecond):
		}
	}
	return false
}

func startKafka(t *testing.T) []string {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	return cluster.ListenAddrs()
}

func produce(t *testing.T, brokers []string, records ...*kgo.Record) {
	t.Helper()
	client, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := client.ProduceSync(ctx, records...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

func telemetry(vehicle string, speed int) *kgo.Record {
	body := fmt.Sprintf(`{"vehicleId":"spoofed","speedKmh":%d,"position":{"lat":48.1,"lon":11.5},"messages":999}`, speed)
	return &kgo.Record{Key: []byte(vehicle), Value: []byte(body)}
}

func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func config(store, group string, units ...Unit) Config {
	return Config{Units: units, Topic: topic, Group: group, StoreURI: store, Database: "vehicles",
		Collection: "vehicle-state", Username: user, Password: password}
}

// run starts a writer and returns it with a stop function that waits for it to finish.
func run(t *testing.T, cfg Config) (*Writer, func()) {
	t.Helper()
	w, err := NewWriter(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		w.Run(ctx)
		close(done)
	}()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
			w.Close()
		}
	}
	t.Cleanup(stop)
	return w, stop
}

// collection is the writer's MongoDB collection, to read what it wrote.
func collection(w *Writer) *mongo.Collection { return w.store.(*mongoStore).coll }

func vehicle(t *testing.T, w *Writer, id string) bson.M {
	t.Helper()
	var doc bson.M
	if err := collection(w).FindOne(context.Background(), bson.M{"_id": id}).Decode(&doc); err != nil {
		t.Fatalf("vehicle %s: %v", id, err)
	}
	return doc
}

func count(doc bson.M) int64 {
	switch n := doc["messages"].(type) {
	case int32:
		return int64(n)
	case int64:
		return n
	}
	return -1
}

func TestKeepsEachVehiclesLastStateFromEveryUnit(t *testing.T) {
	store := startStore(t, "vehicles")
	unitA, unitB := startKafka(t), startKafka(t)
	produce(t, unitA, telemetry("v1", 10), telemetry("v1", 20), telemetry("v1", 30), telemetry("v2", 5),
		&kgo.Record{Value: []byte(`{"speedKmh":1}`)}, &kgo.Record{Key: []byte("v9"), Value: []byte("not json")})
	produce(t, unitB, telemetry("v3", 70), telemetry("v3", 80))

	w, _ := run(t, config(store, "statewriter", Unit{"a", unitA}, Unit{"b", unitB}))
	waitFor(t, 20*time.Second, "8 records consumed", func() bool { return w.Stats().Consumed == 8 })

	if got := w.Stats(); got.Upserted != 6 || got.Errors != 2 || got.Replayed != 0 {
		t.Fatalf("stats = %+v, want 6 upserted, 2 errors (no key, not JSON)", got)
	}
	v1 := vehicle(t, w, "v1")
	if count(v1) != 3 || v1["speedKmh"] != 30.0 || v1["vehicleId"] != "v1" {
		t.Fatalf("v1 = %v, want 3 messages, the last speed and its own id", v1)
	}
	if _, ok := v1["lastSeen"].(bson.DateTime); !ok {
		t.Fatalf("v1 lastSeen = %#v, want a date", v1["lastSeen"])
	}
	offsets, ok := v1["offsets"].(bson.D)
	if !ok || len(offsets) != 1 {
		t.Fatalf("v1 offsets = %#v, want one unit-a partition", v1["offsets"])
	}
	if key := offsets[0].Key; !strings.HasPrefix(key, "a-") || offsets[0].Value != int64(2) {
		t.Fatalf("offsets = %v, want a-<partition>: 2 (v1's third record)", offsets)
	}
	if v3 := vehicle(t, w, "v3"); count(v3) != 2 || v3["speedKmh"] != 80.0 {
		t.Fatalf("v3 (unit b) = %v, want 2 messages at 80", v3)
	}
	n, err := collection(w).CountDocuments(context.Background(), bson.M{})
	if err != nil || n != 3 {
		t.Fatalf("documents = %d (%v), want 3 vehicles", n, err)
	}
}

func TestBrandWriterStoresOnlyItsOwnVehicles(t *testing.T) {
	store := startStore(t, "vehicles")
	unit := startKafka(t)
	produce(t, unit, telemetry("alpha-1", 10), telemetry("beta-1", 20), telemetry("alpha-2", 30),
		telemetry("alphabet-1", 40))

	cfg := config(store, "statewriter-alpha", Unit{"a", unit})
	cfg.Collection, cfg.VehiclePrefix = "vehicle-state-alpha", "alpha-"
	w, _ := run(t, cfg)
	waitFor(t, 20*time.Second, "4 records consumed", func() bool { return w.Stats().Consumed == 4 })
	if got := w.Stats(); got.Upserted != 2 || got.Foreign != 2 || got.Errors != 0 {
		t.Fatalf("stats = %+v, want 2 upserted (alpha-1, alpha-2), 2 foreign (beta-1, alphabet-1)", got)
	}
	var ids []string
	cursor, err := collection(w).Find(context.Background(), bson.M{}, options.Find().SetSort(bson.M{"_id": 1}))
	if err != nil {
		t.Fatal(err)
	}
	for cursor.Next(context.Background()) {
		ids = append(ids, cursor.Current.Lookup("_id").StringValue())
	}
	if strings.Join(ids, ",") != "alpha-1,alpha-2" {
		t.Fatalf("vehicle-state-alpha holds %v, want only alpha-1 and alpha-2", ids)
	}
}

func TestReplayAfterLostCommitsDoesNotCountTwice(t *testing.T) {
	store := startStore(t, "vehicles")
	unit := startKafka(t)
	produce(t, unit, telemetry("v1", 10), telemetry("v1", 20), telemetry("v2", 30))

	first, stop := run(t, config(store, "g1", Unit{"a", unit}))
	waitFor(t, 20*time.Second, "first pass", func() bool { return first.Stats().Upserted == 3 })
	stop()

	// A new group has no committed offsets: it sees every record again, as after a crash before the commit.
	replay, stop := run(t, config(store, "g2", Unit{"a", unit}))
	waitFor(t, 20*time.Second, "replay", func() bool { return replay.Stats().Consumed == 3 })
	if got := replay.Stats(); got.Replayed != 3 || got.Upserted != 0 {
		t.Fatalf("replay stats = %+v, want 3 replayed, 0 upserted", got)
	}
	if v1 := vehicle(t, replay, "v1"); count(v1) != 2 || v1["speedKmh"] != 20.0 {
		t.Fatalf("v1 after replay = %v, want still 2 messages at 20", v1)
	}
	stop()

	// The first group committed after its upserts: restarted, it reads only what is new.
	produce(t, unit, telemetry("v1", 40))
	again, _ := run(t, config(store, "g1", Unit{"a", unit}))
	waitFor(t, 20*time.Second, "the new record", func() bool { return again.Stats().Upserted == 1 })
	time.Sleep(500 * time.Millisecond)
	if got := again.Stats(); got.Consumed != 1 {
		t.Fatalf("restarted group stats = %+v, want only the 1 new record", got)
	}
	if v1 := vehicle(t, again, "v1"); count(v1) != 3 || v1["speedKmh"] != 40.0 {
		t.Fatalf("v1 = %v, want 3 messages at 40", v1)
	}
}

func TestReadyOnlyWhenKafkaAndStoreAnswer(t *testing.T) {
	unit := startKafka(t)
	ready := func(cfg Config) (int, string) {
		w, err := NewWriter(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		rec := httptest.NewRecorder()
		w.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/ready", nil))
		return rec.Code, rec.Body.String()
	}

	if code, body := ready(config("mongodb://"+freeAddr(t)+"/", "g", Unit{"a", unit})); code != http.StatusServiceUnavailable {
		t.Fatalf("store down: /ready = %d %q, want 503", code, body)
	}
	store := startStore(t, "vehicles")
	if code, body := ready(config(store, "g", Unit{"a", []string{freeAddr(t)}})); code != http.StatusServiceUnavailable {
		t.Fatalf("kafka down: /ready = %d %q, want 503", code, body)
	}
	if code, body := ready(config(store, "g", Unit{"a", unit})); code != http.StatusOK {
		t.Fatalf("both up: /ready = %d %q, want 200", code, body)
	}

	w, _ := run(t, config(store, "g", Unit{"a", unit}))
	rec := httptest.NewRecorder()
	w.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/stats", nil))
	var stats map[string]int64
	if err := json.Unmarshal(rec.Body.Bytes(), &stats); err != nil {
		t.Fatalf("/stats = %q: %v", rec.Body.String(), err)
	}
	for _, key := range []string{"consumed", "upserted", "replayed", "writes", "errors"} {
		if _, ok := stats[key]; !ok {
			t.Fatalf("/stats = %v, missing %s", stats, key)
		}
	}
}

func TestParseUnit(t *testing.T) {
	u, err := ParseUnit("su1=k0:9092, k1:9092", 0)
	if err != nil || u.Name != "su1" || len(u.Brokers) != 2 || u.Brokers[1] != "k1:9092" {
		t.Fatalf("named = %+v, %v", u, err)
	}
	if u, err = ParseUnit("k0:9092", 2); err != nil || u.Name != "u2" {
		t.Fatalf("unnamed = %+v, %v", u, err)
	}
	for _, bad := range []string{"a.b=k:1", "=k:1", "su0=", " , "} {
		if _, err := ParseUnit(bad, 0); err == nil {
			t.Fatalf("%q accepted", bad)
		}
	}
}

func TestProbeWritesAndReadsBack(t *testing.T) {
	store := startStore(t, "vehicles")
	cfg := config(store, "", Unit{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := Probe(ctx, cfg, "probe-1")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil || doc["_id"] != "probe-1" || doc["probes"] != 1.0 {
		t.Fatalf("probe = %s (%v)", out, err)
	}
	cfg.Password = "wrong"
	if _, err := Probe(ctx, cfg, "probe-2"); err == nil {
		t.Fatal("a wrong password was accepted")
	}
}

func TestEachUnitFetchesItsShareOfTheBudgetOneFetchAtATime(t *testing.T) {
	unit := func(n int) Unit { return Unit{fmt.Sprintf("unit-%d", n), []string{fmt.Sprintf("127.0.0.1:%d", n)}} }
	for units, want := range map[int]int32{1: 32 << 20, 2: 16 << 20, 8: 4 << 20, 12: 4 << 20} {
		cfg := config("mongodb://127.0.0.1:1/", "statewriter")
		for n := 1; n <= units; n++ {
			cfg.Units = append(cfg.Units, unit(n))
		}
		w, err := NewWriter(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range w.units {
			if got := u.client.OptValue(kgo.FetchMaxBytes); got != want {
				t.Errorf("%d units: %s fetches up to %v bytes, want %d MiB", units, u.name, got, want>>20)
			}
			if got := u.client.OptValue(kgo.MaxConcurrentFetches); got != 1 {
				t.Errorf("%d units: %s allows %v concurrent fetches, want 1", units, u.name, got)
			}
		}
		w.Close()
	}
}
