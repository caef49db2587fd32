package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Stats are the counters /stats serves.
type Stats struct {
	Connections   atomic.Int64
	Connects      atomic.Int64
	Published     atomic.Int64
	Forwarded     atomic.Int64
	Refused       atomic.Int64
	Failed        atomic.Int64
	Unrouted      atomic.Int64
	Events        atomic.Int64
	EventsDropped atomic.Int64
}

// Snapshot is the JSON form of Stats.
func (s *Stats) Snapshot() map[string]int64 {
	return map[string]int64{
		"connections":    s.Connections.Load(),
		"connects":       s.Connects.Load(),
		"published":      s.Published.Load(),
		"forwarded":      s.Forwarded.Load(),
		"refused":        s.Refused.Load(),
		"failed":         s.Failed.Load(),
		"unrouted":       s.Unrouted.Load(),
		"events":         s.Events.Load(),
		"events_dropped": s.EventsDropped.Load(),
	}
}

// Forwarder turns device messages and hub events into Kafka records keyed by device id.
type Forwarder struct {
	plan       Plan
	partitions int32
	timeout    time.Duration
	client     *kgo.Client // nil when nothing is routed
	stats      *Stats
	log        *slog.Logger
	topicsOK   atomic.Bool
	sequence   atomic.Uint64
	seen       sync.Map // device id -> struct{}: devices this process has announced
}

// producerLinger is how long a partition's records wait for more before a produce request is built.
// Each PUBACK waits on its record's produce (hook.go), and records gather anyway while earlier requests
// are out (an idempotent producer keeps up to five in flight per broker); franz-go's default linger is
// 10 ms (kgo/config.go, ProducerLinger). At S3's 6,000 messages/s on one unit here, 2 ms took PUBACK p50
// from 16-23 to 12-13 ms and p99 from 131-176 to 112 ms (interleaved runs in one cluster, 2026-12-06).
const producerLinger = 2 * time.Millisecond

// NewForwarder makes the producer: idempotent with acks=all (franz-go's default, set here for the
// reader), every record given up after timeout so a Kafka outage cannot pile records up forever.
func NewForwarder(plan Plan, partitions int32, timeout time.Duration, stats *Stats, log *slog.Logger) (*Forwarder, error) {
	f := &Forwarder{plan: plan, partitions: partitions, timeout: timeout, stats: stats, log: log}
	if plan.Bootstrap == "" {
		f.topicsOK.Store(true)
		return f, nil
	}
	client, err := kgo.NewClient(
		kgo.SeedBrokers(plan.Bootstrap),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordDeliveryTimeout(timeout),
		kgo.ProduceRequestTimeout(timeout),
		kgo.ClientID("autocloud-ingest"),
		kgo.ProducerLinger(producerLinger),
	)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	f.client = client
	return f, nil
}

// EnsureTopics creates the routed topics (partitions from the plan, replication 1), retrying until
// Kafka answers or ctx ends; an existing topic is left as it is.
func (f *Forwarder) EnsureTopics(ctx context.Context, retry time.Duration) {
	if f.client == nil {
		return
	}
	admin := kadm.NewClient(f.client)
	topics := f.plan.TopicList()
	for {
		err := f.createTopics(ctx, admin, topics)
		if err == nil {
			f.topicsOK.Store(true)
			f.log.Info("kafka topics ready", "bootstrap", f.plan.Bootstrap, "topics", topics, "partitions", f.partitions)
			return
		}
		f.log.Warn("kafka topics not ready, retrying", "bootstrap", f.plan.Bootstrap, "error", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(retry):
		}
	}
}

// createTopics creates each topic with the partitions its route asked for, else the default.
func (f *Forwarder) createTopics(ctx context.Context, admin *kadm.Client, topics []string) error {
	attempt, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	for _, topic := range topics {
		partitions := f.partitions
		if asked, ok := f.plan.Partitions[topic]; ok {
			partitions = asked
		}
		responses, err := admin.CreateTopics(attempt, partitions, 1, nil, topic)
		if err != nil {
			return err
		}
		response, ok := responses[topic]
		if !ok {
			return fmt.Errorf("topic %s: no answer", topic)
		}
		if response.Err != nil && !errors.Is(response.Err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("topic %s: %w", topic, response.Err)
		}
	}
	return nil
}

// Ready is a real round trip to Kafka, after the topics exist; without routes there is nothing to ask.
func (f *Forwarder) Ready(ctx context.Context) error {
	if !f.topicsOK.Load() {
		return errors.New("kafka topics not created yet")
	}
	if f.client == nil {
		return nil
	}
	return f.client.Ping(ctx)
}

func headers(props []Property) []kgo.RecordHeader {
	out := make([]kgo.RecordHeader, 0, len(props))
	for _, p := range props {
		out = append(out, kgo.RecordHeader{Key: p.Key, Value: []byte(p.Value)})
	}
	return out
}

// Telemetry forwards one device message to every topic a route of it selects (its brand's, with brands) and
// returns once Kafka acknowledged all of them (acks=all): the caller acknowledges the MQTT publish only then.
// routed is false where no route takes this device's messages.
func (f *Forwarder) Telemetry(ctx context.Context, device string, props []Property, payload []byte) (routed bool, err error) {
	topics := f.plan.TelemetryTopics(device)
	if len(topics) == 0 || f.client == nil {
		return false, nil
	}
	records := make([]*kgo.Record, 0, len(topics))
	for _, topic := range topics {
		records = append(records, &kgo.Record{Topic: topic, Key: []byte(device), Value: payload, Headers: headers(props)})
	}
	produce, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	return true, f.client.ProduceSync(produce, records...).FirstErr()
}

// Lifecycle sends IoT Hub's createDeviceIdentity event the first time this process sees a device:
// the registry calls it when a device is created (without a registry, first contact stands for it).
func (f *Forwarder) Lifecycle(device string, now time.Time) {
	if _, known := f.seen.LoadOrStore(device, struct{}{}); known {
		return
	}
	body, _ := json.Marshal(map[string]any{
		"deviceId":        device,
		"etag":            strconv.FormatInt(now.UnixNano(), 36),
		"version":         1,
		"status":          "enabled",
		"connectionState": "Disconnected",
	})
	f.event(sourceLifecycle, "deviceLifecycleEvents", "createDeviceIdentity", device, now, body)
}

// ConnectionState sends deviceConnected / deviceDisconnected with a sequence number that orders them,
// as IoT Hub does, since a reconnecting device's old session may end after its new one began.
func (f *Forwarder) ConnectionState(device string, connected bool, now time.Time) {
	op := "deviceDisconnected"
	if connected {
		op = "deviceConnected"
	}
	body, _ := json.Marshal(map[string]string{"sequenceNumber": fmt.Sprintf("%032x", f.sequence.Add(1))})
	f.event(sourceConnectionState, "deviceConnectionStateEvents", op, device, now, body)
}

// The events' properties and bodies follow "Azure IoT Hub non-telemetry event schemas"
// (https://learn.microsoft.com/azure/iot-hub/iot-hub-non-telemetry-event-schema): hubName, deviceId,
// opType, iothub-message-source and operationTimestamp as properties, a JSON body.

// event queues a hub event without waiting: nothing acknowledges it to a device. When Kafka is down
// and the producer's buffer is full it is dropped and counted, never blocking a connection.
func (f *Forwarder) event(source, messageSource, op, device string, now time.Time, body []byte) {
	topic, ok := f.plan.Topics[source]
	if !ok || f.client == nil {
		return
	}
	record := &kgo.Record{Topic: topic, Key: []byte(device), Value: body, Headers: headers([]Property{
		{"hubName", f.plan.HubName},
		{"deviceId", device},
		{"opType", op},
		{"iothub-message-source", messageSource},
		{"iothub-connection-device-id", device},
		{"operationTimestamp", now.UTC().Format(time.RFC3339Nano)},
		{"content-type", "application/json"},
		{"content-encoding", "utf-8"},
	})}
	f.client.TryProduce(context.Background(), record, func(_ *kgo.Record, err error) {
		if err != nil {
			f.stats.EventsDropped.Add(1)
			f.log.Warn("event not delivered", "device", device, "opType", op, "error", err)
			return
		}
		f.stats.Events.Add(1)
	})
}

// Close flushes what is buffered (bounded by ctx) and closes the client.
func (f *Forwarder) Close(ctx context.Context) error {
	if f.client == nil {
		return nil
	}
	err := f.client.Flush(ctx)
	f.client.Close()
	return err
}
