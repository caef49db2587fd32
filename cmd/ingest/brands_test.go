package main

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// testdata/routes-brands.json is what components/local/telemetry.py writes for brands alpha and beta
// (its unit test holds them equal): each brand's vehicles to its own topic, hub events to events.

func TestBrandRoutesSelectEachBrandsVehicles(t *testing.T) {
	plan, err := LoadPlan(filepath.Join("testdata", "routes-brands.json"))
	if err != nil {
		t.Fatal(err)
	}
	for device, want := range map[string][]string{
		"alpha-000001": {"telemetry-alpha"},
		"beta-000001":  {"telemetry-beta"},
		"gamma-000001": nil,
		"alphabet-1":   nil,
	} {
		if got := plan.TelemetryTopics(device); !slices.Equal(got, want) {
			t.Errorf("%s -> %v, want %v", device, got, want)
		}
	}
	if got := plan.TopicList(); !slices.Equal(got, []string{"telemetry-alpha", "telemetry-beta", eventsTopic}) {
		t.Errorf("topics %v", got)
	}
	if plan.Partitions["telemetry-alpha"] != 6 || plan.Partitions["telemetry-beta"] != 4 {
		t.Errorf("partitions %v", plan.Partitions)
	}
}

func TestParsePlanRefusesConditionsItDoesNotEvaluate(t *testing.T) {
	bad := []string{
		// A device id condition on hub events.
		`{"region":"eu","scaleUnit":1,"routes":[{"name":"e","source":"DeviceLifecycleEvents","endpoint":"kafka://k:1","topic":"e","deviceIdPrefix":"alpha-"}]}`,
		// Two routes of one name.
		`{"region":"eu","scaleUnit":1,"routes":[{"name":"t","source":"DeviceMessages","endpoint":"kafka://k:1","topic":"a","deviceIdPrefix":"a-"},` +
			`{"name":"t","source":"DeviceMessages","endpoint":"kafka://k:1","topic":"b","deviceIdPrefix":"b-"}]}`,
		// One topic, two partition counts.
		`{"region":"eu","scaleUnit":1,"routes":[{"name":"a","source":"DeviceMessages","endpoint":"kafka://k:1","topic":"t","partitions":2},` +
			`{"name":"b","source":"DeviceMessages","endpoint":"kafka://k:1","topic":"t","partitions":3}]}`,
	}
	for _, data := range bad {
		if _, err := ParsePlan([]byte(data)); err == nil {
			t.Errorf("accepted %s", data)
		}
	}
}

func startBrandIngest(t *testing.T, bootstrap string) *Ingest {
	t.Helper()
	cfg := Config{Routes: fixtureAt(t, "routes-brands.json", bootstrap), MQTTAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		Partitions: 3, Timeout: 5 * time.Second, TopicRetry: 100 * time.Millisecond, DrainTimeout: 5 * time.Second}
	in, err := Start(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = in.Stop() })
	return in
}

func publishAcked(t *testing.T, in *Ingest, device string, id uint16, payload string) {
	t.Helper()
	d, code := connect(t, in, device)
	if code != packets.CodeSuccess.Code {
		t.Fatalf("%s: CONNACK code %d", device, code)
	}
	d.publish(t, "devices/"+device+"/messages/events/", 1, id, payload)
	ack, err := d.read(5 * time.Second)
	if err != nil || ack.FixedHeader.Type != packets.Puback || ack.PacketID != id {
		t.Fatalf("%s: want PUBACK %d, got %+v %v", device, id, ack.FixedHeader, err)
	}
}

// records reads everything topic holds now (it waits until the end offsets are reached).
func records(t *testing.T, bootstrap, topic string) []*kgo.Record {
	t.Helper()
	client, err := kgo.NewClient(kgo.SeedBrokers(bootstrap))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ends, err := kadm.NewClient(client).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil && o.Offset > 0 {
			total += o.Offset
		}
	})
	if total == 0 {
		return nil
	}
	return consume(t, bootstrap, topic, int(total))
}

func TestEachBrandsMessagesLandInItsOwnTopicOnly(t *testing.T) {
	kafka := fakeKafka(t)
	in := startBrandIngest(t, kafka)
	waitReady(t, in)
	publishAcked(t, in, "alpha-000001", 1, `{"brand":"alpha"}`)
	publishAcked(t, in, "beta-000001", 2, `{"brand":"beta"}`)
	// A vehicle of no brand is acknowledged and routed nowhere (IoT Hub's fallback has no counterpart here).
	publishAcked(t, in, "gamma-000001", 3, `{"brand":"none"}`)

	for topic, want := range map[string]string{"telemetry-alpha": "alpha-000001", "telemetry-beta": "beta-000001"} {
		got := records(t, kafka, topic)
		if len(got) != 1 || string(got[0].Key) != want {
			keys := []string{}
			for _, r := range got {
				keys = append(keys, string(r.Key))
			}
			t.Errorf("%s holds %v, want only %s", topic, keys, want)
		}
	}
	if got := records(t, kafka, telemetryTopic); len(got) != 0 {
		t.Errorf("the region's %s topic holds %d records, want none with brands", telemetryTopic, len(got))
	}
	if stat(t, in, "forwarded") != 2 || stat(t, in, "unrouted") != 1 {
		t.Errorf("forwarded %d unrouted %d", stat(t, in, "forwarded"), stat(t, in, "unrouted"))
	}

	client, err := kgo.NewClient(kgo.SeedBrokers(kafka))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	details, err := kadm.NewClient(client).ListTopics(context.Background(), "telemetry-alpha", "telemetry-beta")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(details["telemetry-alpha"].Partitions); n != 6 {
		t.Errorf("telemetry-alpha has %d partitions, want the route's 6", n)
	}
	if n := len(details["telemetry-beta"].Partitions); n != 4 {
		t.Errorf("telemetry-beta has %d partitions, want the route's 4", n)
	}
}
