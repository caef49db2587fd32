package main

// The generator against the platform's own DPS and hub: cmd/ingest built from this repository and run
// as the local region runs it ("ingest dps" and "ingest" with TLS, the fleet CA and registration
// required), so a change on either side of the device protocol shows up here.

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// buildIngest builds ../ingest into dir; the test is skipped where no go command is at hand.
func buildIngest(t *testing.T, dir string) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build cmd/ingest with")
	}
	binary := filepath.Join(dir, "ingest")
	build := exec.Command(goTool, "build", "-o", binary, ".")
	build.Dir = filepath.Join("..", "ingest")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build cmd/ingest: %v\n%s", err, out)
	}
	return binary
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func startProcess(t *testing.T, binary string, args ...string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
}

func waitListening(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = conn.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestAgainstTheLocalDPSAndHub(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs cmd/ingest")
	}
	dir := t.TempDir()
	binary := buildIngest(t, dir)
	fleet, servers := newCA(t, "eu fleet CA"), newCA(t, "local endpoints CA")
	fleetFiles := fleet.files(t)
	leaf := servers.serverCert(t)
	keyDER, _ := x509.MarshalPKCS8PrivateKey(leaf.PrivateKey)
	tlsCert, tlsKey := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	write(t, tlsCert, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Certificate[0]})))
	write(t, tlsKey, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})))

	hubMQTT, hubHTTP, dpsMQTT, dpsHTTP := freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t)
	routes := filepath.Join(dir, "routes.json")
	write(t, routes, `{"region":"eu","scaleUnit":1,"routes":[]}`)
	startProcess(t, binary, "--routes", routes, "--mqtt", hubMQTT, "--http", hubHTTP, "--tls-cert", tlsCert,
		"--tls-key", tlsKey, "--fleet-ca", fleetFiles.Cert, "--require-registration")
	dpsConfig := filepath.Join(dir, "dps.json")
	write(t, dpsConfig, fmt.Sprintf(`{"idScope":%q,"hubs":[{"hostname":%q,"registry":"http://%s/devices/"}]}`,
		testScope, testHub, hubHTTP))
	startProcess(t, binary, "dps", "--config", dpsConfig, "--mqtt", dpsMQTT, "--http", dpsHTTP, "--tls-cert", tlsCert,
		"--tls-key", tlsKey, "--fleet-ca", fleetFiles.Cert)
	waitListening(t, hubMQTT)
	waitListening(t, dpsMQTT)

	p := &Plan{DPS: Endpoint{Address: dpsMQTT}, IDScope: testScope, Hubs: map[string]Endpoint{testHub: {Address: hubMQTT}},
		ServerCAPEM: servers.pem(), FleetCA: fleetFiles, DurationS: 5, IntervalS: 0.5, MessagesPerVehicle: 3,
		ReportAssignments: true}
	for i := 1; i <= 20; i++ {
		p.Vehicles = append(p.Vehicles, Vehicle{ID: fmt.Sprintf("eu-vehicle-%06d", i)})
	}
	// Never registered, with a cached assignment: the hub refuses it, so it goes back through DPS.
	p.Vehicles = append(p.Vehicles, Vehicle{ID: "eu-vehicle-stale", Hub: testHub})
	if err := p.check(); err != nil {
		t.Fatal(err)
	}
	summary, err := Execute(context.Background(), p, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if summary.Registrations != 21 || summary.Connected != 21 || len(summary.Refused) != 0 {
		t.Fatalf("registered %d, connected %d, refused %v; want 21, 21, none", summary.Registrations,
			summary.Connected, summary.Refused)
	}
	if summary.Sent != 63 || summary.Acknowledged != 63 || summary.Assignments["eu-vehicle-000007"] != testHub {
		t.Errorf("sent %d, acknowledged %d, assignments %v", summary.Sent, summary.Acknowledged, summary.Assignments)
	}
	resp, err := http.Get("http://" + hubHTTP + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var stats map[string]int64
	if err := json.NewDecoder(resp.Body).Decode(&stats); err != nil {
		t.Fatal(err)
	}
	// The hub has no routes here: it acknowledges each message as unrouted, and refused none.
	if stats["published"] != 63 || stats["unrouted"] != 63 || stats["refused"] != 1 {
		t.Errorf("hub stats %v: want 63 published and unrouted, the stale vehicle's one refusal", stats)
	}
	_ = os.Remove(binary)
}
