package main

// The generator against the platform's own DPS and hub: cmd/ingest built from this repository and run
// as the local region runs it ("ingest dps" and "ingest" with TLS, the fleet CA and registration
// required), so a change on either side of the device protocol shows up here.

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
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

// process is a started cmd/ingest whose output is kept, so a failure to come up says why.
type process struct {
	cmd    *exec.Cmd
	output lockedBuffer
	exited chan struct{}
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func startProcess(t *testing.T, binary string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(binary, args...), exited: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = &p.output, &p.output
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(p.stop)
	return p
}

func (p *process) stop() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// stillRunning is nil while the process runs, else why it ended (errPortTaken for a lost port race).
func (p *process) stillRunning() error {
	select {
	case <-p.exited:
		if strings.Contains(p.output.String(), errPortTaken.Error()) {
			return errPortTaken
		}
		return fmt.Errorf("%s exited:\n%s", p.cmd.Path, p.output.String())
	default:
		return nil
	}
}

// errPortTaken: another process bound a port freeAddr had found free before this one could.
var errPortTaken = errors.New("address already in use")

// waitListening waits for addr to accept connections, or for the process to exit, whichever is first.
// The deadline is generous: the Go tests share two cores with the integration tests in make test.
func (p *process) waitListening(addr string) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = conn.Close()
			return nil
		}
		if err := p.stillRunning(); err != nil {
			if errors.Is(err, errPortTaken) {
				return err
			}
			return fmt.Errorf("exited before listening on %s: %w", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listens on %s after 60 s; output so far:\n%s", addr, p.output.String())
		}
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

	hubMQTT, hubHTTP, dpsMQTT := startLocalDPSAndHub(t, binary, dir, fleetFiles.Cert, tlsCert, tlsKey)

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

// startLocalDPSAndHub runs the hub and its DPS on free ports, as the local region runs them, and
// returns the hub's MQTT and HTTP addresses and the DPS's MQTT address. A port found free can be
// taken by another process before ingest binds it; then both start again on new ports.
func startLocalDPSAndHub(t *testing.T, binary, dir, fleetCA, tlsCert, tlsKey string) (string, string, string) {
	t.Helper()
	routes := filepath.Join(dir, "routes.json")
	write(t, routes, `{"region":"eu","scaleUnit":1,"routes":[]}`)
	for attempt := 1; ; attempt++ {
		hubMQTT, hubHTTP, dpsMQTT, dpsHTTP := freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t)
		hub := startProcess(t, binary, "--routes", routes, "--mqtt", hubMQTT, "--http", hubHTTP,
			"--tls-cert", tlsCert, "--tls-key", tlsKey, "--fleet-ca", fleetCA, "--require-registration")
		dpsConfig := filepath.Join(dir, "dps.json")
		write(t, dpsConfig, fmt.Sprintf(`{"idScope":%q,"hubs":[{"hostname":%q,"registry":"http://%s/devices/"}]}`,
			testScope, testHub, hubHTTP))
		dps := startProcess(t, binary, "dps", "--config", dpsConfig, "--mqtt", dpsMQTT, "--http", dpsHTTP,
			"--tls-cert", tlsCert, "--tls-key", tlsKey, "--fleet-ca", fleetCA)
		err := errors.Join(hub.waitListening(hubMQTT), hub.waitListening(hubHTTP))
		if err == nil {
			err = errors.Join(dps.waitListening(dpsMQTT), dps.waitListening(dpsHTTP))
		}
		if err == nil {
			// Another process listening on a port ingest wanted answers the dial too, while ingest
			// itself has exited: only a process still running after a moment owns its ports.
			time.Sleep(200 * time.Millisecond)
			err = errors.Join(hub.stillRunning(), dps.stillRunning())
		}
		if err == nil {
			return hubMQTT, hubHTTP, dpsMQTT
		}
		hub.stop()
		dps.stop()
		if !errors.Is(err, errPortTaken) || attempt == 3 {
			t.Fatal(err)
		}
		t.Logf("attempt %d: a port was taken before ingest bound it; trying new ports", attempt)
	}
}

// The helper above retries only when ingest lost a port race; any other early exit fails with its output.
func TestAnIngestThatCannotBindIsToldApart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs cmd/ingest")
	}
	dir := t.TempDir()
	binary := buildIngest(t, dir)
	routes := filepath.Join(dir, "routes.json")
	write(t, routes, `{"region":"eu","scaleUnit":1,"routes":[]}`)
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	taken := held.Addr().String()
	hub := startProcess(t, binary, "--routes", routes, "--mqtt", taken, "--http", freeAddr(t))
	if err := hub.waitListening(freeAddr(t)); !errors.Is(err, errPortTaken) {
		t.Fatalf("a hub whose MQTT port is held: %v, want errPortTaken", err)
	}
	broken := startProcess(t, binary, "--routes", filepath.Join(dir, "missing.json"), "--mqtt", freeAddr(t))
	if err := broken.waitListening(freeAddr(t)); err == nil || errors.Is(err, errPortTaken) ||
		!strings.Contains(err.Error(), "exited before listening") {
		t.Fatalf("a hub without its routes file: %v, want its exit and output", err)
	}
}
