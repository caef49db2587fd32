package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	telemetryTopic = "telemetry"
	eventsTopic    = "events"
)

// fixtureBootstrap is the Kafka address in testdata/routes.json, which the Python component's unit test
// holds equal to what components/local/telemetry.py writes.
const fixtureBootstrap = "streaming-1.autocloud-eu.svc.cluster.local:9092"

// routesFile is the component's routes.json with the scale unit's Kafka at bootstrap.
func routesFile(t testing.TB, bootstrap string) string {
	t.Helper()
	return fixtureAt(t, "routes.json", bootstrap)
}

// fixtureAt is testdata/<name> (a routes file the component writes) with the scale unit's Kafka at bootstrap.
func fixtureAt(t testing.TB, name, bootstrap string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	data = []byte(strings.ReplaceAll(string(data), "kafka://"+fixtureBootstrap, "kafka://"+bootstrap))
	path := filepath.Join(t.TempDir(), "routes.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestParsePlanReadsTheComponentsRoutes(t *testing.T) {
	plan, err := LoadPlan(filepath.Join("testdata", "routes.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{sourceLifecycle: eventsTopic, sourceConnectionState: eventsTopic}
	if plan.HubName != "eu-telemetry-1" || plan.Bootstrap != fixtureBootstrap || len(plan.Topics) != len(want) {
		t.Fatalf("plan = %+v", plan)
	}
	if got := plan.Telemetry; len(got) != 1 || got[0] != (TelemetryRoute{Name: "telemetry", Prefix: "", Topic: telemetryTopic}) {
		t.Fatalf("device routes = %+v", got)
	}
	if topics := plan.TelemetryTopics("any-vehicle"); len(topics) != 1 || topics[0] != telemetryTopic {
		t.Errorf("without brands every device goes to %s, got %v", telemetryTopic, topics)
	}
	for source, topic := range want {
		if plan.Topics[source] != topic {
			t.Errorf("%s -> %q, want %q", source, plan.Topics[source], topic)
		}
	}
}

func startIngest(t testing.TB, bootstrap string, timeout time.Duration) *Ingest {
	t.Helper()
	cfg := Config{Routes: routesFile(t, bootstrap), MQTTAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		Partitions: 3, Timeout: timeout, TopicRetry: 100 * time.Millisecond, DrainTimeout: 5 * time.Second}
	in, err := Start(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = in.Stop() })
	return in
}

func fakeKafka(t testing.TB) string {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	return cluster.ListenAddrs()[0]
}

func httpStatus(t testing.TB, in *Ingest, path string) (int, []byte) {
	t.Helper()
	resp, err := http.Get("http://" + in.HTTPAddr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

// waitReadiness polls /ready until it answers want.
func waitReadiness(t testing.TB, in *Ingest, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if code, _ := httpStatus(t, in, "/ready"); code == want {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("/ready never answered %d", want)
}

func waitReady(t testing.TB, in *Ingest) { t.Helper(); waitReadiness(t, in, http.StatusOK) }

func stat(t testing.TB, in *Ingest, name string) int64 {
	t.Helper()
	_, body := httpStatus(t, in, "/stats")
	var stats map[string]int64
	if err := json.Unmarshal(body, &stats); err != nil {
		t.Fatal(err)
	}
	return stats[name]
}

// device is a bare MQTT 3.1.1 client built on mochi's packet codec, so a test sees exactly which
// packets the broker sends (or that it sends none and closes).
type device struct {
	conn net.Conn
	r    *bufio.Reader
}

func connect(t testing.TB, in *Ingest, id string) (*device, byte) {
	t.Helper()
	conn, err := net.Dial("tcp", in.MQTTAddr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	d := &device{conn: conn, r: bufio.NewReader(conn)}
	d.send(t, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, ProtocolVersion: 4,
		Connect: packets.ConnectParams{ProtocolName: []byte("MQTT"), Clean: true, Keepalive: 60, ClientIdentifier: id}})
	ack, err := d.read(5 * time.Second)
	if err != nil || ack.FixedHeader.Type != packets.Connack {
		t.Fatalf("no CONNACK: %v %+v", err, ack.FixedHeader)
	}
	return d, ack.ReasonCode
}

func (d *device) send(t testing.TB, pk packets.Packet) {
	t.Helper()
	var buf bytes.Buffer
	var err error
	switch pk.FixedHeader.Type {
	case packets.Connect:
		err = pk.ConnectEncode(&buf)
	case packets.Publish:
		err = pk.PublishEncode(&buf)
	case packets.Subscribe:
		err = pk.SubscribeEncode(&buf)
	case packets.Disconnect:
		err = pk.DisconnectEncode(&buf)
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.conn.Write(buf.Bytes()); err != nil {
		t.Fatal(err)
	}
}

func (d *device) publish(t testing.TB, topic string, qos byte, id uint16, payload string) {
	t.Helper()
	d.send(t, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: qos}, ProtocolVersion: 4,
		TopicName: topic, PacketID: id, Payload: []byte(payload)})
}

func (d *device) read(timeout time.Duration) (packets.Packet, error) {
	var pk packets.Packet
	_ = d.conn.SetReadDeadline(time.Now().Add(timeout))
	header, err := d.r.ReadByte()
	if err != nil {
		return pk, err
	}
	if err := pk.FixedHeader.Decode(header); err != nil {
		return pk, err
	}
	length, _, err := packets.DecodeLength(d.r)
	if err != nil {
		return pk, err
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(d.r, body); err != nil {
		return pk, err
	}
	pk.ProtocolVersion = 4
	switch pk.FixedHeader.Type {
	case packets.Connack:
		err = pk.ConnackDecode(body)
	case packets.Puback:
		err = pk.PubackDecode(body)
	case packets.Suback:
		err = pk.SubackDecode(body)
	case packets.Publish:
		err = pk.PublishDecode(body)
	}
	return pk, err
}

func consume(t testing.TB, bootstrap, topic string, n int) []*kgo.Record {
	t.Helper()
	client, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var records []*kgo.Record
	for len(records) < n {
		fetches := client.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%s: got %d records, want %d", topic, len(records), n)
		}
		records = append(records, fetches.Records()...)
	}
	return records
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

func TestDeviceMessageLandsInTelemetryKeyedByVehicle(t *testing.T) {
	kafka := fakeKafka(t)
	in := startIngest(t, kafka, 5*time.Second)
	waitReady(t, in)
	d, code := connect(t, in, "v1")
	if code != packets.CodeSuccess.Code {
		t.Fatalf("CONNACK code %d", code)
	}
	d.publish(t, "devices/v1/messages/events/seq=5&kind=gps&%24.ct=application%2Fjson&iothub-connection-device-id=v9",
		1, 7, `{"lat":48.1}`)
	ack, err := d.read(5 * time.Second)
	if err != nil || ack.FixedHeader.Type != packets.Puback || ack.PacketID != 7 {
		t.Fatalf("want PUBACK 7, got %+v %v", ack.FixedHeader, err)
	}
	records := consume(t, kafka, telemetryTopic, 1)
	r := records[0]
	if string(r.Key) != "v1" || string(r.Value) != `{"lat":48.1}` {
		t.Fatalf("record key %q value %q", r.Key, r.Value)
	}
	for key, want := range map[string]string{"seq": "5", "kind": "gps", "content-type": "application/json",
		"iothub-connection-device-id": "v1", "iothub-message-source": "Telemetry"} {
		if got := header(r, key); got != want {
			t.Errorf("header %s = %q, want %q", key, got, want)
		}
	}
	if len(r.Headers) != 6 {
		t.Errorf("headers %v: a device must not set the hub's own properties", r.Headers)
	}
	if got := stat(t, in, "forwarded"); got != 1 {
		t.Errorf("forwarded = %d", got)
	}
}

func TestConnectAndDisconnectLandInEventsTopic(t *testing.T) {
	kafka := fakeKafka(t)
	in := startIngest(t, kafka, 5*time.Second)
	waitReady(t, in)
	d, _ := connect(t, in, "v2")
	d.send(t, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}, ProtocolVersion: 4})
	records := consume(t, kafka, eventsTopic, 3)
	var ops []string
	var sequences []string
	for _, r := range records {
		if string(r.Key) != "v2" {
			t.Fatalf("event keyed %q", r.Key)
		}
		ops = append(ops, header(r, "opType")+"/"+header(r, "iothub-message-source"))
		var body map[string]any
		if err := json.Unmarshal(r.Value, &body); err != nil {
			t.Fatal(err)
		}
		if seq, ok := body["sequenceNumber"].(string); ok {
			sequences = append(sequences, seq)
		}
	}
	want := []string{"createDeviceIdentity/deviceLifecycleEvents", "deviceConnected/deviceConnectionStateEvents",
		"deviceDisconnected/deviceConnectionStateEvents"}
	if fmt.Sprint(ops) != fmt.Sprint(want) {
		t.Fatalf("events %v, want %v", ops, want)
	}
	if len(sequences) != 2 || sequences[0] >= sequences[1] {
		t.Fatalf("sequence numbers %v do not order connect before disconnect", sequences)
	}
}

func TestPublishToAnotherDevicesTopicIsRefused(t *testing.T) {
	kafka := fakeKafka(t)
	in := startIngest(t, kafka, 5*time.Second)
	waitReady(t, in)
	for _, topic := range []string{"devices/v2/messages/events/", "devices/v1/messages/devicebound/", "telemetry"} {
		d, _ := connect(t, in, "v1")
		d.publish(t, topic, 1, 1, "x")
		if pk, err := d.read(5 * time.Second); !errors.Is(err, io.EOF) {
			t.Fatalf("%s: want the connection closed without PUBACK, got %+v %v", topic, pk.FixedHeader, err)
		}
	}
	if got := stat(t, in, "refused"); got != 3 {
		t.Errorf("refused = %d", got)
	}
	if got := stat(t, in, "forwarded"); got != 0 {
		t.Errorf("forwarded = %d", got)
	}
}

func TestQoS2IsRefused(t *testing.T) {
	in := startIngest(t, fakeKafka(t), 5*time.Second)
	waitReady(t, in)
	d, _ := connect(t, in, "v1")
	d.publish(t, "devices/v1/messages/events/", 2, 1, "x")
	if pk, err := d.read(5 * time.Second); !errors.Is(err, io.EOF) {
		t.Fatalf("want the connection closed, got %+v %v", pk.FixedHeader, err)
	}
}

func TestClientIDMustBeADeviceID(t *testing.T) {
	in := startIngest(t, fakeKafka(t), 5*time.Second)
	for _, id := range []string{"", "a/b", "a+b", "car#1"} {
		if _, code := connect(t, in, id); code == packets.CodeSuccess.Code {
			t.Errorf("client id %q accepted", id)
		}
	}
}

func TestKafkaDownNoPubackAndNotReady(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	address := closed.Addr().String()
	_ = closed.Close()
	in := startIngest(t, address, time.Second)
	if code, _ := httpStatus(t, in, "/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz %d", code)
	}
	if code, _ := httpStatus(t, in, "/ready"); code != http.StatusServiceUnavailable {
		t.Fatalf("/ready %d without Kafka", code)
	}
	d, _ := connect(t, in, "v1")
	d.publish(t, "devices/v1/messages/events/", 1, 9, "x")
	if pk, err := d.read(5 * time.Second); !errors.Is(err, io.EOF) {
		t.Fatalf("want no PUBACK and the connection closed, got %+v %v", pk.FixedHeader, err)
	}
	if got := stat(t, in, "failed"); got != 1 {
		t.Errorf("failed = %d", got)
	}
}

func TestReadyFollowsKafka(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	in := startIngest(t, cluster.ListenAddrs()[0], time.Second)
	waitReady(t, in)
	cluster.Close()
	waitReadiness(t, in, http.StatusServiceUnavailable)
}

func TestStopFlushesDisconnectEvents(t *testing.T) {
	kafka := fakeKafka(t)
	in := startIngest(t, kafka, 5*time.Second)
	waitReady(t, in)
	connect(t, in, "v3")
	if err := in.Stop(); err != nil {
		t.Fatal(err)
	}
	records := consume(t, kafka, eventsTopic, 3)
	if got := header(records[2], "opType"); got != "deviceDisconnected" {
		t.Fatalf("last event %q, want deviceDisconnected", got)
	}
}

// A 3.1.1 device sees its connection closed at shutdown, not a DISCONNECT packet (which 3.1.1 allows
// only from a client), so it reconnects and resends instead of failing on a protocol error.
func TestStopClosesDeviceConnectionsWithoutDisconnectPacket(t *testing.T) {
	in := startIngest(t, fakeKafka(t), 5*time.Second)
	waitReady(t, in)
	d, code := connect(t, in, "v4")
	if code != 0 {
		t.Fatalf("CONNACK code %d", code)
	}
	if err := in.Stop(); err != nil {
		t.Fatal(err)
	}
	pk, err := d.read(5 * time.Second)
	if err == nil {
		t.Fatalf("got packet type %d after shutdown, want the connection closed", pk.FixedHeader.Type)
	}
	if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("read after shutdown: %v, want EOF or reset", err)
	}
}
