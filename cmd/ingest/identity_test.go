package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// testCA is a CA that signs certificates for the tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newCA(t testing.TB, name string) testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return testCA{cert, key}
}

// issue signs a leaf for cn valid from notBefore to notAfter, for a server (with its DNS name) or a client.
func (ca testCA) issue(t testing.TB, cn string, server bool, notBefore, notAfter time.Time) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	usage := x509.ExtKeyUsageClientAuth
	var names []string
	var ips []net.IP
	if server {
		usage, names, ips = x509.ExtKeyUsageServerAuth, []string{cn}, []net.IP{net.ParseIP("127.0.0.1")}
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: notBefore, NotAfter: notAfter, DNSNames: names, IPAddresses: ips,
		ExtKeyUsage: []x509.ExtKeyUsage{usage}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func (ca testCA) device(t testing.TB, id string) tls.Certificate {
	return ca.issue(t, id, false, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
}

func writePEM(t testing.TB, path, kind string, der []byte) string {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// secureHub is an ingest serving MQTT over TLS for fleet's devices, with registration required.
type secureHub struct {
	in     *Ingest
	server *x509.Certificate
	roots  *x509.CertPool
}

func startSecureIngest(t testing.TB, fleet testCA) secureHub {
	t.Helper()
	return startSecureIngestFrom(t, fleet, "")
}

// startSecureIngestFrom starts the hub reading its registry back from source ("" for none).
func startSecureIngestFrom(t testing.TB, fleet testCA, source string) secureHub {
	t.Helper()
	dir := t.TempDir()
	serverCA := newCA(t, "local hub CA")
	leaf := serverCA.issue(t, "streaming-1.autocloud-eu.svc", true, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	keyDER, _ := x509.MarshalECPrivateKey(leaf.PrivateKey.(*ecdsa.PrivateKey))
	cfg := Config{Routes: routesFile(t, fakeKafka(t)), MQTTAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		Partitions: 1, Timeout: 5 * time.Second, TopicRetry: 100 * time.Millisecond, DrainTimeout: 5 * time.Second,
		TLSCert:             writePEM(t, filepath.Join(dir, "tls.crt"), "CERTIFICATE", leaf.Certificate[0]),
		TLSKey:              writePEM(t, filepath.Join(dir, "tls.key"), "EC PRIVATE KEY", keyDER),
		FleetCA:             writePEM(t, filepath.Join(dir, "fleet-ca.pem"), "CERTIFICATE", fleet.cert.Raw),
		RequireRegistration: true, RegistrySource: source}
	in, err := Start(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = in.Stop() })
	roots := x509.NewCertPool()
	roots.AddCert(serverCA.cert)
	return secureHub{in: in, roots: roots}
}

func (h secureHub) register(t testing.TB, id string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, "http://"+h.in.HTTPAddr+"/devices/"+id, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		t.Fatalf("register %s: %d", id, resp.StatusCode)
	}
}

// dial connects over TLS with cert (none if nil) and sends a CONNECT; it returns the CONNACK code, or
// 0xff when the connection was closed before one came (the handshake refused, or no CONNACK).
func (h secureHub) dial(t testing.TB, cert *tls.Certificate, id, username string) byte {
	t.Helper()
	if _, code := h.open(t, cert, id, username); code != nil {
		return *code
	}
	return 0xff
}

// open is a device connected over TLS with cert (none if nil) that sent its CONNECT, and the CONNACK's
// code; the code is nil when the connection was closed before a CONNACK came.
func (h secureHub) open(t testing.TB, cert *tls.Certificate, id, username string) (*device, *byte) {
	t.Helper()
	config := &tls.Config{RootCAs: h.roots, ServerName: "streaming-1.autocloud-eu.svc", MinVersion: tls.VersionTLS12}
	if cert != nil {
		config.Certificates = []tls.Certificate{*cert}
	}
	conn, err := tls.Dial("tcp", h.in.MQTTAddr(), config)
	if err != nil {
		return nil, nil
	}
	t.Cleanup(func() { _ = conn.Close() })
	d := &device{conn: conn, r: bufio.NewReader(conn)}
	d.send(t, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, ProtocolVersion: 4,
		Connect: packets.ConnectParams{ProtocolName: []byte("MQTT"), Clean: true, Keepalive: 60,
			ClientIdentifier: id, UsernameFlag: username != "", Username: []byte(username)}})
	ack, err := d.read(5 * time.Second)
	if err != nil || ack.FixedHeader.Type != packets.Connack {
		return d, nil
	}
	return d, &ack.ReasonCode
}

func username(id string) string {
	return "streaming-1.autocloud-eu.svc/" + id + "/?api-version=2021-04-12"
}

func TestRegisteredDeviceWithItsFleetCertificateConnects(t *testing.T) {
	fleet := newCA(t, "eu fleet CA")
	hub := startSecureIngest(t, fleet)
	hub.register(t, "eu-car-1")
	cert := fleet.device(t, "eu-car-1")
	if code := hub.dial(t, &cert, "eu-car-1", username("eu-car-1")); code != packets.CodeSuccess.Code {
		t.Fatalf("CONNACK %#x, want success", code)
	}
}

func TestRefusedDevicesLeaveTheBrokerServingOthers(t *testing.T) {
	fleet, other := newCA(t, "eu fleet CA"), newCA(t, "us fleet CA")
	hub := startSecureIngest(t, fleet)
	for _, id := range []string{"eu-car-1", "eu-car-2", "us-car-1"} {
		hub.register(t, id)
	}
	good := fleet.device(t, "eu-car-1")
	foreign := other.device(t, "us-car-1")
	expired := fleet.issue(t, "eu-car-2", false, time.Now().Add(-2*time.Hour), time.Now().Add(-time.Hour))
	unregistered := fleet.device(t, "eu-car-9")
	cases := []struct {
		name     string
		cert     *tls.Certificate
		id, user string
	}{
		{"no client certificate", nil, "eu-car-1", username("eu-car-1")},
		{"another region's fleet CA", &foreign, "us-car-1", username("us-car-1")},
		{"CN is not the client id", &good, "eu-car-2", username("eu-car-2")},
		{"expired certificate", &expired, "eu-car-2", username("eu-car-2")},
		{"never registered", &unregistered, "eu-car-9", username("eu-car-9")},
		{"user name not IoT Hub's", &good, "eu-car-1", "eu-car-1"},
	}
	for _, c := range cases {
		if code := hub.dial(t, c.cert, c.id, c.user); code == packets.CodeSuccess.Code {
			t.Errorf("%s: accepted", c.name)
		}
	}
	if code := hub.dial(t, &good, "eu-car-1", username("eu-car-1")); code != packets.CodeSuccess.Code {
		t.Fatalf("after the refusals, a good device gets CONNACK %#x", code)
	}
}

func TestPlainTextIsRefusedOnTheTLSListener(t *testing.T) {
	hub := startSecureIngest(t, newCA(t, "eu fleet CA"))
	conn, err := net.Dial("tcp", hub.in.MQTTAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	d := &device{conn: conn, r: bufio.NewReader(conn)}
	d.send(t, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, ProtocolVersion: 4,
		Connect: packets.ConnectParams{ProtocolName: []byte("MQTT"), Clean: true, Keepalive: 60, ClientIdentifier: "eu-car-1"}})
	if ack, err := d.read(3 * time.Second); err == nil && ack.FixedHeader.Type == packets.Connack {
		t.Fatal("a plain-text CONNECT got a CONNACK")
	}
}

func TestRegistryAnswersLikeTheServiceAPI(t *testing.T) {
	hub := startSecureIngest(t, newCA(t, "eu fleet CA"))
	put := func(id string) int {
		req, _ := http.NewRequest(http.MethodPut, "http://"+hub.in.HTTPAddr+"/devices/"+id, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	if got := []int{put("eu-car-1"), put("eu-car-1"), put("car%231")}; got[0] != 201 || got[1] != 200 || got[2] != 400 {
		t.Fatalf("PUT statuses %v, want [201 200 400]", got)
	}
	resp, err := http.Get("http://" + hub.in.HTTPAddr + "/devices/eu-car-2")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET unknown device: %d", resp.StatusCode)
	}
}

func TestUsernameConvention(t *testing.T) {
	for name, ok := range map[string]bool{
		"hub.azure-devices.net/car-1/?api-version=2021-04-12": true,
		"hub.azure-devices.net/car-2/?api-version=2021-04-12": false,
		"car-1":                          false,
		"/car-1/?api-version=2021-04-12": false,
		"hub.azure-devices.net/car-1/":   false,
	} {
		if err := CheckUsername(name, "car-1"); (err == nil) != ok {
			t.Errorf("%q: err=%v, want ok=%v", name, err, ok)
		}
	}
}

func TestAReplacedHubReadsItsRegistryBackBeforeItIsReady(t *testing.T) {
	fleet := newCA(t, "eu fleet CA")
	var answering atomic.Bool
	dps := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !answering.Load() || r.URL.Path != "/hubs/streaming-1.autocloud-eu.svc/devices" {
			http.Error(w, "not yet", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte(`{"devices":["eu-car-1"]}`))
	}))
	t.Cleanup(dps.Close)
	hub := startSecureIngestFrom(t, fleet, dps.URL+"/hubs/streaming-1.autocloud-eu.svc/devices")
	if err := hub.in.Ready(context.Background()); err == nil || !strings.Contains(err.Error(), "registry") {
		t.Fatalf("ready before its registry was read back: %v", err)
	}
	answering.Store(true)
	deadline := time.Now().Add(5 * time.Second)
	for !hub.in.registry.Restored() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cert := fleet.device(t, "eu-car-1")
	if code := hub.dial(t, &cert, "eu-car-1", username("eu-car-1")); code != packets.CodeSuccess.Code {
		t.Fatalf("a device DPS had registered gets CONNACK %#x after the restart", code)
	}
	if _, created := hub.in.forward.seen.Load("eu-car-1"); created {
		t.Fatal("a restored device was announced as created again (createDeviceIdentity)")
	}
}
