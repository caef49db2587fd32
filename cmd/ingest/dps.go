package main

// The local Device Provisioning Service: DPS's device registration protocol over MQTT, as documented in
// "Communicate with DPS using the MQTT protocol" (https://learn.microsoft.com/azure/iot-dps/iot-dps-mqtt-support):
//   - CONNECT with the registration id as client id and "{idScope}/registrations/{registration_id}/
//     api-version=2019-03-31" as user name, over TLS 1.2 with an X.509 certificate whose CN is the
//     registration id (an enrollment group: the certificate chains to the region's fleet CA);
//   - SUBSCRIBE to $dps/registrations/res/#;
//   - PUBLISH $dps/registrations/PUT/iotdps-register/?$rid={request_id} with {"registrationId": ...}; the
//     answer is $dps/registrations/res/202/?$rid={request_id}&retry-after=x with an operationId;
//   - PUBLISH $dps/registrations/GET/iotdps-get-operationstatus/?$rid={request_id}&operationId={id} until
//     the answer is $dps/registrations/res/200/?$rid={request_id} with status "assigned", the assigned
//     hub and the device id.
// Allocation is hashed over the region's hubs with ScaleUnitFor, the function platform_model/assignment.py
// has, and the device is created in the assigned hub's registry (PUT /devices/{id} on its back-end port).
//
// DPS keeps a registration record per device; here that record is also where a replaced hub reads its
// registry back (GET /hubs/{host}/devices on the back-end port), and a replaced DPS reads its records
// back from the hubs' registries (GET /devices).

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

const (
	dpsRegisterTopic = "$dps/registrations/PUT/iotdps-register/"
	dpsStatusTopic   = "$dps/registrations/GET/iotdps-get-operationstatus/"
	dpsResponses     = "$dps/registrations/res/"
	// dpsRetryAfterSeconds is what the 202 answer tells a device to wait before it polls.
	dpsRetryAfterSeconds = 1
)

// ScaleUnitFor is the 1-based scale unit of a registration id among units: the first 8 bytes of its
// SHA-256, big-endian, modulo units (platform_model/assignment.py; testdata/assignments.json holds both
// to the same answers).
func ScaleUnitFor(registrationID string, units int) int {
	digest := sha256.Sum256([]byte(registrationID))
	return int(binary.BigEndian.Uint64(digest[:8])%uint64(units)) + 1
}

// LinkedHub is a hub DPS may assign devices to.
type LinkedHub struct {
	// Hostname is what a device connects to and what DPS answers as assignedHub.
	Hostname string `json:"hostname"`
	// Registry is the hub's device registry base URL, e.g. http://streaming-1:8080/devices/.
	Registry string `json:"registry"`
}

// DPSConfig is what the local DPS needs besides its TLS settings.
type DPSConfig struct {
	IDScope string      `json:"idScope"`
	Hubs    []LinkedHub `json:"hubs"`
}

// registrationState is DPS's answer for an assigned device.
type registrationState struct {
	RegistrationID string `json:"registrationId"`
	AssignedHub    string `json:"assignedHub"`
	DeviceID       string `json:"deviceId"`
	Status         string `json:"status"`
	Substatus      string `json:"substatus"`
	CreatedAt      string `json:"createdDateTimeUtc"`
	LastUpdatedAt  string `json:"lastUpdatedDateTimeUtc"`
	ErrorMessage   string `json:"errorMessage,omitempty"`
}

type operation struct {
	ID     string             `json:"operationId"`
	Status string             `json:"status"`
	State  *registrationState `json:"registrationState,omitempty"`
}

// DPSHook answers the registration protocol on a mochi broker; nothing is routed between devices.
type DPSHook struct {
	mqtt.HookBase
	cfg    DPSConfig
	client *http.Client
	log    *slog.Logger
	now    func() time.Time
	mu     sync.Mutex
	// operations by operation id; each belongs to the registration id that started it.
	operations map[string]operation
	owners     map[string]string
	// assigned is each registration record's hub hostname.
	assigned map[string]string
	// Registrations counts devices assigned (a device registering again counts again).
	Registrations int64
	// Refused counts connections refused at authentication.
	Refused atomic.Int64
}

// NewDPSHook serves cfg's hubs.
func NewDPSHook(cfg DPSConfig, log *slog.Logger) *DPSHook {
	return &DPSHook{cfg: cfg, client: &http.Client{Timeout: 10 * time.Second}, log: log, now: time.Now,
		operations: map[string]operation{}, owners: map[string]string{}, assigned: map[string]string{}}
}

// ID names the hook in mochi's logs.
func (h *DPSHook) ID() string { return "dps-device" }

// Provides lists the events this hook handles.
func (h *DPSHook) Provides(b byte) bool {
	return bytes.Contains([]byte{mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnPublish}, []byte{b})
}

// OnConnectAuthenticate admits a device whose verified certificate's CN is its client id and whose user
// name is "{idScope}/registrations/{client id}/api-version=...".
func (h *DPSHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	id := pk.Connect.ClientIdentifier
	reason := ""
	want := h.cfg.IDScope + "/registrations/" + id + "/api-version="
	if cn, err := CertificateDeviceID(cl.Net.Conn); err != nil {
		reason = err.Error()
	} else if cn != id {
		reason = "certificate CN " + cn + " is not the registration id"
	} else if !strings.HasPrefix(string(pk.Connect.Username), want) {
		reason = fmt.Sprintf("user name %q is not %s...", pk.Connect.Username, want)
	}
	if reason != "" {
		h.Refused.Add(1)
		h.log.Info("registration refused", "registration", id, "remote", cl.Net.Remote, "reason", reason)
		return false
	}
	return true
}

// OnACLCheck allows a device to subscribe to its answers and to publish the two requests only.
func (h *DPSHook) OnACLCheck(_ *mqtt.Client, topic string, write bool) bool {
	if write {
		return strings.HasPrefix(topic, dpsRegisterTopic) || strings.HasPrefix(topic, dpsStatusTopic)
	}
	return topic == dpsResponses+"#"
}

// OnPublish answers a register or status request on the requesting connection alone.
func (h *DPSHook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	topic, query, _ := strings.Cut(pk.TopicName, "?")
	params, err := url.ParseQuery(query)
	if err != nil {
		h.answer(cl, 400, "", map[string]string{"errorMessage": "bad query"})
		return pk, nil
	}
	rid := params.Get("$rid")
	switch topic {
	case dpsRegisterTopic:
		h.register(cl, rid, pk.Payload)
	case dpsStatusTopic:
		h.status(cl, rid, params.Get("operationId"))
	}
	return pk, nil
}

func (h *DPSHook) register(cl *mqtt.Client, rid string, payload []byte) {
	var body struct {
		RegistrationID string `json:"registrationId"`
	}
	if err := json.Unmarshal(payload, &body); err != nil || body.RegistrationID != cl.ID {
		h.answer(cl, 400, rid, map[string]string{"errorMessage": "registrationId must be the certificate's CN"})
		return
	}
	now := h.now().UTC().Format(time.RFC3339Nano)
	state := &registrationState{RegistrationID: cl.ID, DeviceID: cl.ID, CreatedAt: now, LastUpdatedAt: now}
	if len(h.cfg.Hubs) == 0 {
		state.Status, state.ErrorMessage = "failed", "no hub is linked"
	} else {
		hub := h.cfg.Hubs[ScaleUnitFor(cl.ID, len(h.cfg.Hubs))-1]
		if err := h.createDevice(hub, cl.ID); err != nil {
			state.Status, state.ErrorMessage = "failed", err.Error()
			h.log.Warn("device not created", "registration", cl.ID, "hub", hub.Hostname, "error", err)
		} else {
			state.Status, state.Substatus, state.AssignedHub = "assigned", "initialAssignment", hub.Hostname
		}
	}
	id := newOperationID()
	h.mu.Lock()
	h.operations[id] = operation{ID: id, Status: state.Status, State: state}
	h.owners[id] = cl.ID
	if state.Status == "assigned" {
		h.Registrations++
		h.assigned[cl.ID] = state.AssignedHub
	}
	h.mu.Unlock()
	h.answer(cl, 202, rid, operation{ID: id, Status: "assigning"})
}

func (h *DPSHook) status(cl *mqtt.Client, rid, id string) {
	h.mu.Lock()
	op, ok := h.operations[id]
	owner := h.owners[id]
	h.mu.Unlock()
	if !ok || owner != cl.ID {
		h.answer(cl, 404, rid, map[string]string{"errorMessage": "unknown operation"})
		return
	}
	h.answer(cl, 200, rid, op)
}

// createDeviceAttempts bounds how often DPS tries to create a device in its hub before the registration
// fails: the hub's registry sits behind a Service, and a reused connection closed by the other side, or a
// pod that is being replaced, is a transient failure that DPS's own assignment retries, not the device's.
const createDeviceAttempts = 5

// createDevice registers the device in the hub's registry, as DPS creates it in the assigned hub. The
// PUT is idempotent (an existing device answers 200), so a transport failure or a 5xx is tried again
// after a short back-off; any other answer is final.
func (h *DPSHook) createDevice(hub LinkedHub, id string) error {
	var err error
	for attempt := 1; attempt <= createDeviceAttempts; attempt++ {
		var retry bool
		if retry, err = h.putDevice(hub, id); err == nil || !retry {
			return err
		}
		if attempt < createDeviceAttempts {
			time.Sleep(time.Duration(50<<attempt) * time.Millisecond)
		}
	}
	return err
}

// putDevice is one PUT of the device to hub's registry: the error, and whether it is worth retrying.
func (h *DPSHook) putDevice(hub LinkedHub, id string) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, strings.TrimSuffix(hub.Registry, "/")+"/"+url.PathEscape(id), nil)
	if err != nil {
		return false, err
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return true, fmt.Errorf("hub %s registry: %w", hub.Hostname, err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return resp.StatusCode >= 500, fmt.Errorf("hub %s registry answered %d", hub.Hostname, resp.StatusCode)
	}
	return false, nil
}

// answer publishes DPS's response topic with body to this one connection.
func (h *DPSHook) answer(cl *mqtt.Client, status int, rid string, body any) {
	payload, _ := json.Marshal(body)
	topic := fmt.Sprintf("%s%d/?$rid=%s", dpsResponses, status, url.QueryEscape(rid))
	if status == 202 {
		topic += fmt.Sprintf("&retry-after=%d", dpsRetryAfterSeconds)
	}
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish}, TopicName: topic, Payload: payload}
	if err := cl.WritePacket(pk); err != nil {
		h.log.Warn("answer not sent", "registration", cl.ID, "error", err)
	}
}

func newOperationID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "4." + hex.EncodeToString(b)
}

// hubDevices lists the registration records assigned to hub.
func (h *DPSHook) hubDevices(hub string) []string {
	h.mu.Lock()
	var ids []string
	for id, assigned := range h.assigned {
		if assigned == hub {
			ids = append(ids, id)
		}
	}
	h.mu.Unlock()
	slices.Sort(ids)
	return ids
}

// Recover reads the records back from every linked hub's registry (a replaced DPS process starts
// empty), retrying each hub until it answers or ctx ends. A record made meanwhile is kept.
func (h *DPSHook) Recover(ctx context.Context, retry time.Duration) {
	for _, hub := range h.cfg.Hubs {
		source := strings.TrimSuffix(hub.Registry, "/")
		for {
			ids, err := fetchDevices(ctx, h.client, source)
			if err == nil {
				h.mu.Lock()
				for _, id := range ids {
					if _, known := h.assigned[id]; !known {
						h.assigned[id] = hub.Hostname
					}
				}
				h.mu.Unlock()
				break
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(retry):
			}
		}
	}
}

// routes is the back-end HTTP: probes, counters, and each hub's devices (read by a hub at start).
func (h *DPSHook) routes() http.Handler {
	mux := http.NewServeMux()
	ok := func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) }
	mux.HandleFunc("GET /healthz", ok)
	mux.HandleFunc("GET /ready", ok)
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) {
		h.mu.Lock()
		stats := map[string]int64{"registrations": h.Registrations, "devices": int64(len(h.assigned)),
			"refused": h.Refused.Load()}
		h.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(stats)
	})
	mux.HandleFunc("GET /hubs/{host}/devices", func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(deviceList{Devices: h.hubDevices(req.PathValue("host"))})
	})
	return mux
}

// DPS is a running local DPS device endpoint.
type DPS struct {
	server *mqtt.Server
	http   *http.Server
	cancel context.CancelFunc
	Hook   *DPSHook
	// HTTPAddr is the address the back-end HTTP listener is bound to.
	HTTPAddr string
}

// DPSListen is where the local DPS listens and with which certificates.
type DPSListen struct {
	MQTT, HTTP               string
	TLSCert, TLSKey, FleetCA string
}

// StartDPS serves the registration protocol over TLS (server certificate, fleet CA for devices) and
// the back-end HTTP, and reads its records back from the hubs in the background.
func StartDPS(cfg DPSConfig, listen DPSListen, log *slog.Logger) (*DPS, error) {
	if cfg.IDScope == "" {
		return nil, fmt.Errorf("dps: idScope is empty")
	}
	secure, err := ServerTLS(listen.TLSCert, listen.TLSKey, listen.FleetCA)
	if err != nil {
		return nil, err
	}
	addr := listen.MQTT
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	server := mqtt.New(&mqtt.Options{Logger: quiet, Capabilities: deviceCapabilities()})
	hook := NewDPSHook(cfg, log)
	if err := server.AddHook(hook, nil); err != nil {
		return nil, err
	}
	if err := server.AddListener(listeners.NewTCP(listeners.Config{Type: "tcp", ID: "dps", Address: addr, TLSConfig: secure})); err != nil {
		return nil, fmt.Errorf("dps listener %s: %w", addr, err)
	}
	if err := server.Serve(); err != nil {
		return nil, fmt.Errorf("dps: %w", err)
	}
	httpListener, err := net.Listen("tcp", listen.HTTP)
	if err != nil {
		_ = server.Close()
		return nil, fmt.Errorf("http listener %s: %w", listen.HTTP, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	dps := &DPS{server: server, Hook: hook, cancel: cancel, HTTPAddr: httpListener.Addr().String(),
		http: &http.Server{Handler: hook.routes(), ReadHeaderTimeout: 5 * time.Second}}
	go func() { _ = dps.http.Serve(httpListener) }()
	go hook.Recover(ctx, 2*time.Second)
	log.Info("dps started", "version", version, "mqtt", addr, "http", dps.HTTPAddr, "idScope", cfg.IDScope,
		"hubs", len(cfg.Hubs))
	return dps, nil
}

// Addr is the address the device endpoint listens on.
func (d *DPS) Addr() string {
	l, ok := d.server.Listeners.Get("dps")
	if !ok {
		return ""
	}
	return l.Address()
}

// Stop closes every connection and both listeners.
func (d *DPS) Stop() error {
	d.cancel()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return errors.Join(d.server.Close(), d.http.Shutdown(ctx))
}

// LoadDPSConfig reads the DPS configuration file the local platform writes.
func LoadDPSConfig(path string) (DPSConfig, error) {
	var cfg DPSConfig
	data, err := os.ReadFile(path)
	if err != nil {
		return cfg, err
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return cfg, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}
