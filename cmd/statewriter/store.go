package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Store kinds (--store-kind). The local stacks run FerretDB, which speaks MongoDB's wire protocol; the
// Azure account is Cosmos DB for NoSQL, reached with Entra ID.
//
// Why two protocols rather than Cosmos DB's API for MongoDB on Azure: the account must refuse keys
// (components/state.py sets disableLocalAuth) and the writer authenticates as its workload identity.
// Cosmos DB for NoSQL authorizes data requests with Microsoft Entra ID and its own data-plane roles
// ("Connect to Azure Cosmos DB for NoSQL using role-based access control and Microsoft Entra ID",
// https://learn.microsoft.com/azure/cosmos-db/how-to-connect-role-based-access-control), sent as
// `type=aad&ver=1.0&sig=<token>` ({typeoftoken} "aad (if you're using Azure Cosmos DB RBAC)",
// https://learn.microsoft.com/rest/api/cosmos-db/access-control-on-cosmosdb-resources). The API for
// MongoDB's data-plane access control keeps users with passwords in a database ("Users and roles
// reside within a database", https://learn.microsoft.com/azure/cosmos-db/mongodb/how-to-setup-rbac):
// a secret to hand out, which Entra ID avoids. Residency and cost are the same either way (one account
// in the profile's locations, the same RU/s). What can be tested here decides nothing: no Cosmos DB
// emulator can be pulled, so the NoSQL path is tested against a fake of its REST API (store_cosmos_test.go)
// and the MongoDB path against the real FerretDB, as before.
const (
	StoreMongoDB     = "mongodb"
	StoreCosmosNoSQL = "cosmos-nosql"
)

// Record is one telemetry record as a store merges it.
type Record struct {
	Offset int64
	Seen   time.Time // the record's timestamp
	// Value is the message, a JSON object, kept as it came: it is parsed only if the record is applied, so a
	// poll of tens of thousands of records holds their bytes, not their decoded trees.
	Value []byte
}

// mergedFields is the records' own fields (messageFields) merged in offset order, a later record's value
// winning; collect lets only JSON objects through. The newest record is decoded whole, the older ones only
// split into their top-level fields for what the newer lack: a vehicle's hundred records since the last
// poll cost about one decode (their cell voltages alone are hundreds of numbers each), not a hundred.
func mergedFields(records []Record) map[string]any {
	if len(records) == 0 {
		return map[string]any{}
	}
	var newest map[string]any
	_ = json.Unmarshal(records[len(records)-1].Value, &newest)
	fields := messageFields(newest)
	for i := len(records) - 2; i >= 0; i-- {
		var older map[string]json.RawMessage
		_ = json.Unmarshal(records[i].Value, &older)
		for k, raw := range older {
			if _, newer := fields[k]; newer || !storable(k) {
				continue
			}
			var v any
			_ = json.Unmarshal(raw, &v)
			fields[k] = v
		}
	}
	return fields
}

// Update is one vehicle's records from one partition in one poll, in ascending offset order. A store
// applies it in at most one write per attempt: the store cost scales with vehicles per poll, not with
// messages.
type Update struct {
	Vehicle   string // the record key: `_id` (MongoDB) or `id` (Cosmos DB), and `vehicleId`
	OffsetKey OffsetKey
	Records   []Record
}

// OffsetKey names one partition's entry in a document's `offsets`: `<unit>-<partition>`, followed by
// `@<topic id>` when the cluster tells topic IDs (Kafka 3.1 and later). A topic that is deleted and
// created again, or a unit's Kafka replaced with its log lost, starts over at offset 0 under a new
// topic ID: its records then get a new key instead of looking like replays of the old topic's higher
// offsets, which would store nothing.
type OffsetKey struct {
	Unit      string
	Partition int32
	TopicID   string // as Kafka prints it (unpadded base64url); "" when the cluster tells none
}

func (k OffsetKey) String() string {
	base := fmt.Sprintf("%s-%d", k.Unit, k.Partition)
	if k.TopicID == "" {
		return base
	}
	return base + "@" + k.TopicID
}

// supersedes tells whether stored is this partition's key under another topic ID (or none): offsets of
// a topic that no longer exists, which the next write drops. Unit names hold no '@' (ParseUnit).
func (k OffsetKey) supersedes(stored string) bool {
	base := fmt.Sprintf("%s-%d", k.Unit, k.Partition)
	return stored != k.String() && (stored == base || strings.HasPrefix(stored, base+"@"))
}

// change is what an Update does to a vehicle's document, computed the same way for both stores.
type change struct {
	applied int            // records above the stored offset: `messages` grows by this; 0 means no write
	fields  map[string]any // their fields merged in offset order, a later record's value winning
	seen    time.Time      // the last applied record's timestamp, stored as `lastSeen`
	offset  int64          // the last applied record's offset, stored under the OffsetKey
	drop    []string       // stored keys the OffsetKey supersedes
}

// plan is the change u makes to a document whose `offsets` are stored (nil when there is no document).
// Only records above the offset stored under u's key count: a replay, or the part of a batch that
// overlaps what the document already holds, is neither counted nor written again.
func plan(u Update, stored map[string]int64) change {
	last, held := stored[u.OffsetKey.String()]
	// Records are in ascending offset order, so those not held yet are a suffix.
	first := 0
	for held && first < len(u.Records) && u.Records[first].Offset <= last {
		first++
	}
	applied := u.Records[first:]
	if len(applied) == 0 {
		return change{}
	}
	newest := applied[len(applied)-1]
	c := change{applied: len(applied), seen: newest.Seen, offset: newest.Offset, fields: mergedFields(applied)}
	for key := range stored {
		if u.OffsetKey.supersedes(key) {
			c.drop = append(c.drop, key)
		}
	}
	sort.Strings(c.drop)
	return c
}

// Store keeps one document per vehicle. Both kinds store the same shape: the message's fields,
// `vehicleId`, `lastSeen`, `messages` (a count) and `offsets` (the last applied offset per unit and
// partition, keyed by OffsetKey); only the key field's name differs (`_id` or `id`) and `lastSeen`'s
// type (a BSON date, or an RFC 3339 UTC string in JSON).
type Store interface {
	// Apply writes the records of u the vehicle's document does not hold yet (plan), in one write, and
	// returns how many they were; 0 means it wrote nothing.
	Apply(ctx context.Context, u Update) (int, error)
	// Probe upserts a document with the given id and returns it as read back, as JSON.
	Probe(ctx context.Context, id string) (string, error)
	// Ping is nil when the store answers (and, for Cosmos DB, the identity may read the container).
	Ping(ctx context.Context) error
	Close(ctx context.Context) error
}

// reserved fields are the writer's own (or a store's key); a message cannot overwrite them.
var reserved = map[string]bool{
	"_id": true, "id": true, "vehicleId": true, "lastSeen": true, "messages": true, "offsets": true,
}

// messageFields keeps the fields both stores can hold as they are: no reserved name, nothing starting
// with `$` (MongoDB operators) or `_` (Cosmos DB's system properties), no `.` (a MongoDB path).
func messageFields(message map[string]any) map[string]any {
	out := make(map[string]any, len(message))
	for k, v := range message {
		if storable(k) {
			out[k] = v
		}
	}
	return out
}

// storable is whether messageFields keeps a field of this name.
func storable(k string) bool {
	return k != "" && !reserved[k] && !strings.HasPrefix(k, "$") && !strings.HasPrefix(k, "_") && !strings.Contains(k, ".")
}

// OpenStore connects lazily to the store cfg names: neither kind has to answer yet.
func OpenStore(cfg Config) (Store, error) {
	switch cfg.StoreKind {
	case "", StoreMongoDB:
		return openMongo(cfg)
	case StoreCosmosNoSQL:
		if cfg.Username != "" || cfg.Password != "" {
			return nil, fmt.Errorf("store kind %s takes no user or password: it is reached with Entra ID", cfg.StoreKind)
		}
		cred, err := cfg.credential()
		if err != nil {
			return nil, err
		}
		return openCosmos(cfg, cred)
	}
	return nil, fmt.Errorf("store kind %q: want %s or %s", cfg.StoreKind, StoreMongoDB, StoreCosmosNoSQL)
}
