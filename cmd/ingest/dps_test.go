package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

func TestScaleUnitForMatchesThePythonAssignment(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "assignments.json"))
	if err != nil {
		t.Fatal(err)
	}
	var fixture struct {
		Cases []struct {
			ID    string `json:"id"`
			Units int    `json:"units"`
			Unit  int    `json:"unit"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(data, &fixture); err != nil || len(fixture.Cases) == 0 {
		t.Fatalf("fixture: %v", err)
	}
	for _, c := range fixture.Cases {
		if got := ScaleUnitFor(c.ID, c.Units); got != c.Unit {
			t.Errorf("ScaleUnitFor(%q, %d) = %d, Python says %d", c.ID, c.Units, got, c.Unit)
		}
	}
}

// fakeHub records the devices DPS creates in it.
type fakeHub struct {
	mu      sync.Mutex
	created []string
	server  *httptest.Server
}

func newFakeHub(t *testing.T, existing ...string) *fakeHub {
	hub := &fakeHub{created: existing}
	hub.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hub.mu.Lock()
		defer hub.mu.Unlock()
		switch {
		case r.Method == http.MethodPut:
			hub.created = append(hub.created, strings.TrimPrefix(r.URL.Path, "/devices/"))
			w.WriteHeader(http.StatusCreated)
		case r.URL.Path == "/devices":
			_ = json.NewEncoder(w).Encode(deviceList{Devices: hub.created})
		}
	}))
	t.Cleanup(hub.server.Close)
	return hub
}

func (h *fakeHub) devices() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.created...)
}

type dpsFixture struct {
	dps   *DPS
	hubs  []*fakeHub
	cfg   DPSConfig
	roots *x509.CertPool
	fleet testCA
}

func startLocalDPS(t *testing.T, units int, existing ...string) dpsFixture {
	t.Helper()
	dir := t.TempDir()
	fleet, serverCA := newCA(t, "eu fleet CA"), newCA(t, "local DPS CA")
	leaf := serverCA.issue(t, "dps.autocloud-eu.svc", true, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	keyDER, _ := x509.MarshalECPrivateKey(leaf.PrivateKey.(*ecdsa.PrivateKey))
	cfg := DPSConfig{IDScope: "0ne00000eu1"}
	var hubs []*fakeHub
	for unit := 1; unit <= units; unit++ {
		var already []string
		for _, id := range existing {
			if ScaleUnitFor(id, units) == unit {
				already = append(already, id)
			}
		}
		hub := newFakeHub(t, already...)
		hubs = append(hubs, hub)
		cfg.Hubs = append(cfg.Hubs, LinkedHub{Hostname: "streaming-" + string(rune('0'+unit)) + ".autocloud-eu.svc",
			Registry: hub.server.URL + "/devices/"})
	}
	dps, err := StartDPS(cfg, DPSListen{MQTT: "127.0.0.1:0", HTTP: "127.0.0.1:0",
		TLSCert: writePEM(t, filepath.Join(dir, "tls.crt"), "CERTIFICATE", leaf.Certificate[0]),
		TLSKey:  writePEM(t, filepath.Join(dir, "tls.key"), "EC PRIVATE KEY", keyDER),
		FleetCA: writePEM(t, filepath.Join(dir, "fleet-ca.pem"), "CERTIFICATE", fleet.cert.Raw)},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dps.Stop() })
	roots := x509.NewCertPool()
	roots.AddCert(serverCA.cert)
	return dpsFixture{dps: dps, hubs: hubs, cfg: cfg, roots: roots, fleet: fleet}
}

// registrar speaks the device side of the registration protocol over the tests' raw MQTT client.
type registrar struct{ *device }

func (f dpsFixture) connect(t *testing.T, cert tls.Certificate, id, user string) *registrar {
	t.Helper()
	conn, err := tls.Dial("tcp", f.dps.Addr(), &tls.Config{RootCAs: f.roots, ServerName: "dps.autocloud-eu.svc",
		Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		return nil
	}
	t.Cleanup(func() { _ = conn.Close() })
	reg := registrar{&device{conn: conn, r: bufio.NewReader(conn)}}
	reg.send(t, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, ProtocolVersion: 4,
		Connect: packets.ConnectParams{ProtocolName: []byte("MQTT"), Clean: true, Keepalive: 60, ClientIdentifier: id,
			UsernameFlag: true, Username: []byte(user)}})
	ack, err := reg.read(5 * time.Second)
	if err != nil || ack.FixedHeader.Type != packets.Connack || ack.ReasonCode != packets.CodeSuccess.Code {
		return nil
	}
	reg.send(t, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, ProtocolVersion: 4,
		PacketID: 1, Filters: packets.Subscriptions{{Filter: "$dps/registrations/res/#", Qos: 1}}})
	if ack, err := reg.read(5 * time.Second); err != nil || ack.FixedHeader.Type != packets.Suback {
		t.Fatalf("no SUBACK: %v", err)
	}
	return &reg
}

// request publishes topic with body and returns the next answer on the response topics.
func (r *registrar) request(t *testing.T, topic string, body string) (string, map[string]any) {
	t.Helper()
	r.send(t, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish}, ProtocolVersion: 4,
		TopicName: topic, Payload: []byte(body)})
	for {
		pk, err := r.read(5 * time.Second)
		if err != nil {
			t.Fatalf("no answer to %s: %v", topic, err)
		}
		if pk.FixedHeader.Type != packets.Publish {
			continue
		}
		var answer map[string]any
		_ = json.Unmarshal(pk.Payload, &answer)
		return pk.TopicName, answer
	}
}

// register runs the whole exchange and returns the final answer's topic and registration state.
func (r *registrar) register(t *testing.T, id string) (string, map[string]any) {
	t.Helper()
	topic, answer := r.request(t, "$dps/registrations/PUT/iotdps-register/?$rid=1", `{"registrationId":"`+id+`"}`)
	if !strings.HasPrefix(topic, "$dps/registrations/res/202/?$rid=1&retry-after=") || answer["status"] != "assigning" {
		t.Fatalf("register answer %s %v", topic, answer)
	}
	operation, _ := answer["operationId"].(string)
	topic, answer = r.request(t, "$dps/registrations/GET/iotdps-get-operationstatus/?$rid=2&operationId="+operation, "")
	state, _ := answer["registrationState"].(map[string]any)
	return topic, state
}

func dpsUser(id string) string { return "0ne00000eu1/registrations/" + id + "/api-version=2019-03-31" }

func TestVehiclesRegisterAndLandInTheHubHashedAllocationChooses(t *testing.T) {
	f := startLocalDPS(t, 3)
	for _, id := range []string{"eu-car-000001", "eu-car-000002", "eu-car-000003", "eu-car-000004"} {
		reg := f.connect(t, f.fleet.device(t, id), id, dpsUser(id))
		if reg == nil {
			t.Fatalf("%s refused", id)
		}
		topic, state := reg.register(t, id)
		want := f.cfg.Hubs[ScaleUnitFor(id, 3)-1].Hostname
		if topic != "$dps/registrations/res/200/?$rid=2" || state["status"] != "assigned" || state["assignedHub"] != want ||
			state["deviceId"] != id {
			t.Fatalf("%s: %s %v, want assigned to %s", id, topic, state, want)
		}
		if created := f.hubs[ScaleUnitFor(id, 3)-1].devices(); len(created) == 0 || created[len(created)-1] != id {
			t.Fatalf("%s not created in its hub's registry: %v", id, created)
		}
	}
}

func TestRegisteringAgainGivesTheSameHub(t *testing.T) {
	f := startLocalDPS(t, 3)
	id := "eu-car-000042"
	var hubs []any
	for range 2 {
		reg := f.connect(t, f.fleet.device(t, id), id, dpsUser(id))
		_, state := reg.register(t, id)
		hubs = append(hubs, state["assignedHub"])
	}
	if hubs[0] != hubs[1] || hubs[0] == nil {
		t.Fatalf("hubs %v", hubs)
	}
}

func TestRegistrationRefusals(t *testing.T) {
	f := startLocalDPS(t, 2)
	other := newCA(t, "us fleet CA")
	if f.connect(t, other.device(t, "us-car-1"), "us-car-1", dpsUser("us-car-1")) != nil {
		t.Error("another region's fleet CA was accepted")
	}
	if f.connect(t, f.fleet.device(t, "eu-car-1"), "eu-car-2", dpsUser("eu-car-2")) != nil {
		t.Error("a CN other than the registration id was accepted")
	}
	if f.connect(t, f.fleet.device(t, "eu-car-1"), "eu-car-1", "eu-car-1") != nil {
		t.Error("a user name without the id scope was accepted")
	}
	reg := f.connect(t, f.fleet.device(t, "eu-car-1"), "eu-car-1", dpsUser("eu-car-1"))
	if reg == nil {
		t.Fatal("a good device was refused after the others")
	}
	topic, _ := reg.request(t, "$dps/registrations/PUT/iotdps-register/?$rid=9", `{"registrationId":"eu-car-2"}`)
	if !strings.HasPrefix(topic, "$dps/registrations/res/400/") {
		t.Errorf("registering another id answered %s", topic)
	}
	topic, _ = reg.request(t, "$dps/registrations/GET/iotdps-get-operationstatus/?$rid=10&operationId=4.nope", "")
	if !strings.HasPrefix(topic, "$dps/registrations/res/404/") {
		t.Errorf("an unknown operation answered %s", topic)
	}
}

// hubDevices is the DPS's answer to GET /hubs/{host}/devices.
func (f dpsFixture) hubDevices(t *testing.T, host string) []string {
	t.Helper()
	resp, err := http.Get("http://" + f.dps.HTTPAddr + "/hubs/" + host + "/devices")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list deviceList
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	return list.Devices
}

func TestEachHubCanReadItsDevicesBackFromTheRecords(t *testing.T) {
	f := startLocalDPS(t, 2)
	ids := []string{"eu-car-000001", "eu-car-000002", "eu-car-000003", "eu-car-000004", "eu-car-000005"}
	want := map[string][]string{}
	for _, id := range ids {
		reg := f.connect(t, f.fleet.device(t, id), id, dpsUser(id))
		_, state := reg.register(t, id)
		hub, _ := state["assignedHub"].(string)
		want[hub] = append(want[hub], id)
	}
	for _, hub := range f.cfg.Hubs {
		if got := f.hubDevices(t, hub.Hostname); !slices.Equal(got, want[hub.Hostname]) {
			t.Errorf("%s: %v, want %v", hub.Hostname, got, want[hub.Hostname])
		}
	}
}

func TestAReplacedDPSReadsItsRecordsBackFromTheHubs(t *testing.T) {
	existing := []string{"eu-car-000007", "eu-car-000008", "eu-car-000009"}
	f := startLocalDPS(t, 2, existing...)
	deadline := time.Now().Add(5 * time.Second)
	for {
		var found []string
		for _, hub := range f.cfg.Hubs {
			found = append(found, f.hubDevices(t, hub.Hostname)...)
		}
		slices.Sort(found)
		if slices.Equal(found, existing) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("records %v, want %v", found, existing)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestACreateDeviceCutOffOrFailingOnceIsTriedAgain(t *testing.T) {
	var calls sync.Map
	hub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		n, _ := calls.LoadOrStore(req.URL.Path, new(int))
		count := n.(*int)
		*count++
		switch {
		case strings.HasSuffix(req.URL.Path, "/cut") && *count == 1:
			conn, _, _ := w.(http.Hijacker).Hijack()
			_ = conn.Close()
		case strings.HasSuffix(req.URL.Path, "/busy") && *count < 3:
			http.Error(w, "busy", http.StatusServiceUnavailable)
		case strings.HasSuffix(req.URL.Path, "/bad"):
			http.Error(w, "no", http.StatusBadRequest)
		default:
			w.WriteHeader(http.StatusCreated)
		}
	}))
	t.Cleanup(hub.Close)
	h := NewDPSHook(DPSConfig{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	linked := LinkedHub{Hostname: "streaming-1", Registry: hub.URL + "/devices/"}
	for _, id := range []string{"cut", "busy"} {
		if err := h.createDevice(linked, id); err != nil {
			t.Errorf("%s: %v", id, err)
		}
	}
	if err := h.createDevice(linked, "bad"); err == nil {
		t.Error("a 400 was taken as created")
	}
	if n, _ := calls.Load("/devices/bad"); *n.(*int) != 1 {
		t.Errorf("a 400 was tried %d times", *n.(*int))
	}
}
