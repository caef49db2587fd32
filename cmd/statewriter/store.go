package main

import (
	"context"
	"fmt"
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

// Update is one telemetry record as the store applies it.
type Update struct {
	Vehicle   string         // the record key: `_id` (MongoDB) or `id` (Cosmos DB), and `vehicleId`
	Fields    map[string]any // the message's own fields (messageFields)
	Seen      time.Time      // the record's timestamp, stored as `lastSeen`
	OffsetKey string         // `<unit>-<partition>`, the key in `offsets`
	Offset    int64
}

// Store keeps one document per vehicle. Both kinds store the same shape: the message's fields,
// `vehicleId`, `lastSeen`, `messages` (a count) and `offsets` (the last applied offset per unit and
// partition); only the key field's name differs (`_id` or `id`) and `lastSeen`'s type (a BSON date, or
// an RFC 3339 UTC string in JSON).
type Store interface {
	// Apply writes u unless the vehicle's document already holds its offset (or a later one of its
	// partition); it reports whether it changed the document.
	Apply(ctx context.Context, u Update) (bool, error)
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
		if k != "" && !reserved[k] && !strings.HasPrefix(k, "$") && !strings.HasPrefix(k, "_") &&
			!strings.Contains(k, ".") {
			out[k] = v
		}
	}
	return out
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
