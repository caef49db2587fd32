package main

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Unit is one scale unit's Kafka cluster. Its name keys the stored offsets, so it must stay the same
// across restarts (a renamed unit would have its records counted again).
type Unit struct {
	Name    string
	Brokers []string
}

// ParseUnit reads `[name=]host:port[,host:port...]`; without a name the unit is `u<index>`.
func ParseUnit(value string, index int) (Unit, error) {
	name, list, named := strings.Cut(value, "=")
	if !named {
		name, list = fmt.Sprintf("u%d", index), value
	}
	// '.' and '$' are MongoDB path syntax; '@' separates the topic ID in an OffsetKey.
	if name == "" || strings.ContainsAny(name, ".$@") {
		return Unit{}, fmt.Errorf("unit name %q: must be non-empty, without '.', '$' or '@'", name)
	}
	var brokers []string
	for _, b := range strings.Split(list, ",") {
		if b = strings.TrimSpace(b); b != "" {
			brokers = append(brokers, b)
		}
	}
	if len(brokers) == 0 {
		return Unit{}, fmt.Errorf("unit %s: no broker address in %q", name, value)
	}
	return Unit{Name: name, Brokers: brokers}, nil
}

// Config is everything a Writer needs.
type Config struct {
	Units      []Unit
	Topic      string
	Group      string
	KafkaAuth  string // KafkaAuthNone (default) or KafkaAuthEntra
	StoreKind  string // StoreMongoDB (default) or StoreCosmosNoSQL
	StoreURI   string // mongodb://...; the Cosmos DB account endpoint for StoreCosmosNoSQL
	Database   string
	Collection string // Cosmos DB: the container
	Username   string // MongoDB only
	Password   string // MongoDB only
	// VehiclePrefix, when set, is the brand's registration id prefix (`<brand>-`): records of other
	// vehicles are another brand's and are passed over (committed, never stored) by this brand's writer.
	VehiclePrefix string

	// Credential is the Entra ID credential for KafkaAuthEntra and StoreCosmosNoSQL; nil means the
	// pod's workload identity. Tests put a fake here.
	Credential azcore.TokenCredential
	// KafkaTLS is the TLS configuration for KafkaAuthEntra; nil means the system's roots.
	KafkaTLS *tls.Config
	// StoreTransport sends Cosmos DB's requests; nil means the SDK's own HTTP client.
	StoreTransport policy.Transporter
}

// Stats are the writer's counters, served on /stats.
type Stats struct {
	Consumed int64 `json:"consumed"`
	// Upserted counts records applied to a document, Replayed those a document already held.
	Upserted int64 `json:"upserted"`
	Replayed int64 `json:"replayed"`
	// Writes counts document writes: at most one per vehicle and partition per poll, however many of
	// its records the poll held, so Writes below Upserted is the coalescing at work.
	Writes int64 `json:"writes"`
	Errors int64 `json:"errors"`
	// Foreign counts records of vehicles outside VehiclePrefix (another brand's), passed over.
	Foreign int64 `json:"foreign"`
}

type unitClient struct {
	name   string
	client *kgo.Client
}

// Writer consumes every unit's telemetry and keeps one document per vehicle.
type Writer struct {
	log                                                   *slog.Logger
	units                                                 []unitClient
	store                                                 Store
	prefix                                                []byte
	consumed, upserted, replayed, writes, errors, foreign atomic.Int64
}

// retryMax caps the wait between attempts while the store is down; a batch is retried, never skipped.
const retryMax = 10 * time.Second

// retryBackoff waits 250 ms after a first failure, doubling up to 1 s.
func retryBackoff(fails int) time.Duration {
	if fails >= 3 {
		return time.Second
	}
	return 250 * time.Millisecond << max(fails-1, 0)
}

// pollMax bounds the records of one poll. A larger poll coalesces more when the writer is behind (a
// vehicle's records in one poll cost one write, so writes per poll stay at most the vehicles in it); it is
// bounded by memory (records are kept as their bytes until applied: 20,000 of the fleet's 0.5-2 KB messages
// are about 25 MB) and because a poll's writes hold off a rebalance until they are done: 5,000 vehicles at
// FerretDB's 1,000 writes/s is 5 s, inside franz-go's default 60 s rebalance timeout.
const pollMax = 20000

// fetchPartitionBytes is how much one fetch takes of a partition: a poll holds at most what the last fetch
// brought, so at franz-go's default (1 MB, about 800 of the fleet's messages) ten partitions filled less
// than half a poll and 1,000 vehicles flat out cost a write per eight messages. With 4 MB a poll can fill:
// twenty messages a write. The memory it takes (a fetch buffered while the last poll is written) is why the
// writer's limit is 512 MiB (components/services.py, AZURE_WRITER_RESOURCES); at 256 MiB and without GOMEMLIMIT
// the writer was OOM-killed. On Azure the same consumer reads Event Hubs, whose Kafka endpoint names no
// constraint on a consumer's fetch sizes among the settings it lists as differing from Kafka's
// (https://learn.microsoft.com/azure/event-hubs/apache-kafka-configurations).
const fetchPartitionBytes = 4 << 20

// fetchBudgetBytes is what the writer's units fetch at once in all (compressed, as Kafka sends it): each
// unit's client fetches at most its share (never less than one partition's fetchPartitionBytes, so past
// eight units the sum is units x 4 MiB). A client holds the poll being written and the fetch after it, so
// up to twice its share, and the hubs' records come snappy-compressed: decompressed they take several times
// their fetched size. At franz-go's default, 50 MiB a fetch (FetchMaxBytes: "If what you are consuming is
// compressed, and compressed well, it is strongly recommended to set this option so that decompression does
// not eat all of your RAM"), a writer of two units behind a 2,000-vehicle flat-out backlog was OOM-killed at
// its 512 MiB limit on every restart and never caught up. One fetch at a time per client keeps the share
// where a unit's Kafka has several brokers (franz-go otherwise fetches from each broker at once; locally a
// unit has one): MaxConcurrentFetches "paired with FetchMaxBytes, can upper bound the maximum amount of
// memory that the client can use for consuming".
const fetchBudgetBytes = 32 << 20

// fetchMaxBytes is one unit's share of fetchBudgetBytes.
func fetchMaxBytes(units int) int32 {
	return int32(max(fetchPartitionBytes, fetchBudgetBytes/max(units, 1)))
}

// NewWriter connects lazily: neither Kafka nor the store has to answer yet.
func NewWriter(cfg Config, log *slog.Logger) (*Writer, error) {
	if cfg.needsIdentity() {
		// One credential, so Kafka and the store share its token cache.
		cred, err := cfg.credential()
		if err != nil {
			return nil, err
		}
		cfg.Credential = cred
	}
	store, err := OpenStore(cfg)
	if err != nil {
		return nil, err
	}
	w := &Writer{log: log, store: store, prefix: []byte(cfg.VehiclePrefix)}
	for _, u := range cfg.Units {
		opts, err := kafkaOptions(cfg, u)
		if err != nil {
			w.Close()
			return nil, err
		}
		client, err := kgo.NewClient(append(opts,
			kgo.ClientID("autocloud-statewriter"),
			kgo.ConsumerGroup(cfg.Group),
			kgo.ConsumeTopics(cfg.Topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.FetchMaxPartitionBytes(fetchPartitionBytes),
			kgo.FetchMaxBytes(fetchMaxBytes(len(cfg.Units))),
			kgo.MaxConcurrentFetches(1),
			// Offsets are committed by hand after the upsert, and a rebalance waits until then.
			kgo.DisableAutoCommit(),
			kgo.BlockRebalanceOnPoll(),
			// franz-go surfaces a recreated topic (UNKNOWN_TOPIC_ID) only after five failed fetches, each
			// after a growing backoff: 250 ms doubling to 5 s by default is about 12 s, capped at 1 s it is
			// about 4 s. The cost: a Kafka that is down is retried every second instead of every 5 s.
			kgo.RetryBackoffFn(retryBackoff),
			kgo.OnPartitionsRevoked(w.partitionsLeft(u.Name)),
			kgo.OnPartitionsLost(w.partitionsLeft(u.Name)),
		)...)
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("unit %s: %w", u.Name, err)
		}
		w.units = append(w.units, unitClient{name: u.Name, client: client})
	}
	return w, nil
}

// ownershipAware is a store that remembers what it wrote while the writer owned a partition
// (mongoStore, writtenOffsets): it must forget it once a unit's partitions may have another owner.
type ownershipAware interface{ PartitionsLeft(unit string) }

// partitionsLeft is the callback for a unit's revoked or lost partitions.
func (w *Writer) partitionsLeft(unit string) func(context.Context, *kgo.Client, map[string][]int32) {
	return func(context.Context, *kgo.Client, map[string][]int32) { w.forgetWritten(unit) }
}

func (w *Writer) forgetWritten(unit string) {
	if store, ok := w.store.(ownershipAware); ok {
		store.PartitionsLeft(unit)
	}
}

// Close leaves the consumer groups and disconnects from the store.
func (w *Writer) Close() {
	for _, u := range w.units {
		// A poll may have ended without AllowRebalance; a plain Close would then wait forever to leave.
		u.client.CloseAllowingRebalance()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = w.store.Close(ctx)
}

// Run consumes every unit until ctx ends.
func (w *Writer) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, u := range w.units {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.consume(ctx, u)
		}()
	}
	wg.Wait()
}

// Stats returns the counters so far.
func (w *Writer) Stats() Stats {
	return Stats{Consumed: w.consumed.Load(), Upserted: w.upserted.Load(), Replayed: w.replayed.Load(),
		Writes: w.writes.Load(), Errors: w.errors.Load(), Foreign: w.foreign.Load()}
}

func (w *Writer) consume(ctx context.Context, u unitClient) {
	topicIDs := map[string]string{} // the ID each topic was last consumed under
	for {
		fetches := u.client.PollRecords(ctx, pollMax)
		if fetches.IsClientClosed() || ctx.Err() != nil {
			return
		}
		gone := map[string]bool{}
		fetches.EachError(func(topic string, partition int32, err error) {
			if errors.Is(err, kerr.UnknownTopicID) {
				// franz-go keeps consuming a topic under the ID it first saw, and fails it this way
				// once the name has another ID: the topic was deleted and created again.
				gone[topic] = true
				return
			}
			w.errors.Add(1)
			w.log.Warn("fetch", "unit", u.name, "topic", topic, "partition", partition, "err", err)
		})
		b := w.collect(u.name, fetches, topicIDs)
		written := w.writeAll(ctx, u.name, b.updates)
		// Counted once written, so a reader that sees every record consumed sees what became of it.
		w.consumed.Add(int64(b.records))
		if done := b.committable(written); len(done) > 0 {
			// Committed even when ctx has just ended, so a clean stop replays nothing.
			commitCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if err := u.client.CommitRecords(commitCtx, done...); err != nil {
				// A refused commit may mean the group moved the partitions on: what was written is
				// another owner's to know now.
				w.forgetWritten(u.name)
				w.errors.Add(1)
				w.log.Warn("commit", "unit", u.name, "err", err)
			}
			cancel()
		}
		u.client.AllowRebalance()
		for topic := range gone {
			w.resubscribe(ctx, u, topic, topicIDs)
		}
	}
}

// resubscribe consumes a recreated topic again: franz-go's way is to purge it and add it back
// (README, "Topic recreation"). Its committed offsets went with the old topic (Kafka drops a deleted
// topic's commits from every group, as kfake does too; a replaced broker has none), so the group starts
// at the reset offset: the topic's start.
func (w *Writer) resubscribe(ctx context.Context, u unitClient, topic string, topicIDs map[string]string) {
	old := topicIDs[topic]
	u.client.PurgeTopicsFromClient(topic)
	u.client.AddConsumeTopics(topic)
	metaCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	id, err := currentTopicID(metaCtx, u.client, topic)
	if err != nil || id == "" {
		// The old ID stays known: the first records under a new one log the recreation (collect).
		w.log.Warn(fmt.Sprintf("unit %s: topic %s is gone (or unreadable); consuming it from its start once it exists again",
			u.name, topic), "unit", u.name, "topic", topic, "old_id", old, "err", err)
		return
	}
	if id != old {
		w.recreated(u.name, topic, old, id)
	}
	topicIDs[topic] = id
}

// recreated logs the one line that tells a topic came back under a new ID.
func (w *Writer) recreated(unit, topic, old, id string) {
	if old == "" {
		old = "unknown" // nothing was consumed under the old ID
	}
	w.log.Warn(fmt.Sprintf("unit %s: topic %s recreated (id %s -> %s); consuming from its start", unit, topic, old, id),
		"unit", unit, "topic", topic, "old_id", old, "new_id", id)
}

// currentTopicID asks the cluster for the topic's ID now; "" when it has none (or no such topic).
func currentTopicID(ctx context.Context, client *kgo.Client, topic string) (string, error) {
	req := kmsg.NewPtrMetadataRequest()
	t := kmsg.NewMetadataRequestTopic()
	t.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, t)
	resp, err := req.RequestWith(ctx, client)
	if err != nil {
		return "", err
	}
	for _, rt := range resp.Topics {
		if rt.Topic != nil && *rt.Topic == topic && rt.ErrorCode == 0 {
			return topicID(rt.TopicID), nil
		}
	}
	return "", nil
}

// topicID prints a Kafka topic ID as Kafka's tools do (unpadded base64url); "" for none (all zero).
func topicID(id [16]byte) string {
	if id == ([16]byte{}) {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString(id[:])
}

// storeWriters is how many of a poll's vehicles are written at once. One at a time, a poll waits for
// each write's round trip and the store's commit in turn; at once, the store overlaps reading the next
// vehicle's offsets and decoding its update with the commit before (FerretDB's SQLite takes one
// writer at a time and readers beside it, in WAL mode). Eight keep both cores of a small node busy.
const storeWriters = 8

// writeAll applies a poll's updates, several vehicles at once, and returns how many of them, from
// the first on, are written (what committable may commit; fewer than all only when ctx ended). One
// vehicle's updates (one per partition) stay on one goroutine, in order, so no two writes of the same
// document race.
func (w *Writer) writeAll(ctx context.Context, unit string, updates []Update) int {
	done := make([]bool, len(updates))
	shards := make([][]int, min(storeWriters, len(updates)))
	for i, up := range updates {
		shard := int(fnv32(up.Vehicle) % uint32(len(shards)))
		shards[shard] = append(shards[shard], i)
	}
	var wg sync.WaitGroup
	for _, shard := range shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, i := range shard {
				if !w.write(ctx, unit, updates[i]) {
					return
				}
				done[i] = true
			}
		}()
	}
	wg.Wait()
	written := 0
	for written < len(done) && done[written] {
		written++
	}
	return written
}

// fnv32 spreads vehicle ids over the writers (FNV-1a).
func fnv32(s string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(s))
	return h.Sum32()
}

// write applies one vehicle's batch, retrying while the store fails; false only when ctx ended first.
func (w *Writer) write(ctx context.Context, unit string, up Update) bool {
	wait := 250 * time.Millisecond
	for {
		applied, err := w.store.Apply(ctx, up)
		if err == nil {
			if applied > 0 {
				w.writes.Add(1)
			}
			w.upserted.Add(int64(applied))
			w.replayed.Add(int64(len(up.Records) - applied))
			return true
		}
		w.errors.Add(1)
		w.log.Warn("upsert", "unit", unit, "vehicle", up.Vehicle, "offsets", up.OffsetKey.String(),
			"from", up.Records[0].Offset, "to", up.Records[len(up.Records)-1].Offset, "err", err)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
		}
		wait = min(2*wait, retryMax)
	}
}

// Ready is nil when every unit's Kafka and the store answer.
func (w *Writer) Ready(ctx context.Context) error {
	for _, u := range w.units {
		if err := u.client.Ping(ctx); err != nil {
			return fmt.Errorf("kafka of unit %s: %w", u.name, err)
		}
	}
	if err := w.store.Ping(ctx); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// Handler serves /ready (200 or 503 with the reason) and /stats (JSON counters).
func (w *Writer) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/ready", func(rw http.ResponseWriter, req *http.Request) {
		ctx, cancel := context.WithTimeout(req.Context(), 3*time.Second)
		defer cancel()
		if err := w.Ready(ctx); err != nil {
			http.Error(rw, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(rw, "ready")
	})
	mux.HandleFunc("/stats", func(rw http.ResponseWriter, _ *http.Request) {
		rw.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(rw).Encode(w.Stats())
	})
	return mux
}

// Probe upserts a document with the given id and returns it as read back.
func Probe(ctx context.Context, cfg Config, id string) (string, error) {
	store, err := OpenStore(cfg)
	if err != nil {
		return "", err
	}
	defer func() { _ = store.Close(context.WithoutCancel(ctx)) }()
	return store.Probe(ctx, id)
}
