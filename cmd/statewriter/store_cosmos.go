package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
)

// partitionKeyField is the container's partition key, `/vehicleId` (PARTITION_KEY in
// components/state.py): every item carries it, equal to its `id`, so one vehicle is one item.
const partitionKeyField = "vehicleId"

// writeAttempts bounds the read-modify-write loop when another writer changed the item in between.
const writeAttempts = 5

// cosmosStore is the Azure store: one container of a Cosmos DB for NoSQL account, with Entra ID.
//
// Cosmos DB has no server-side `$inc` with a `$set` of any field (a patch takes at most 10 operations),
// so an update reads the item, checks its offsets, and writes the whole item back with optimistic
// concurrency: a new item with Create (409 if someone created it first), an existing one with an
// Upsert that carries the read `_etag` as If-Match (412 if it changed since). Either way the loop
// reads again, so two writers never lose a count. ("Upsert ... will ignore IfMatchEtag when
// materialized as Create, otherwise for Replace Etag constraint will be applied",
// https://learn.microsoft.com/dotnet/api/microsoft.azure.cosmos.requestoptions.ifmatchetag; the
// upsert header: https://learn.microsoft.com/rest/api/cosmos-db/create-a-document.)
type cosmosStore struct {
	container *azcosmos.ContainerClient
}

// openCosmos takes the account endpoint (`https://<account>.documents.azure.com:443/`, or
// `.documents.azure.cn` in Azure China). The SDK asks the credential for `https://<endpoint host>/.default`.
func openCosmos(cfg Config, cred azcore.TokenCredential) (*cosmosStore, error) {
	opts := &azcosmos.ClientOptions{}
	if cfg.StoreTransport != nil {
		opts.Transport = cfg.StoreTransport
	}
	client, err := azcosmos.NewClient(cfg.StoreURI, cred, opts)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	container, err := client.NewContainer(cfg.Database, cfg.Collection)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return &cosmosStore{container: container}, nil
}

// systemProperties are Cosmos DB's own; they are not written back.
var systemProperties = map[string]bool{"_rid": true, "_self": true, "_etag": true, "_attachments": true, "_ts": true}

// cosmosItem is a stored item: its fields (numbers kept as written), its count and offsets, its etag.
type cosmosItem struct {
	fields   map[string]any
	messages int64
	offsets  map[string]int64
	etag     azcore.ETag
}

// read returns nil when the vehicle has no item yet.
func (s *cosmosStore) read(ctx context.Context, id string) (*cosmosItem, error) {
	resp, err := s.container.ReadItem(ctx, azcosmos.NewPartitionKeyString(id), id, nil)
	if status(err) == http.StatusNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	item := &cosmosItem{etag: resp.ETag}
	decoder := json.NewDecoder(bytes.NewReader(resp.Value))
	decoder.UseNumber()
	if err := decoder.Decode(&item.fields); err != nil {
		return nil, fmt.Errorf("item %s: %w", id, err)
	}
	var counters struct {
		Messages int64            `json:"messages"`
		Offsets  map[string]int64 `json:"offsets"`
	}
	if err := json.Unmarshal(resp.Value, &counters); err != nil {
		return nil, fmt.Errorf("item %s: %w", id, err)
	}
	item.messages, item.offsets = counters.Messages, counters.Offsets
	for k := range systemProperties {
		delete(item.fields, k)
	}
	return item, nil
}

// write creates the item when there was none, or upserts it if it is still the one read.
func (s *cosmosStore) write(ctx context.Context, id string, stored *cosmosItem, doc map[string]any) error {
	doc["id"], doc[partitionKeyField] = id, id
	body, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	key := azcosmos.NewPartitionKeyString(id)
	if stored == nil {
		_, err = s.container.CreateItem(ctx, key, body, nil)
	} else {
		_, err = s.container.UpsertItem(ctx, key, body, &azcosmos.ItemOptions{IfMatchEtag: &stored.etag})
	}
	return err
}

// update runs change on the vehicle's item until a write lands; change returns nil to leave it as is.
func (s *cosmosStore) update(ctx context.Context, id string, change func(*cosmosItem) map[string]any) (bool, error) {
	for attempt := 1; ; attempt++ {
		stored, err := s.read(ctx, id)
		if err != nil {
			return false, err
		}
		doc := change(stored)
		if doc == nil {
			return false, nil
		}
		err = s.write(ctx, id, stored, doc)
		if err == nil {
			return true, nil
		}
		if code := status(err); (code != http.StatusConflict && code != http.StatusPreconditionFailed) || attempt == writeAttempts {
			return false, err
		}
	}
}

// Apply plans on the item as read and writes it back if it is still that item; when another write came
// first (412 or 409), update reads again and the plan is made again on what is stored then, so records
// that write already holds are not counted twice.
func (s *cosmosStore) Apply(ctx context.Context, u Update) (int, error) {
	var applied int
	_, err := s.update(ctx, u.Vehicle, func(stored *cosmosItem) map[string]any {
		doc, messages, offsets := map[string]any{}, int64(0), map[string]int64{}
		if stored != nil {
			doc, messages = stored.fields, stored.messages
			for k, v := range stored.offsets {
				offsets[k] = v
			}
		}
		c := plan(u, offsets)
		if applied = c.applied; applied == 0 {
			return nil
		}
		for k, v := range c.fields {
			doc[k] = v
		}
		for _, k := range c.drop {
			delete(offsets, k)
		}
		offsets[u.OffsetKey.String()] = c.offset
		doc["lastSeen"] = c.seen.UTC().Format(time.RFC3339Nano)
		doc["messages"] = messages + int64(c.applied)
		doc["offsets"] = offsets
		return doc
	})
	if err != nil {
		return 0, err
	}
	return applied, nil
}

func (s *cosmosStore) Probe(ctx context.Context, id string) (string, error) {
	_, err := s.update(ctx, id, func(stored *cosmosItem) map[string]any {
		doc, probes := map[string]any{}, int64(0)
		if stored != nil {
			doc = stored.fields
			if n, ok := doc["probes"].(json.Number); ok {
				probes, _ = n.Int64()
			}
		}
		doc["probedAt"] = time.Now().UTC().Format(time.RFC3339Nano)
		doc["probes"] = probes + 1
		return doc
	})
	if err != nil {
		return "", fmt.Errorf("upsert: %w", err)
	}
	stored, err := s.read(ctx, id)
	if err != nil {
		return "", fmt.Errorf("read back: %w", err)
	}
	if stored == nil {
		return "", errors.New("read back: no item")
	}
	out, err := json.Marshal(stored.fields)
	return string(out), err
}

// Ping reads the container's properties: the account answers and the identity's role allows metadata
// reads (which every data-plane operation of the SDK needs too).
func (s *cosmosStore) Ping(ctx context.Context) error {
	_, err := s.container.Read(ctx, nil)
	return err
}

func (s *cosmosStore) Close(context.Context) error { return nil }

// status is the HTTP status of a failed Cosmos DB call, or 0.
func status(err error) int {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}
