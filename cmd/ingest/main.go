// Command ingest is the local target's IoT Hub: an MQTT 3.1.1 broker that takes device-to-cloud
// messages on IoT Hub's device topics and applies the hub's routes (routes.json) into the scale
// unit's Kafka, acknowledging a QoS 1 message only after Kafka has it.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

var version = "dev"

// Config is what the flags set.
type Config struct {
	Routes       string
	MQTTAddr     string
	HTTPAddr     string
	Partitions   int
	Timeout      time.Duration
	TopicRetry   time.Duration
	DrainTimeout time.Duration
	// TLSCert, TLSKey and FleetCA make the MQTT listener IoT Hub's: TLS 1.2+, X.509 client certificates
	// from the fleet CA only, CN = device id, IoT Hub's user name convention.
	TLSCert string
	TLSKey  string
	FleetCA string
	// RequireRegistration refuses a device that is not in the hub's registry (PUT /devices/{id}).
	RequireRegistration bool
	// RegistrySource is where the registry is read back from at start (the DPS's list of this hub's
	// devices); the broker is not ready until it has been.
	RegistrySource string
}

// Ingest is one running broker with its forwarder and HTTP endpoints.
type Ingest struct {
	server   *mqtt.Server
	hook     *DeviceHook
	forward  *Forwarder
	stats    *Stats
	registry *Registry
	http     *http.Server
	serving  atomic.Bool
	log      *slog.Logger
	cancel   context.CancelFunc
	cfg      Config
	// HTTPAddr is the address the HTTP listener is bound to.
	HTTPAddr string
	stopOnce sync.Once
	stopErr  error
}

// Start loads the routes, serves MQTT and HTTP, and creates the Kafka topics in the background.
func Start(cfg Config, log *slog.Logger) (*Ingest, error) {
	if cfg.Partitions < 1 {
		return nil, fmt.Errorf("--partitions must be at least 1, got %d", cfg.Partitions)
	}
	plan, err := LoadPlan(cfg.Routes)
	if err != nil {
		return nil, err
	}
	stats := &Stats{}
	forward, err := NewForwarder(plan, int32(cfg.Partitions), cfg.Timeout, stats, log)
	if err != nil {
		return nil, err
	}
	// mochi logs every failed connection as a warning; the hook logs connection events once, so only errors pass.
	quiet := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{Level: slog.LevelError}))
	server := mqtt.New(&mqtt.Options{Logger: quiet, Capabilities: deviceCapabilities()})
	registry := NewRegistry()
	registry.OnCreate = func(id string) { forward.Lifecycle(id, time.Now()) }
	hook := &DeviceHook{server: server, forward: forward, stats: stats, log: log, now: time.Now,
		x509: cfg.TLSCert != "", registry: registry, requireRegistration: cfg.RequireRegistration}
	if err := server.AddHook(hook, nil); err != nil {
		return nil, err
	}
	listener := listeners.Config{Type: "tcp", ID: "mqtt", Address: cfg.MQTTAddr}
	if cfg.TLSCert != "" {
		secure, err := ServerTLS(cfg.TLSCert, cfg.TLSKey, cfg.FleetCA)
		if err != nil {
			return nil, err
		}
		listener.TLSConfig = secure
	}
	if err := server.AddListener(listeners.NewTCP(listener)); err != nil {
		return nil, fmt.Errorf("mqtt listener %s: %w", cfg.MQTTAddr, err)
	}
	in := &Ingest{server: server, hook: hook, forward: forward, stats: stats, log: log, cfg: cfg, registry: registry}
	if err := server.Serve(); err != nil {
		return nil, fmt.Errorf("mqtt: %w", err)
	}
	in.serving.Store(true)

	httpListener, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		_ = server.Close()
		return nil, fmt.Errorf("http listener %s: %w", cfg.HTTPAddr, err)
	}
	in.HTTPAddr = httpListener.Addr().String()
	in.http = &http.Server{Handler: in.routes(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = in.http.Serve(httpListener) }()

	ctx, cancel := context.WithCancel(context.Background())
	in.cancel = cancel
	go forward.EnsureTopics(ctx, cfg.TopicRetry)
	if cfg.RegistrySource == "" {
		registry.restored.Store(true)
	} else {
		go func() {
			client := &http.Client{Timeout: 5 * time.Second}
			if err := registry.Restore(ctx, cfg.RegistrySource, cfg.TopicRetry, client); err == nil {
				log.Info("device registry restored", "source", cfg.RegistrySource, "devices", registry.Count())
			}
		}()
	}
	log.Info("ingest started", "version", version, "mqtt", cfg.MQTTAddr, "http", in.HTTPAddr,
		"hub", plan.HubName, "kafka", plan.Bootstrap, "topics", plan.TopicList())
	return in, nil
}

// MQTTAddr is the address the MQTT listener is bound to (a port of 0 picks one, for tests).
func (in *Ingest) MQTTAddr() string {
	l, ok := in.server.Listeners.Get("mqtt")
	if !ok {
		return ""
	}
	return l.Address()
}

func (in *Ingest) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/ready", func(w http.ResponseWriter, r *http.Request) {
		if err := in.Ready(r.Context()); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	mux.HandleFunc("/stats", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(in.stats.Snapshot())
	})
	in.registry.Handle(mux)
	return mux
}

// Ready holds when MQTT is served and Kafka answers a request now, not when it once did.
func (in *Ingest) Ready(ctx context.Context) error {
	if !in.serving.Load() {
		return errors.New("mqtt listener not serving")
	}
	if !in.registry.Restored() {
		return errors.New("device registry not restored yet from " + in.cfg.RegistrySource)
	}
	check, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return in.forward.Ready(check)
}

// Stop refuses readiness and new devices, closes every connection (their disconnected events are
// queued) and the listener, then flushes the producer within the drain timeout. Only the first call
// does anything (mochi's Close may run once).
//
// The connections are closed by the hook first because mochi's Close sends every client a DISCONNECT,
// which MQTT 3.1.1 does not allow from a server: a 3.1.1 client (paho) takes it as a protocol error.
func (in *Ingest) Stop() error {
	in.stopOnce.Do(func() {
		in.serving.Store(false)
		in.cancel()
		in.hook.stopping.Store(true)
		for _, cl := range in.server.Clients.GetAll() {
			in.hook.disconnect(cl, packets.ErrServerShuttingDown)
		}
		closeErr := in.server.Close()
		ctx, cancel := context.WithTimeout(context.Background(), in.cfg.DrainTimeout)
		defer cancel()
		flushErr := in.forward.Close(ctx)
		_ = in.http.Shutdown(ctx)
		in.stopErr = errors.Join(closeErr, flushErr)
	})
	return in.stopErr
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "dps" {
		os.Exit(runDPS(os.Args[2:]))
	}
	var cfg Config
	flag.StringVar(&cfg.Routes, "routes", "/etc/ingest/routes.json", "routes file written by the TelemetryIngest component")
	flag.StringVar(&cfg.MQTTAddr, "mqtt", ":1883", "MQTT listen address")
	flag.StringVar(&cfg.HTTPAddr, "http", ":8080", "HTTP listen address for /ready, /healthz and /stats")
	flag.IntVar(&cfg.Partitions, "partitions", 1, "partitions of the topics created at start")
	flag.DurationVar(&cfg.Timeout, "produce-timeout", 10*time.Second, "how long a message may wait for Kafka before its publish is refused")
	flag.DurationVar(&cfg.TopicRetry, "topic-retry", 2*time.Second, "pause between attempts to create the topics")
	flag.DurationVar(&cfg.DrainTimeout, "drain-timeout", 10*time.Second, "how long shutdown waits for Kafka to take what is buffered")
	flag.StringVar(&cfg.TLSCert, "tls-cert", "", "server certificate (PEM): serve MQTT over TLS with X.509 device authentication")
	flag.StringVar(&cfg.TLSKey, "tls-key", "", "server certificate's private key (PEM)")
	flag.StringVar(&cfg.FleetCA, "fleet-ca", "", "the region's fleet CA (PEM): device certificates must chain to it")
	flag.BoolVar(&cfg.RequireRegistration, "require-registration", false, "refuse devices not in the registry (PUT /devices/{id})")
	flag.StringVar(&cfg.RegistrySource, "registry-source", "", "URL listing this hub's devices (the DPS's /hubs/{host}/devices), read at start")
	flag.Parse()

	log := slog.New(slog.NewTextHandler(os.Stdout, nil))
	in, err := Start(cfg, log)
	if err != nil {
		log.Error("ingest cannot start", "error", err)
		os.Exit(1)
	}
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	received := <-signals
	log.Info("stopping", "signal", received.String())
	if err := in.Stop(); err != nil {
		log.Error("stopped with errors", "error", err)
		os.Exit(1)
	}
	log.Info("stopped")
}

// runDPS is "ingest dps": the region's local Device Provisioning Service (dps.go).
func runDPS(args []string) int {
	flags := flag.NewFlagSet("dps", flag.ExitOnError)
	config := flags.String("config", "/etc/dps/dps.json", "id scope and linked hubs")
	addr := flags.String("mqtt", ":8883", "MQTT over TLS listen address")
	cert := flags.String("tls-cert", "", "server certificate (PEM)")
	key := flags.String("tls-key", "", "server certificate's private key (PEM)")
	fleetCA := flags.String("fleet-ca", "", "the region's fleet CA (PEM): the enrollment group's")
	httpAddr := flags.String("http", ":8080", "back-end HTTP: /ready, /healthz, /stats, /hubs/{host}/devices")
	_ = flags.Parse(args)
	log := slog.New(slog.NewTextHandler(os.Stdout, nil))
	cfg, err := LoadDPSConfig(*config)
	if err == nil {
		var dps *DPS
		listen := DPSListen{MQTT: *addr, HTTP: *httpAddr, TLSCert: *cert, TLSKey: *key, FleetCA: *fleetCA}
		if dps, err = StartDPS(cfg, listen, log); err == nil {
			signals := make(chan os.Signal, 1)
			signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
			log.Info("stopping", "signal", (<-signals).String())
			err = dps.Stop()
		}
	}
	if err != nil {
		log.Error("dps failed", "error", err)
		return 1
	}
	return 0
}

// pendingWrites bounds the messages queued for one device connection. mochi's default (8,192) allocates a
// 64 KB queue per connection, 640 MB for 10,000 vehicles; a device's queue on IoT Hub "holds, at most, 50
// cloud-to-device messages" (https://learn.microsoft.com/azure/iot-hub/iot-hub-devguide-messages-c2d), and
// the acknowledgements and DPS answers a connection gets are written directly, not queued.
const pendingWrites = 64

// deviceCapabilities are mochi's defaults with a device-sized write queue (pendingWrites).
func deviceCapabilities() *mqtt.Capabilities {
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumClientWritesPending = pendingWrites
	return caps
}
