// Command autocloud-statewriter keeps each vehicle's last-known state in the region's document store.
//
// It consumes the telemetry topic of every scale unit of a region (one Kafka cluster per unit, one
// consumer group in each) and upserts one document per vehicle: `_id` (Cosmos DB: `id`) and
// `vehicleId` = the record key, the message's JSON fields, `lastSeen` (the record's timestamp), `messages` (a count) and `offsets`, the
// last applied offset per unit and partition (and topic ID, so a recreated topic starts a new entry).
// A poll's records are grouped by vehicle: each vehicle's records of a partition are merged in offset
// order and written once, so store writes grow with vehicles rather than messages. Delivery is
// at-least-once: offsets are committed to Kafka only after the writes succeeded, so a crash replays
// records, and the stored offsets make a replayed record a no-op instead of a second count, also when
// a replayed batch is partly new. A topic deleted and created again, or a unit's Kafka replaced with
// its log, is noticed by its new topic ID, logged, and consumed again from its start.
//
// The same program runs on both targets; only how it connects differs. Locally (the defaults) it reads
// Kafka without authentication and writes a MongoDB wire-protocol store (FerretDB) as a user whose
// password comes from the environment (STATEWRITER_STORE_USERNAME, STATEWRITER_STORE_PASSWORD), never
// from arguments, which any process on the node can read. On Azure, `--kafka-auth entra` reads Event
// Hubs' Kafka endpoint with SASL OAUTHBEARER over TLS, and `--store-kind cosmos-nosql` writes Cosmos DB
// for NoSQL (`--store` is then the account endpoint), both as the pod's workload identity.
//
// `autocloud-statewriter probe` writes one document and reads it back: a check that a store answers.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// version is printed by --version; the toolchain sets it with -ldflags "-X main.version=...".
var version = "dev"

// unitList collects --brokers: repeatable, one value per scale unit, `[name=]host:port[,host:port...]`.
type unitList []Unit

func (u *unitList) String() string { return fmt.Sprint(*u) }

func (u *unitList) Set(value string) error {
	unit, err := ParseUnit(value, len(*u))
	if err != nil {
		return err
	}
	*u = append(*u, unit)
	return nil
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "probe" {
		os.Exit(probeMain(os.Args[2:]))
	}
	os.Exit(runMain(os.Args[1:]))
}

func runMain(args []string) int {
	fs := flag.NewFlagSet("autocloud-statewriter", flag.ContinueOnError)
	var units unitList
	fs.Var(&units, "brokers", "one scale unit's Kafka bootstrap, `[name=]host:port[,...]`; repeat per unit")
	cfg := Config{}
	fs.StringVar(&cfg.Topic, "topic", "telemetry", "telemetry topic, the same name in every unit")
	// The default is STATE_WRITER_GROUP (components/contracts.py), the consumer group every Event Hub has.
	fs.StringVar(&cfg.Group, "group", "statewriter", "consumer group in every unit")
	fs.StringVar(&cfg.KafkaAuth, "kafka-auth", KafkaAuthNone,
		"`none` (plaintext) or entra (Event Hubs: SASL OAUTHBEARER over TLS, workload identity)")
	fs.StringVar(&cfg.VehiclePrefix, "vehicle-prefix", "",
		"store only vehicles whose id starts with this (a brand's `<brand>-`); others are passed over")
	storeFlags(fs, &cfg)
	listen := fs.String("listen", ":8080", "HTTP address for /ready and /stats")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *showVersion {
		fmt.Printf("autocloud-statewriter %s\n", version)
		return 0
	}
	if len(units) == 0 {
		fmt.Fprintln(os.Stderr, "autocloud-statewriter: --brokers is required (once per scale unit)")
		return 2
	}
	cfg.Units = units
	cfg.Username, cfg.Password = storeCredentials()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	w, err := NewWriter(cfg, log)
	if err != nil {
		log.Error("start", "err", err)
		return 1
	}
	defer w.Close()

	server := &http.Server{Addr: *listen, Handler: w.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := server.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http", "err", err)
			stop()
		}
	}()
	log.Info("running", "version", version, "units", len(units), "topic", cfg.Topic, "group", cfg.Group)
	w.Run(ctx)
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = server.Shutdown(shutdown)
	return 0
}

// storeFlags are the store's flags, the same for the writer and the probe.
func storeFlags(fs *flag.FlagSet, cfg *Config) {
	fs.StringVar(&cfg.StoreKind, "store-kind", StoreMongoDB,
		"`mongodb` (MongoDB wire protocol, user and password) or cosmos-nosql (Cosmos DB for NoSQL, workload identity)")
	fs.StringVar(&cfg.StoreURI, "store", "mongodb://127.0.0.1:27017/",
		"store URI: mongodb://host:port/, or the Cosmos DB account endpoint https://<account>.documents.azure.com:443/")
	fs.StringVar(&cfg.Database, "database", "vehicles", "database")
	fs.StringVar(&cfg.Collection, "collection", "vehicle-state", "collection (Cosmos DB: container)")
}

func storeCredentials() (string, string) {
	return os.Getenv("STATEWRITER_STORE_USERNAME"), os.Getenv("STATEWRITER_STORE_PASSWORD")
}

func probeMain(args []string) int {
	fs := flag.NewFlagSet("autocloud-statewriter probe", flag.ContinueOnError)
	cfg := Config{}
	storeFlags(fs, &cfg)
	id := fs.String("id", "probe", "the document's id (`_id`, or `id` and vehicleId in Cosmos DB)")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	cfg.Username, cfg.Password = storeCredentials()
	out, err := Probe(ctx, cfg, *id)
	if err != nil {
		fmt.Fprintf(os.Stderr, "probe: %v\n", err)
		return 1
	}
	fmt.Println(out)
	return 0
}
