package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/twmb/franz-go/pkg/kgo"
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
	if name == "" || strings.ContainsAny(name, ".$") {
		return Unit{}, fmt.Errorf("unit name %q: must be non-empty, without '.' or '$'", name)
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
	Upserted int64 `json:"upserted"`
	Replayed int64 `json:"replayed"`
	Errors   int64 `json:"errors"`
	// Foreign counts records of vehicles outside VehiclePrefix (another brand's), passed over.
	Foreign int64 `json:"foreign"`
}

type unitClient struct {
	name   string
	client *kgo.Client
}

// Writer consumes every unit's telemetry and keeps one document per vehicle.
type Writer struct {
	log                                           *slog.Logger
	units                                         []unitClient
	store                                         Store
	prefix                                        []byte
	consumed, upserted, replayed, errors, foreign atomic.Int64
}

// retryMax caps the wait between attempts while the store is down; the record is retried, never skipped.
const retryMax = 10 * time.Second

var errBadRecord = errors.New("bad record")

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
			// Offsets are committed by hand after the upsert, and a rebalance waits until then.
			kgo.DisableAutoCommit(),
			kgo.BlockRebalanceOnPoll(),
		)...)
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("unit %s: %w", u.Name, err)
		}
		w.units = append(w.units, unitClient{name: u.Name, client: client})
	}
	return w, nil
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
		Errors: w.errors.Load(), Foreign: w.foreign.Load()}
}

func (w *Writer) consume(ctx context.Context, u unitClient) {
	for {
		fetches := u.client.PollRecords(ctx, 500)
		if fetches.IsClientClosed() || ctx.Err() != nil {
			return
		}
		fetches.EachError(func(topic string, partition int32, err error) {
			w.errors.Add(1)
			w.log.Warn("fetch", "unit", u.name, "topic", topic, "partition", partition, "err", err)
		})
		var done []*kgo.Record
		for _, r := range fetches.Records() {
			if !w.handle(ctx, u.name, r) {
				break
			}
			done = append(done, r)
		}
		if len(done) > 0 {
			// Committed even when ctx has just ended, so a clean stop replays nothing.
			commitCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if err := u.client.CommitRecords(commitCtx, done...); err != nil {
				w.errors.Add(1)
				w.log.Warn("commit", "unit", u.name, "err", err)
			}
			cancel()
		}
		u.client.AllowRebalance()
	}
}

// handle applies one record, retrying while the store fails; false only when ctx ended first.
func (w *Writer) handle(ctx context.Context, unit string, r *kgo.Record) bool {
	w.consumed.Add(1)
	if len(w.prefix) > 0 && !bytes.HasPrefix(r.Key, w.prefix) {
		w.foreign.Add(1)
		return true
	}
	wait := 250 * time.Millisecond
	for {
		applied, err := w.apply(ctx, unit, r)
		switch {
		case err == nil && applied:
			w.upserted.Add(1)
			return true
		case err == nil:
			w.replayed.Add(1)
			return true
		case errors.Is(err, errBadRecord):
			// Retrying cannot fix it, and holding it would stop the partition for good.
			w.errors.Add(1)
			w.log.Warn("skipped", "unit", unit, "partition", r.Partition, "offset", r.Offset, "err", err)
			return true
		}
		w.errors.Add(1)
		w.log.Warn("upsert", "unit", unit, "partition", r.Partition, "offset", r.Offset, "err", err)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
		}
		wait = min(2*wait, retryMax)
	}
}

// apply upserts the vehicle's state unless the document already holds this record's offset (or a
// later one of its partition); it reports whether it changed the document.
func (w *Writer) apply(ctx context.Context, unit string, r *kgo.Record) (bool, error) {
	if len(r.Key) == 0 {
		return false, fmt.Errorf("%w: no key (the vehicle id)", errBadRecord)
	}
	var message map[string]any
	if err := json.Unmarshal(r.Value, &message); err != nil {
		return false, fmt.Errorf("%w: not a JSON object: %v", errBadRecord, err)
	}
	return w.store.Apply(ctx, Update{
		Vehicle:   string(r.Key),
		Fields:    messageFields(message),
		Seen:      r.Timestamp,
		OffsetKey: fmt.Sprintf("%s-%d", unit, r.Partition),
		Offset:    r.Offset,
	})
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
