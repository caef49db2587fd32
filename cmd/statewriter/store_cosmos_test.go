package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	cosmosToken = "cosmos-token"
	docsPath    = "/dbs/vehicles/colls/vehicle-state/docs"
)

// cosmosRequest is what the fake saw of one request.
type cosmosRequest struct {
	method, path, partitionKey, upsert, ifMatch string
	body                                        map[string]any
}

// isUpsert reads the Boolean header x-ms-documentdb-is-upsert.
func (r cosmosRequest) isUpsert() bool { return strings.EqualFold(r.upsert, "true") }

// fakeCosmos serves the part of Cosmos DB for NoSQL's REST API the writer uses (account, container,
// item read, create and upsert), holding items in memory. No Cosmos DB emulator can be pulled here,
// so this checks what the requests carry, as the service documents them: the Entra token as
// `type=aad&ver=1.0&sig=<token>`, the partition key as a JSON array header, `x-ms-documentdb-is-upsert`,
// If-Match against the item's `_etag` (412 when stale), 409 when creating an item that exists.
type fakeCosmos struct {
	t        *testing.T
	server   *httptest.Server
	mu       sync.Mutex
	items    map[string]map[string]any
	version  int
	requests []cosmosRequest
	// beforeWrite, when set, runs once before the next write is applied, as another writer would.
	beforeWrite func(f *fakeCosmos)
}

func startCosmos(t *testing.T) *fakeCosmos {
	t.Helper()
	f := &fakeCosmos{t: t, items: map[string]map[string]any{}}
	f.server = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.server.Close)
	return f
}

// config is a writer configuration whose store is this fake, reached with a fake Entra credential.
func (f *fakeCosmos) config(cred *fakeCredential) Config {
	return Config{StoreKind: StoreCosmosNoSQL, StoreURI: f.server.URL + "/", Database: "vehicles",
		Collection: "vehicle-state", Credential: cred, StoreTransport: f.server.Client(), Topic: topic}
}

func (f *fakeCosmos) reply(w http.ResponseWriter, code int, body map[string]any) {
	w.Header().Set("Content-Type", "application/json")
	if etag, ok := body["_etag"].(string); ok {
		w.Header().Set("ETag", etag)
	}
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body)
}

func (f *fakeCosmos) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	seen := cosmosRequest{method: r.Method, path: r.URL.Path, partitionKey: r.Header.Get("x-ms-documentdb-partitionkey"),
		upsert: r.Header.Get("x-ms-documentdb-is-upsert"), ifMatch: r.Header.Get("If-Match")}
	if r.Body != nil {
		raw, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(raw, &seen.body)
	}
	f.requests = append(f.requests, seen)
	if got := r.Header.Get("Authorization"); got != "type=aad&ver=1.0&sig="+cosmosToken {
		f.reply(w, http.StatusUnauthorized, map[string]any{"code": "Unauthorized", "message": "authorization " + got})
		return
	}
	endpoint := []map[string]any{{"name": "West Europe", "databaseAccountEndpoint": f.server.URL + "/"}}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/":
		f.reply(w, http.StatusOK, map[string]any{"id": "fake", "writableLocations": endpoint, "readableLocations": endpoint,
			"enableMultipleWriteLocations": false, "userConsistencyPolicy": map[string]any{"defaultConsistencyLevel": "Session"}})
	case r.Method == http.MethodGet && r.URL.Path == "/dbs/vehicles/colls/vehicle-state":
		f.reply(w, http.StatusOK, map[string]any{"id": "vehicle-state",
			"partitionKey": map[string]any{"paths": []string{"/vehicleId"}, "kind": "Hash", "version": 2}})
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, docsPath+"/"):
		id := strings.TrimPrefix(r.URL.Path, docsPath+"/")
		if !f.keyMatches(w, seen.partitionKey, id) {
			return
		}
		if item, ok := f.items[id]; ok {
			f.reply(w, http.StatusOK, item)
			return
		}
		f.reply(w, http.StatusNotFound, map[string]any{"code": "NotFound"})
	case r.Method == http.MethodPost && r.URL.Path == docsPath:
		f.write(w, seen)
	default:
		f.t.Errorf("unexpected Cosmos DB request %s %s", r.Method, r.URL.Path)
		f.reply(w, http.StatusNotFound, map[string]any{"code": "NotFound"})
	}
}

// keyMatches answers 400 unless the partition key header is `["<id>"]`: the container's key is
// /vehicleId and every item's vehicleId is its id.
func (f *fakeCosmos) keyMatches(w http.ResponseWriter, header, id string) bool {
	if want, _ := json.Marshal([]string{id}); header != string(want) {
		f.t.Errorf("partition key header %q for item %q, want %s", header, id, want)
		f.reply(w, http.StatusBadRequest, map[string]any{"code": "BadRequest", "message": "partition key"})
		return false
	}
	return true
}

func (f *fakeCosmos) write(w http.ResponseWriter, seen cosmosRequest) {
	id, _ := seen.body["id"].(string)
	if seen.body[partitionKeyField] != id || !f.keyMatches(w, seen.partitionKey, id) {
		f.t.Errorf("item %v: vehicleId must equal id and the partition key", seen.body)
		f.reply(w, http.StatusBadRequest, map[string]any{"code": "BadRequest"})
		return
	}
	if hook := f.beforeWrite; hook != nil {
		f.beforeWrite = nil
		hook(f)
	}
	stored, exists := f.items[id]
	switch {
	case !seen.isUpsert() && exists:
		f.reply(w, http.StatusConflict, map[string]any{"code": "Conflict"})
		return
	case seen.isUpsert() && exists && seen.ifMatch != "" && seen.ifMatch != stored["_etag"]:
		f.reply(w, http.StatusPreconditionFailed, map[string]any{"code": "PreconditionFailed"})
		return
	}
	f.version++
	item := map[string]any{"_rid": "rid-" + id, "_ts": f.version, "_etag": fmt.Sprintf("\"%d\"", f.version)}
	for k, v := range seen.body {
		item[k] = v
	}
	f.items[id] = item
	f.reply(w, http.StatusCreated, item)
}

// item is the stored item (nil if none).
func (f *fakeCosmos) item(id string) map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.items[id]
}

// writes are the item writes seen so far.
func (f *fakeCosmos) writes() []cosmosRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []cosmosRequest
	for _, r := range f.requests {
		if r.method == http.MethodPost {
			out = append(out, r)
		}
	}
	return out
}

func openFake(t *testing.T, f *fakeCosmos, cred *fakeCredential) Store {
	t.Helper()
	store, err := OpenStore(f.config(cred))
	if err != nil {
		t.Fatal(err)
	}
	return store
}

// record is a record at offset whose timestamp tells the offset (in nanoseconds).
func record(offset int64, fields map[string]any) Record {
	value, err := json.Marshal(fields)
	if err != nil {
		panic(err)
	}
	return Record{Offset: offset, Seen: time.Date(2026, 5, 1, 12, 0, 0, int(offset), time.UTC), Value: value}
}

// update is one record of the vehicle on partition 0 of unit-1, a cluster without topic IDs.
func update(vehicle string, offset int64, fields map[string]any) Update {
	return Update{Vehicle: vehicle, OffsetKey: OffsetKey{Unit: "unit-1"}, Records: []Record{record(offset, fields)}}
}

// batchOf is the vehicle's records from..to (inclusive) on partition 0 of unit-1 under topic ID id, each
// with its own speed (the offset) and, for the first only, a field the others lack.
func batchOf(vehicle string, from, to int64, id string) Update {
	u := Update{Vehicle: vehicle, OffsetKey: OffsetKey{Unit: "unit-1", TopicID: id}}
	for o := from; o <= to; o++ {
		fields := map[string]any{"speedKmh": float64(o)}
		if o == from {
			fields["firstOf"] = float64(from)
		}
		u.Records = append(u.Records, record(o, fields))
	}
	return u
}

func TestCosmosCreatesThenUpsertsOneItemPerVehicle(t *testing.T) {
	f := startCosmos(t)
	cred := &fakeCredential{token: cosmosToken}
	store := openFake(t, f, cred)
	ctx := context.Background()

	if applied, err := store.Apply(ctx, update("v1", 0, map[string]any{"speedKmh": 10.0, "note": "a"})); err != nil || applied != 1 {
		t.Fatalf("first record: applied %v, %v", applied, err)
	}
	if applied, err := store.Apply(ctx, update("v1", 1, map[string]any{"speedKmh": 20.0})); err != nil || applied != 1 {
		t.Fatalf("second record: applied %v, %v", applied, err)
	}
	writes := f.writes()
	if len(writes) != 2 || writes[0].isUpsert() || !writes[1].isUpsert() {
		t.Fatalf("writes %+v: want a create, then an upsert", writes)
	}
	if writes[1].ifMatch != "\"1\"" {
		t.Fatalf("upsert If-Match %q, want the read item's _etag \"1\"", writes[1].ifMatch)
	}
	for _, w := range writes {
		if w.partitionKey != `["v1"]` {
			t.Fatalf("partition key header %q, want [\"v1\"]", w.partitionKey)
		}
		if _, system := w.body["_rid"]; system {
			t.Fatalf("wrote Cosmos DB's system properties back: %v", w.body)
		}
	}
	v1 := f.item("v1")
	want := map[string]any{"id": "v1", "vehicleId": "v1", "speedKmh": 20.0, "note": "a", "messages": 2.0,
		"lastSeen": "2026-05-01T12:00:00.000000001Z", "offsets": map[string]any{"unit-1-0": 1.0}}
	for k, v := range want {
		if fmt.Sprint(v1[k]) != fmt.Sprint(v) {
			t.Fatalf("item %v: %s = %v, want %v", v1, k, v1[k], v)
		}
	}
	if scopes := cred.askedFor(); len(scopes) == 0 || scopes[0] != "https://127.0.0.1/.default" {
		t.Fatalf("token scopes %v, want the account endpoint's https://<host>/.default", scopes)
	}

	// A replayed record changes nothing and writes nothing.
	if applied, err := store.Apply(ctx, update("v1", 1, map[string]any{"speedKmh": 99.0})); err != nil || applied != 0 {
		t.Fatalf("replay: applied %v, %v; want a no-op", applied, err)
	}
	if len(f.writes()) != 2 || f.item("v1")["speedKmh"] != 20.0 {
		t.Fatalf("replay wrote: %v", f.item("v1"))
	}
}

func TestCosmosRereadsWhenAnotherWriterChangedTheItem(t *testing.T) {
	f := startCosmos(t)
	store := openFake(t, f, &fakeCredential{token: cosmosToken})
	ctx := context.Background()
	if _, err := store.Apply(ctx, update("v1", 0, map[string]any{"speedKmh": 10.0})); err != nil {
		t.Fatal(err)
	}
	// Between the writer's read and its upsert, another unit's record for v1 lands.
	f.beforeWrite = func(f *fakeCosmos) {
		other := map[string]any{}
		for k, v := range f.items["v1"] {
			other[k] = v
		}
		other["messages"] = 2.0
		other["offsets"] = map[string]any{"unit-1-0": 0.0, "unit-2-0": 7.0}
		f.version++
		other["_etag"] = fmt.Sprintf("\"%d\"", f.version)
		f.items["v1"] = other
	}
	if applied, err := store.Apply(ctx, update("v1", 1, map[string]any{"speedKmh": 30.0})); err != nil || applied != 1 {
		t.Fatalf("applied %v, %v", applied, err)
	}
	v1 := f.item("v1")
	offsets, _ := v1["offsets"].(map[string]any)
	if v1["messages"] != 3.0 || offsets["unit-2-0"] != 7.0 || offsets["unit-1-0"] != 1.0 {
		t.Fatalf("item %v: want 3 messages and both units' offsets (the other write kept)", v1)
	}
	// create; upsert If-Match "1" (refused: the other write made it "2"); upsert If-Match "2".
	writes := f.writes()
	if len(writes) != 3 || writes[1].ifMatch != `"1"` || writes[2].ifMatch != `"2"` || !writes[2].isUpsert() {
		t.Fatalf("writes %+v: want a stale upsert refused, then one with the new etag", writes)
	}
}

// want checks fields of a stored item, compared as printed.
func want(t *testing.T, item map[string]any, fields map[string]any) {
	t.Helper()
	for k, v := range fields {
		if fmt.Sprint(item[k]) != fmt.Sprint(v) {
			t.Fatalf("item %v: %s = %v, want %v", item, k, item[k], v)
		}
	}
}

func TestCosmosWritesABatchOfOneVehicleOnce(t *testing.T) {
	f := startCosmos(t)
	store := openFake(t, f, &fakeCredential{token: cosmosToken})
	ctx := context.Background()

	if applied, err := store.Apply(ctx, batchOf("v1", 0, 99, "")); err != nil || applied != 100 {
		t.Fatalf("100 records: applied %d, %v", applied, err)
	}
	if writes := f.writes(); len(writes) != 1 {
		t.Fatalf("%d writes for one vehicle's batch, want 1", len(writes))
	}
	// The last record's speed and time, the first record's own field kept, every record counted.
	want(t, f.item("v1"), map[string]any{"messages": 100.0, "speedKmh": 99.0, "firstOf": 0.0,
		"lastSeen": "2026-05-01T12:00:00.000000099Z", "offsets": map[string]any{"unit-1-0": 99.0}})

	// A batch that overlaps what the item holds (40..99 held, 100..139 new) counts only the new part.
	if applied, err := store.Apply(ctx, batchOf("v1", 40, 139, "")); err != nil || applied != 40 {
		t.Fatalf("overlapping batch: applied %d, %v; want the 40 records above offset 99", applied, err)
	}
	// firstOf comes from record 40, which the item already held: not written again.
	want(t, f.item("v1"), map[string]any{"messages": 140.0, "speedKmh": 139.0, "firstOf": 0.0,
		"offsets": map[string]any{"unit-1-0": 139.0}})
	// A batch the item holds entirely writes nothing.
	if applied, err := store.Apply(ctx, batchOf("v1", 100, 139, "")); err != nil || applied != 0 {
		t.Fatalf("replayed batch: applied %d, %v", applied, err)
	}
	if writes := f.writes(); len(writes) != 2 {
		t.Fatalf("%d writes, want 2 (the replayed batch writes nothing)", len(writes))
	}
}

func TestCosmosReplansWhenAnotherWriteHeldPartOfTheBatch(t *testing.T) {
	f := startCosmos(t)
	store := openFake(t, f, &fakeCredential{token: cosmosToken})
	ctx := context.Background()
	if _, err := store.Apply(ctx, batchOf("v1", 0, 9, "")); err != nil {
		t.Fatal(err)
	}
	// Between the read and the write, another write stores records 10..14 (as a zombie member of the
	// group could): the etag changes, the write is refused, and the plan is made again.
	f.beforeWrite = func(f *fakeCosmos) {
		other := map[string]any{}
		for k, v := range f.items["v1"] {
			other[k] = v
		}
		other["messages"], other["offsets"] = 15.0, map[string]any{"unit-1-0": 14.0}
		f.version++
		other["_etag"] = fmt.Sprintf("\"%d\"", f.version)
		f.items["v1"] = other
	}
	if applied, err := store.Apply(ctx, batchOf("v1", 10, 19, "")); err != nil || applied != 5 {
		t.Fatalf("applied %d, %v; want 5 (15..19: the other write held 10..14)", applied, err)
	}
	want(t, f.item("v1"), map[string]any{"messages": 20.0, "speedKmh": 19.0, "offsets": map[string]any{"unit-1-0": 19.0}})
}

func TestCosmosStartsANewOffsetKeyForARecreatedTopic(t *testing.T) {
	f := startCosmos(t)
	store := openFake(t, f, &fakeCredential{token: cosmosToken})
	ctx := context.Background()
	// Written before topic IDs were in the keys, then under the topic's first ID.
	if _, err := store.Apply(ctx, batchOf("v1", 0, 49, "")); err != nil {
		t.Fatal(err)
	}
	if applied, err := store.Apply(ctx, batchOf("v1", 50, 59, "AAAAAAAAAAAAAAAAAAAAAQ")); err != nil || applied != 10 {
		t.Fatalf("first topic ID: applied %d, %v", applied, err)
	}
	want(t, f.item("v1"), map[string]any{"messages": 60.0, "offsets": map[string]any{"unit-1-0@AAAAAAAAAAAAAAAAAAAAAQ": 59.0}})
	// The topic is recreated: offsets start at 0 again, under a new ID. They are new records, not replays.
	if applied, err := store.Apply(ctx, batchOf("v1", 0, 4, "AAAAAAAAAAAAAAAAAAAAAg")); err != nil || applied != 5 {
		t.Fatalf("recreated topic: applied %d, %v; want its 5 records stored", applied, err)
	}
	want(t, f.item("v1"), map[string]any{"messages": 65.0, "speedKmh": 4.0,
		"offsets": map[string]any{"unit-1-0@AAAAAAAAAAAAAAAAAAAAAg": 4.0}})
}

func TestCosmosRefusesAWrongTokenAndPasswords(t *testing.T) {
	f := startCosmos(t)
	store := openFake(t, f, &fakeCredential{token: "someone-else"})
	if _, err := store.Apply(context.Background(), update("v1", 0, nil)); status(err) != http.StatusUnauthorized {
		t.Fatalf("wrong token: %v, want 401", err)
	}
	cfg := f.config(&fakeCredential{token: cosmosToken})
	cfg.Username, cfg.Password = "statewriter", "secret"
	if _, err := OpenStore(cfg); err == nil {
		t.Fatal("cosmos-nosql took a password")
	}
}

func TestCosmosProbeAndPing(t *testing.T) {
	f := startCosmos(t)
	store := openFake(t, f, &fakeCredential{token: cosmosToken})
	ctx := context.Background()
	if err := store.Ping(ctx); err != nil {
		t.Fatalf("ping: %v", err)
	}
	for want := 1; want <= 2; want++ {
		out, err := store.Probe(ctx, "probe-1")
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal([]byte(out), &doc); err != nil || doc["id"] != "probe-1" || doc["probes"] != float64(want) {
			t.Fatalf("probe %d = %s (%v)", want, out, err)
		}
	}
}

func TestMessageFieldsKeepOnlyWhatBothStoresHold(t *testing.T) {
	got := messageFields(map[string]any{"speedKmh": 50, "position": map[string]any{"lat": 1}, "id": "x",
		"_id": "y", "_rid": "z", "$set": 1, "a.b": 2, "messages": 9, "vehicleId": "spoofed", "": 0})
	if len(got) != 2 || got["speedKmh"] != 50 || got["position"] == nil {
		t.Fatalf("fields %v, want speedKmh and position only", got)
	}
}

// TestAzureWiringEndToEnd runs the writer as the Azure stack configures it (--kafka-auth entra,
// --store-kind cosmos-nosql, one workload identity for both) against Event Hubs' stand-in (kfake
// behind TLS and SASL OAUTHBEARER) and Cosmos DB's (the fake above), both taking one Entra token.
func TestAzureWiringEndToEnd(t *testing.T) {
	brokers, gate, tlsConfig := startEventHubs(t, cosmosToken)
	f := startCosmos(t)
	cfg := f.config(&fakeCredential{token: cosmosToken})
	cfg.KafkaAuth, cfg.KafkaTLS = KafkaAuthEntra, tlsConfig
	produceEntra(t, cfg, brokers, telemetry("v1", 10), telemetry("v1", 20), telemetry("v2", 30))

	cfg.Units, cfg.Group = []Unit{{"unit-1", brokers}}, "statewriter"
	w, _ := run(t, cfg)
	waitFor(t, 20*time.Second, "3 records upserted", func() bool { return w.Stats().Upserted == 3 })
	if v1 := f.item("v1"); v1["messages"] != 2.0 || v1["speedKmh"] != 20.0 || v1["vehicleId"] != "v1" {
		t.Fatalf("v1 = %v, want 2 messages at 20 under its own id", v1)
	}
	if code := readyCode(w); code != http.StatusOK {
		t.Fatalf("/ready = %d, want 200", code)
	}
	if gate.accepted.Load() == 0 {
		t.Fatal("no connection went through SASL OAUTHBEARER")
	}

	// The same writer with a token neither service takes reads nothing and is not ready.
	wrong := cfg
	wrong.Credential, wrong.Group = &fakeCredential{token: "expired"}, "another-group"
	refused, _ := run(t, wrong)
	time.Sleep(time.Second)
	if got := refused.Stats(); got.Consumed != 0 {
		t.Fatalf("with a wrong token: %+v, want nothing consumed", got)
	}
	if code := readyCode(refused); code != http.StatusServiceUnavailable {
		t.Fatalf("with a wrong token: /ready = %d, want 503", code)
	}
}

func readyCode(w *Writer) int {
	rec := httptest.NewRecorder()
	w.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/ready", nil))
	return rec.Code
}
