package main

import (
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// BenchmarkHubPerMessage plays connected vehicles against the hub as the fleet does (TLS with X.509,
// QoS 1 on the events topic with the SDKs' property bag, about 1.2 KB of VSS-shaped JSON, the next
// message only after the PUBACK) into an in-process Kafka (kfake), and reports the process's CPU per
// message: the hub's share and the fake Kafka's and the clients' together, so compare runs, and read
// the hub's own functions off `-cpuprofile`.
func BenchmarkHubPerMessage(b *testing.B) {
	const vehicles = 100
	fleet := newCA(b, "eu fleet CA")
	hub := startSecureIngest(b, fleet)
	waitReady(b, hub.in)
	payload := []byte(`{"Vehicle":{"Speed":50.5,"Powertrain":{"TractionBattery":{"StateOfCharge":{"Current":71.2},` +
		`"CellVoltages":[` + strings.Repeat("3.712,", 170) + `3.7]}}}}`)
	conns := make([]*device, vehicles)
	topics := make([]string, vehicles)
	for v := range conns {
		id := fmt.Sprintf("eu-car-%04d", v)
		hub.register(b, id)
		cert := fleet.device(b, id)
		d, code := hub.open(b, &cert, id, username(id))
		if code == nil || *code != packets.CodeSuccess.Code {
			b.Fatalf("%s: not connected", id)
		}
		conns[v], topics[v] = d, "devices/"+id+"/messages/events/$.ct=application%2Fjson&$.ce=utf-8"
	}
	var wg sync.WaitGroup
	b.ResetTimer()
	before := cpuTime()
	started := time.Now()
	for v, d := range conns {
		n := b.N / vehicles
		if v < b.N%vehicles {
			n++
		}
		topic := topics[v]
		wg.Go(func() {
			for i := range n {
				id := uint16(i%65535 + 1)
				d.send(b, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}, ProtocolVersion: 4,
					TopicName: topic, PacketID: id, Payload: payload})
				if ack, err := d.read(10 * time.Second); err != nil || ack.FixedHeader.Type != packets.Puback || ack.PacketID != id {
					b.Errorf("no PUBACK for %d: %v", id, err)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(started)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64((cpuTime()-before).Microseconds())/float64(b.N), "cpu-µs/msg")
}

// cpuTime is the process's user and system CPU so far.
func cpuTime() time.Duration {
	var usage syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &usage)
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
}
