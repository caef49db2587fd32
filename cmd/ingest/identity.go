package main

// A device's identity as IoT Hub checks it for X.509 CA-signed devices over MQTT
// (https://learn.microsoft.com/azure/iot/iot-mqtt-connect-to-iot-hub): TLS 1.2 or later, a client
// certificate that chains to a CA the hub trusts, whose subject CN is the device id; the CONNECT's client
// id is that device id and its user name is "{iotHub-hostname}/{device-id}/?api-version=...". A device
// must exist in the hub's registry (on the Azure path, DPS creates it when it registers the device).

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ServerTLS is the broker's TLS: its own certificate, TLS 1.2 at least, and a client certificate
// required and verified against the fleet CA (clientCAFile) during the handshake.
func ServerTLS(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("server certificate %s: %w", certFile, err)
	}
	pem, err := os.ReadFile(clientCAFile)
	if err != nil {
		return nil, fmt.Errorf("fleet CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("fleet CA %s: no PEM certificate in it", clientCAFile)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		MinVersion:   tls.VersionTLS12,
	}, nil
}

// errNoClientCertificate is what a connection that is not TLS, or presented no certificate, gets.
var errNoClientCertificate = errors.New("no verified client certificate")

// CertificateDeviceID is the subject CN of the verified client certificate on conn.
func CertificateDeviceID(conn net.Conn) (string, error) {
	secure, ok := conn.(*tls.Conn)
	if !ok {
		return "", errNoClientCertificate
	}
	state := secure.ConnectionState()
	if !state.HandshakeComplete || len(state.VerifiedChains) == 0 || len(state.PeerCertificates) == 0 {
		return "", errNoClientCertificate
	}
	return state.PeerCertificates[0].Subject.CommonName, nil
}

// CheckUsername applies IoT Hub's user name convention: "{hub host}/{device id}/?api-version=...".
func CheckUsername(username, device string) error {
	parts := strings.SplitN(username, "/", 3)
	if len(parts) != 3 || parts[0] == "" || parts[1] != device || !strings.Contains(parts[2], "api-version=") {
		return fmt.Errorf("user name %q is not {hub host}/%s/?api-version=...", username, device)
	}
	return nil
}

// Registry is the hub's device registry: the devices allowed to connect.
type Registry struct {
	mu      sync.RWMutex
	devices map[string]struct{}
	// OnCreate runs once for each new device (IoT Hub's createDeviceIdentity lifecycle event).
	OnCreate func(id string)
	// restored is false while Restore has not yet read the registry back from its source.
	restored atomic.Bool
}

// deviceList is the JSON of a list of device ids, as GET /devices answers it.
type deviceList struct {
	Devices []string `json:"devices"`
}

// NewRegistry is an empty registry.
func NewRegistry() *Registry { return &Registry{devices: map[string]struct{}{}} }

// Add registers a device; it reports whether the device is new.
func (r *Registry) Add(id string) bool {
	r.mu.Lock()
	_, known := r.devices[id]
	r.devices[id] = struct{}{}
	r.mu.Unlock()
	if !known && r.OnCreate != nil {
		r.OnCreate(id)
	}
	return !known
}

// Restore reads the devices registered to this hub back from source (the region's DPS, which keeps
// every registration), retrying until it answers or ctx ends. IoT Hub's registry outlives any process;
// the local hub keeps it in memory, so a replaced pod gets it back from DPS before it is ready. Restored
// devices are not new: no lifecycle event is emitted for them.
func (r *Registry) Restore(ctx context.Context, source string, retry time.Duration, client *http.Client) error {
	for {
		ids, err := fetchDevices(ctx, client, source)
		if err == nil {
			r.mu.Lock()
			for _, id := range ids {
				r.devices[id] = struct{}{}
			}
			r.mu.Unlock()
			r.restored.Store(true)
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("registry not restored from %s: %w", source, err)
		case <-time.After(retry):
		}
	}
}

// fetchDevices reads a device list (GET /devices, or DPS's GET /hubs/{host}/devices).
func fetchDevices(ctx context.Context, client *http.Client, source string) ([]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, source, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %d", source, resp.StatusCode)
	}
	var list deviceList
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	return list.Devices, nil
}

// Restored tells whether the registry has been read back (always true without a source).
func (r *Registry) Restored() bool { return r.restored.Load() }

// IDs lists the registered devices, sorted.
func (r *Registry) IDs() []string {
	r.mu.RLock()
	ids := make([]string, 0, len(r.devices))
	for id := range r.devices {
		ids = append(ids, id)
	}
	r.mu.RUnlock()
	slices.Sort(ids)
	return ids
}

// Has tells whether the device is registered.
func (r *Registry) Has(id string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	_, known := r.devices[id]
	return known
}

// Count is the number of registered devices.
func (r *Registry) Count() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.devices)
}

// Handle serves the registry on the back-end port, as IoT Hub's service API serves device identities:
// PUT /devices/{id} creates one (201, or 200 when it exists), GET /devices/{id} reads it (404 if unknown),
// GET /devices lists them.
func (r *Registry) Handle(mux *http.ServeMux) {
	mux.HandleFunc("GET /devices", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(deviceList{Devices: r.IDs()})
	})
	mux.HandleFunc("PUT /devices/{id}", func(w http.ResponseWriter, req *http.Request) {
		id := req.PathValue("id")
		if !ValidDeviceID(id) {
			http.Error(w, "not a device id", http.StatusBadRequest)
			return
		}
		if r.Add(id) {
			w.WriteHeader(http.StatusCreated)
		}
		_, _ = fmt.Fprintf(w, "{\"deviceId\":%q}\n", id)
	})
	mux.HandleFunc("GET /devices/{id}", func(w http.ResponseWriter, req *http.Request) {
		id := req.PathValue("id")
		if !r.Has(id) {
			http.Error(w, "device not found", http.StatusNotFound)
			return
		}
		_, _ = fmt.Fprintf(w, "{\"deviceId\":%q}\n", id)
	})
}
