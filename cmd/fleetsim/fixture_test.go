package main

// A region's device path in miniature for the tests: a DPS and a hub on mochi-mqtt brokers, both MQTT
// over TLS requiring a client certificate from the fleet CA, answering as cmd/ingest's dps.go and
// hook.go do (registration exchange, CN = client id, IoT Hub's user names, PUBACK after the hub took
// the message). Each records what it saw, so a test can hold the generator's counts against the server's.

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

const (
	testScope = "0ne00000eu1"
	testHub   = "streaming-1.autocloud-eu.svc"
)

type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newCA(t testing.TB, name string) testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return testCA{cert, key}
}

// serverCert is a certificate for 127.0.0.1, where the tests' brokers listen.
func (ca testCA) serverCert(t testing.TB) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func (ca testCA) pem() string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw}))
}

// files writes the CA as fleet_pki.py does: ca.pem and a PKCS#8 ca-key.pem.
func (ca testCA) files(t testing.TB) *FleetCA {
	t.Helper()
	dir := t.TempDir()
	keyDER, _ := x509.MarshalPKCS8PrivateKey(ca.key)
	certPath, keyPath := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem")
	write(t, certPath, ca.pem())
	write(t, keyPath, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})))
	return &FleetCA{Cert: certPath, Key: keyPath}
}

// vehicleFiles issues id's certificate (leaf and CA) and key files, as autocloud fleet vehicle-cert does.
func (ca testCA) vehicleFiles(t testing.TB, id string) (string, string) {
	t.Helper()
	is := &Issuer{ca: ca.cert, key: ca.key, notAfter: time.Now().Add(time.Hour)}
	cert, err := is.Issue(id)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var chain bytes.Buffer
	for _, der := range cert.Certificate {
		_ = pem.Encode(&chain, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	certPath, keyPath := filepath.Join(dir, id+"-cert.pem"), filepath.Join(dir, id+"-key.pem")
	write(t, certPath, chain.String())
	write(t, keyPath, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})))
	return certPath, keyPath
}

func write(t testing.TB, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// region is the DPS and the hub of one test region.
type region struct {
	fleet, servers testCA
	dps            *dpsHook
	hub            *hubHook
	dpsAddr        string
	hubAddr        string
}

func startRegion(t testing.TB) *region {
	t.Helper()
	r := &region{fleet: newCA(t, "eu fleet CA"), servers: newCA(t, "local endpoints CA")}
	r.dps = &dpsHook{refuse: map[string]string{}}
	r.hub = &hubHook{refuse: map[string]bool{}, received: map[string]map[int]int{}}
	r.dpsAddr = r.serve(t, "dps", r.dps)
	r.hub.server = nil
	r.hubAddr = r.serve(t, "hub", r.hub)
	return r
}

func (r *region) serve(t testing.TB, id string, hook mqtt.Hook) string {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(r.fleet.cert)
	secure := &tls.Config{Certificates: []tls.Certificate{r.servers.serverCert(t)}, ClientAuth: tls.RequireAndVerifyClientCert,
		ClientCAs: pool, MinVersion: tls.VersionTLS12}
	server := mqtt.New(&mqtt.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), InlineClient: false})
	if err := server.AddHook(hook, nil); err != nil {
		t.Fatal(err)
	}
	listener := listeners.NewTCP(listeners.Config{Type: "tcp", ID: id, Address: "127.0.0.1:0", TLSConfig: secure})
	if err := server.AddListener(listener); err != nil {
		t.Fatal(err)
	}
	if err := server.Serve(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = server.Close() })
	if h, ok := hook.(*hubHook); ok {
		h.server = server
	}
	return listener.Address()
}

// plan is a plan for n vehicles through this region, issuing their certificates from the fleet CA.
func (r *region) plan(t testing.TB, n int) *Plan {
	t.Helper()
	p := &Plan{DPS: Endpoint{Address: r.dpsAddr}, IDScope: testScope,
		Hubs: map[string]Endpoint{testHub: {Address: r.hubAddr}}, ServerCAPEM: r.servers.pem(),
		FleetCA: r.fleet.files(t), DurationS: 2, ProgressEveryS: 0.5}
	for i := 1; i <= n; i++ {
		p.Vehicles = append(p.Vehicles, Vehicle{ID: fmt.Sprintf("eu-vehicle-%06d", i)})
	}
	return p
}

func clientCN(cl *mqtt.Client) string {
	secure, ok := cl.Net.Conn.(*tls.Conn)
	if !ok || len(secure.ConnectionState().PeerCertificates) == 0 {
		return ""
	}
	return secure.ConnectionState().PeerCertificates[0].Subject.CommonName
}

// dpsHook answers DPS's registration exchange: 202 with an operation, then 200 assigned to testHub.
type dpsHook struct {
	mqtt.HookBase
	mu            sync.Mutex
	refuse        map[string]string // registration id -> status of a refused registration ("400")
	registrations atomic.Int64
}

func (h *dpsHook) ID() string { return "test-dps" }

func (h *dpsHook) Provides(b byte) bool {
	return bytes.Contains([]byte{mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnPublish}, []byte{b})
}

func (h *dpsHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	id := pk.Connect.ClientIdentifier
	return clientCN(cl) == id && string(pk.Connect.Username) == testScope+"/registrations/"+id+"/api-version=2019-03-31"
}

func (h *dpsHook) OnACLCheck(_ *mqtt.Client, topic string, write bool) bool {
	return write || topic == "$dps/registrations/res/#"
}

func (h *dpsHook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	topic, query, _ := strings.Cut(pk.TopicName, "?")
	params, _ := url.ParseQuery(query)
	rid := params.Get("$rid")
	h.mu.Lock()
	refusal := h.refuse[cl.ID]
	h.mu.Unlock()
	switch {
	case refusal != "":
		h.answer(cl, refusal+"/?$rid="+rid, `{"errorCode":400,"message":"refused by the test"}`)
	case topic == "$dps/registrations/PUT/iotdps-register/":
		h.answer(cl, "202/?$rid="+rid+"&retry-after=0", `{"operationId":"4.op-`+cl.ID+`","status":"assigning"}`)
	case topic == "$dps/registrations/GET/iotdps-get-operationstatus/" && params.Get("operationId") == "4.op-"+cl.ID:
		h.registrations.Add(1)
		h.answer(cl, "200/?$rid="+rid, `{"operationId":"4.op-`+cl.ID+`","status":"assigned","registrationState":`+
			`{"registrationId":"`+cl.ID+`","assignedHub":"`+h.assignedHub(cl.ID)+`","deviceId":"`+cl.ID+`","status":"assigned"}}`)
	default:
		h.answer(cl, "404/?$rid="+rid, `{"errorCode":404}`)
	}
	return pk, nil
}

// assignedHub is testHub, except for ids ending in "-elsewhere".
func (h *dpsHook) assignedHub(id string) string {
	if strings.HasSuffix(id, "-elsewhere") {
		return "streaming-1.autocloud-us.svc"
	}
	return testHub
}

func (h *dpsHook) answer(cl *mqtt.Client, status, body string) {
	_ = cl.WritePacket(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish},
		TopicName: "$dps/registrations/res/" + status, Payload: []byte(body)})
}

// hubHook admits a device whose certificate CN is its client id, with IoT Hub's user name, and records
// every message it acknowledges by vehicle and seq.
type hubHook struct {
	mqtt.HookBase
	server   *mqtt.Server
	mu       sync.Mutex
	refuse   map[string]bool
	received map[string]map[int]int // vehicle -> seq -> times received
	sizes    []int
	bad      []string
	connects atomic.Int64
}

func (h *hubHook) ID() string { return "test-hub" }

func (h *hubHook) Provides(b byte) bool {
	return bytes.Contains([]byte{mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnPublish}, []byte{b})
}

func (h *hubHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	id := pk.Connect.ClientIdentifier
	h.mu.Lock()
	refused := h.refuse[id]
	h.mu.Unlock()
	ok := !refused && clientCN(cl) == id && string(pk.Connect.Username) == testHub+"/"+id+"/?api-version=2021-04-12"
	if ok {
		h.connects.Add(1)
	}
	return ok
}

func (h *hubHook) OnACLCheck(_ *mqtt.Client, _ string, write bool) bool { return write }

func (h *hubHook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	var msg struct {
		VehicleID string `json:"vehicleId"`
		Seq       int    `json:"seq"`
		Vehicle   struct {
			Speed           *float64 `json:"Speed"`
			CurrentLocation struct {
				Latitude *float64 `json:"Latitude"`
			} `json:"CurrentLocation"`
			Powertrain struct {
				TractionBattery struct {
					StateOfCharge struct {
						Current *float64 `json:"Current"`
					} `json:"StateOfCharge"`
				} `json:"TractionBattery"`
			} `json:"Powertrain"`
		} `json:"Vehicle"`
	}
	err := json.Unmarshal(pk.Payload, &msg)
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case !strings.HasPrefix(pk.TopicName, "devices/"+cl.ID+"/messages/events/"):
		h.bad = append(h.bad, "topic "+pk.TopicName)
	case err != nil || msg.VehicleID != cl.ID || msg.Vehicle.Speed == nil || msg.Vehicle.CurrentLocation.Latitude == nil ||
		msg.Vehicle.Powertrain.TractionBattery.StateOfCharge.Current == nil:
		h.bad = append(h.bad, fmt.Sprintf("payload %q (%v)", pk.Payload, err))
	default:
		if h.received[cl.ID] == nil {
			h.received[cl.ID] = map[int]int{}
		}
		h.received[cl.ID][msg.Seq]++
		h.sizes = append(h.sizes, len(pk.Payload))
	}
	return pk, nil
}

// distinct is how many different messages the hub acknowledged, and how many it received twice or more.
func (h *hubHook) distinct() (messages, duplicated int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, seqs := range h.received {
		for _, times := range seqs {
			messages++
			if times > 1 {
				duplicated++
			}
		}
	}
	return messages, duplicated
}
