package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"errors"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
)

// fakeCredential hands out a fixed token and records the scopes it was asked for.
type fakeCredential struct {
	token  string
	mu     sync.Mutex
	scopes []string
}

func (c *fakeCredential) GetToken(_ context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.scopes = append(c.scopes, opts.Scopes...)
	return azcore.AccessToken{Token: c.token, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func (c *fakeCredential) askedFor() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.scopes...)
}

// clientFor builds (without connecting) the Kafka client kafkaOptions makes for a unit.
func clientFor(t *testing.T, cfg Config, u Unit) *kgo.Client {
	t.Helper()
	opts, err := kafkaOptions(cfg, u)
	if err != nil {
		t.Fatal(err)
	}
	client, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	return client
}

func TestEntraOptionsAreTLSAndOauthbearerForTheNamespace(t *testing.T) {
	for _, host := range []string{"ns-eu-1.servicebus.windows.net", "ns-cn-1.servicebus.chinacloudapi.cn"} {
		cred := &fakeCredential{token: "token-" + host}
		client := clientFor(t, Config{KafkaAuth: KafkaAuthEntra, Credential: cred}, Unit{"unit-1", []string{host + ":9093"}})

		if tlsConfig, _ := client.OptValue(kgo.DialTLSConfig).(*tls.Config); tlsConfig == nil {
			t.Fatalf("%s: no TLS dialer", host)
		}
		mechanisms, _ := client.OptValue(kgo.SASL).([]sasl.Mechanism)
		if len(mechanisms) != 1 || mechanisms[0].Name() != "OAUTHBEARER" {
			t.Fatalf("%s: SASL = %v, want OAUTHBEARER alone", host, mechanisms)
		}
		_, initial, err := mechanisms[0].Authenticate(context.Background(), host+":9093")
		if err != nil {
			t.Fatal(err)
		}
		// RFC 7628's client response: no channel binding, then the bearer token.
		if want := "n,,\x01auth=Bearer token-" + host + "\x01\x01"; string(initial) != want {
			t.Fatalf("%s: initial response %q, want %q", host, initial, want)
		}
		if scopes := cred.askedFor(); len(scopes) != 1 || scopes[0] != "https://"+host+"/.default" {
			t.Fatalf("%s: token scopes %v, want the namespace's https://<host>/.default", host, scopes)
		}
	}
}

func TestNoKafkaAuthIsPlaintextWithoutSASL(t *testing.T) {
	client := clientFor(t, Config{}, Unit{"unit-1", []string{"kafka-unit-1:9092"}})
	tlsConfig, _ := client.OptValue(kgo.DialTLSConfig).(*tls.Config)
	mechanisms, _ := client.OptValue(kgo.SASL).([]sasl.Mechanism)
	if tlsConfig != nil || len(mechanisms) != 0 {
		t.Fatalf("local Kafka: TLS %v, SASL %v; want neither", tlsConfig, mechanisms)
	}
}

func TestKafkaOptionsRefuseWhatIsNotOneNamespace(t *testing.T) {
	cred := &fakeCredential{token: "t"}
	twoHosts := Unit{"u", []string{"a.servicebus.windows.net:9093", "b.servicebus.windows.net:9093"}}
	if _, err := kafkaOptions(Config{KafkaAuth: KafkaAuthEntra, Credential: cred}, twoHosts); err == nil {
		t.Fatal("a unit on two hosts got one token scope")
	}
	oneHost := Unit{"u", []string{"a.servicebus.windows.net:9093"}}
	if _, err := kafkaOptions(Config{KafkaAuth: "sas", Credential: cred}, oneHost); err == nil {
		t.Fatal("an unknown --kafka-auth was accepted")
	}
}

// testCertificate is a self-signed certificate for 127.0.0.1 and a pool that trusts it.
func testCertificate(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kfake"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotBefore: time.Now().Add(-time.Minute),
		NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(parsed)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// oauthGate puts TLS and SASL OAUTHBEARER in front of kfake, which supports neither OAUTHBEARER nor
// a bearer token: it terminates TLS, answers SASLHandshake and SASLAuthenticate itself (only
// OAUTHBEARER, only the expected token), refuses any other request before that (as a broker with
// SASL does), and then passes the connection through to kfake unchanged.
type oauthGate struct {
	net.Listener
	tls      *tls.Config
	token    string
	accepted atomic.Int32
	refused  atomic.Int32
}

func (g *oauthGate) Accept() (net.Conn, error) {
	raw, err := g.Listener.Accept()
	if err != nil {
		return nil, err
	}
	broker, gate := net.Pipe()
	go g.serve(tls.Server(raw, g.tls), gate)
	return broker, nil
}

// lockedWriter serializes the gate's answers with the broker's responses on the client connection.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (g *oauthGate) serve(client net.Conn, broker net.Conn) {
	defer client.Close()
	defer broker.Close()
	toClient := lockedWriter{&sync.Mutex{}, client}
	go func() {
		_, _ = io.Copy(toClient, broker)
		client.Close()
	}()
	for {
		frame, err := readFrame(client)
		if err != nil {
			return
		}
		key, version, correlation, body, err := requestHeader(frame)
		if err != nil {
			return
		}
		switch key {
		case kmsg.ApiVersions.Int16():
			if _, err := broker.Write(frame); err != nil {
				return
			}
		case kmsg.SASLHandshake.Int16():
			req := kmsg.NewPtrSASLHandshakeRequest()
			req.Version = version
			if req.ReadFrom(body) != nil {
				return
			}
			resp := req.ResponseKind().(*kmsg.SASLHandshakeResponse)
			resp.SupportedMechanisms = []string{"OAUTHBEARER"}
			if req.Mechanism != "OAUTHBEARER" {
				resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
			}
			if respond(toClient, correlation, resp) != nil || resp.ErrorCode != 0 {
				g.refused.Add(1)
				return
			}
		case kmsg.SASLAuthenticate.Int16():
			req := kmsg.NewPtrSASLAuthenticateRequest()
			req.Version = version
			if req.ReadFrom(body) != nil {
				return
			}
			resp := req.ResponseKind().(*kmsg.SASLAuthenticateResponse)
			if bearer(req.SASLAuthBytes) != g.token {
				resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
				g.refused.Add(1)
				_ = respond(toClient, correlation, resp)
				return
			}
			if respond(toClient, correlation, resp) != nil {
				return
			}
			g.accepted.Add(1)
			_, _ = io.Copy(broker, client)
			return
		default:
			g.refused.Add(1)
			return
		}
	}
}

// readFrame reads one size-prefixed Kafka request, prefix included.
func readFrame(r io.Reader) ([]byte, error) {
	var size [4]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		return nil, err
	}
	frame := make([]byte, 4+binary.BigEndian.Uint32(size[:]))
	copy(frame, size[:])
	_, err := io.ReadFull(r, frame[4:])
	return frame, err
}

// requestHeader splits a request frame into its key, version, correlation id and body (request
// header v1, or v2 with tagged fields for flexible versions).
func requestHeader(frame []byte) (key, version int16, correlation int32, body []byte, err error) {
	b := frame[4:]
	if len(b) < 10 {
		return 0, 0, 0, nil, errors.New("short request")
	}
	key, version = int16(binary.BigEndian.Uint16(b)), int16(binary.BigEndian.Uint16(b[2:]))
	correlation = int32(binary.BigEndian.Uint32(b[4:]))
	clientID := int16(binary.BigEndian.Uint16(b[8:]))
	b = b[10:]
	if clientID > 0 {
		b = b[clientID:]
	}
	req := kmsg.RequestForKey(key)
	if req == nil {
		return key, version, correlation, b, nil
	}
	req.SetVersion(version)
	if req.IsFlexible() {
		tags, n := binary.Uvarint(b)
		b = b[n:]
		for range tags {
			_, n = binary.Uvarint(b)
			b = b[n:]
			size, n := binary.Uvarint(b)
			b = b[n+int(size):]
		}
	}
	return key, version, correlation, b, nil
}

// respond writes a response frame: size, correlation id, an empty tag buffer when flexible, body.
func respond(w io.Writer, correlation int32, resp kmsg.Response) error {
	frame := binary.BigEndian.AppendUint32(make([]byte, 4), uint32(correlation))
	if resp.IsFlexible() {
		frame = append(frame, 0)
	}
	frame = resp.AppendTo(frame)
	binary.BigEndian.PutUint32(frame, uint32(len(frame)-4))
	_, err := w.Write(frame)
	return err
}

// bearer is the token of an OAUTHBEARER client response (RFC 7628: gs2 header, then key=value pairs
// separated by 0x01).
func bearer(message []byte) string {
	for _, pair := range bytes.Split(message, []byte{1}) {
		if token, ok := strings.CutPrefix(string(pair), "auth=Bearer "); ok {
			return token
		}
	}
	return ""
}

// startEventHubs is kfake behind the gate: TLS with a test CA, SASL OAUTHBEARER with one token.
func startEventHubs(t *testing.T, token string) ([]string, *oauthGate, *tls.Config) {
	t.Helper()
	cert, pool := testCertificate(t)
	var gate *oauthGate
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, topic),
		kfake.ListenFn(func(network, address string) (net.Listener, error) {
			l, err := net.Listen(network, address)
			if err != nil {
				return nil, err
			}
			gate = &oauthGate{Listener: l, tls: &tls.Config{Certificates: []tls.Certificate{cert}}, token: token}
			return gate, nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	return cluster.ListenAddrs(), gate, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// produceEntra produces as an Event Hubs client would: the same options the writer uses.
func produceEntra(t *testing.T, cfg Config, brokers []string, records ...*kgo.Record) {
	t.Helper()
	opts, err := kafkaOptions(cfg, Unit{"producer", brokers})
	if err != nil {
		t.Fatal(err)
	}
	client, err := kgo.NewClient(append(opts, kgo.DefaultProduceTopic(topic))...)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := client.ProduceSync(ctx, records...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

func TestGateRefusesKafkaWithoutTheToken(t *testing.T) {
	brokers, gate, tlsConfig := startEventHubs(t, "the-token")
	for _, cfg := range []Config{
		{KafkaAuth: KafkaAuthEntra, Credential: &fakeCredential{token: "another-token"}, KafkaTLS: tlsConfig},
		{KafkaAuth: KafkaAuthNone},
	} {
		opts, err := kafkaOptions(cfg, Unit{"u", brokers})
		if err != nil {
			t.Fatal(err)
		}
		if cfg.KafkaAuth == KafkaAuthNone {
			opts = append(opts, kgo.DialTLSConfig(tlsConfig)) // TLS but no SASL
		}
		client, err := kgo.NewClient(opts...)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		err = client.Ping(ctx)
		cancel()
		client.Close()
		if err == nil {
			t.Fatalf("%s: the gate let a client in without the token", cfg.KafkaAuth)
		}
	}
	if gate.accepted.Load() != 0 || gate.refused.Load() == 0 {
		t.Fatalf("gate accepted %d, refused %d; want 0 and some", gate.accepted.Load(), gate.refused.Load())
	}
}
