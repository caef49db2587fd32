package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// DeviceHook applies IoT Hub's device rules to mochi's broker and hands messages to the Forwarder.
//
// mochi calls OnPublish on the client's own read loop, before it writes the PUBACK (server.go,
// processPublish, v2.7.9), and an OnPublish error of packets.ErrRejectPacket makes it return without
// acknowledging. So a QoS 1 message is produced synchronously here and the PUBACK follows Kafka's ack.
type DeviceHook struct {
	mqtt.HookBase
	server  *mqtt.Server
	forward *Forwarder
	stats   *Stats
	log     *slog.Logger
	now     func() time.Time
	// stopping refuses new connections while the broker shuts down.
	stopping atomic.Bool
	// x509 checks each device's verified client certificate and user name as IoT Hub does.
	x509 bool
	// registry holds the devices DPS registered; with requireRegistration, no other device may connect.
	registry            *Registry
	requireRegistration bool
}

// ID names the hook in mochi's logs.
func (h *DeviceHook) ID() string { return "iothub-device" }

// Provides lists the events this hook handles.
func (h *DeviceHook) Provides(b byte) bool {
	return bytes.Contains([]byte{
		mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnSessionEstablished, mqtt.OnDisconnect, mqtt.OnPublish,
	}, []byte{b})
}

// OnConnectAuthenticate admits a client whose id is a valid device id and, with x509, whose verified
// certificate names that device and whose user name follows IoT Hub's convention; with
// requireRegistration, only a device in the registry.
func (h *DeviceHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	if h.stopping.Load() {
		return false
	}
	id := pk.Connect.ClientIdentifier
	if reason := h.refusal(cl, id, string(pk.Connect.Username)); reason != "" {
		h.stats.Refused.Add(1)
		h.log.Info("refused", "device", id, "remote", cl.Net.Remote, "reason", reason)
		return false
	}
	return true
}

// refusal is why a CONNECT is refused, or "".
func (h *DeviceHook) refusal(cl *mqtt.Client, id, username string) string {
	if !ValidDeviceID(id) {
		return "client id is not a device id"
	}
	if h.x509 {
		cn, err := CertificateDeviceID(cl.Net.Conn)
		if err != nil {
			return err.Error()
		}
		if cn != id {
			return "certificate CN " + cn + " is not the client id"
		}
		if err := CheckUsername(username, id); err != nil {
			return err.Error()
		}
	}
	if h.requireRegistration && !h.registry.Has(id) {
		return "device not registered in this hub"
	}
	return ""
}

// OnACLCheck lets publishes through to OnPublish, which refuses a foreign topic at any QoS; no
// subscription is granted, since this hub sends nothing to devices.
func (h *DeviceHook) OnACLCheck(_ *mqtt.Client, _ string, write bool) bool {
	return write
}

// OnSessionEstablished reports the device as connected and, where no registry creates devices (plain
// MQTT without registration), as created at first contact.
func (h *DeviceHook) OnSessionEstablished(cl *mqtt.Client, _ packets.Packet) {
	h.stats.Connections.Add(1)
	h.stats.Connects.Add(1)
	h.log.Info("connected", "device", cl.ID, "remote", cl.Net.Remote)
	now := h.now()
	if !h.requireRegistration {
		h.forward.Lifecycle(cl.ID, now)
	}
	h.forward.ConnectionState(cl.ID, true, now)
}

// OnDisconnect reports the device as disconnected.
func (h *DeviceHook) OnDisconnect(cl *mqtt.Client, err error, _ bool) {
	h.stats.Connections.Add(-1)
	h.log.Info("disconnected", "device", cl.ID, "remote", cl.Net.Remote, "reason", err)
	h.forward.ConnectionState(cl.ID, false, h.now())
}

// OnPublish forwards a device message; a refused or undeliverable one closes the connection unacknowledged.
func (h *DeviceHook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	h.stats.Published.Add(1)
	props, err := ParseEventsTopic(cl.ID, pk.TopicName)
	if err != nil {
		return h.refuse(cl, pk, err.Error())
	}
	if pk.FixedHeader.Qos > 1 {
		return h.refuse(cl, pk, "QoS 2 is not supported")
	}
	props = append(withoutSystem(props),
		Property{"iothub-connection-device-id", cl.ID},
		Property{"iothub-enqueuedtime", h.now().UTC().Format(time.RFC3339Nano)},
		Property{"iothub-message-source", "Telemetry"},
	)
	if pk.FixedHeader.Retain {
		// IoT Hub keeps no retained messages; it marks the message instead.
		props = append(props, Property{"mqtt-retain", "true"})
		pk.FixedHeader.Retain = false
	}
	routed, err := h.forward.Telemetry(context.Background(), cl.ID, props, pk.Payload)
	switch {
	case err != nil:
		h.stats.Failed.Add(1)
		h.log.Warn("not forwarded, closing without PUBACK", "device", cl.ID, "error", err)
		h.disconnect(cl, packets.ErrServerUnavailable)
		return pk, packets.ErrRejectPacket
	case routed:
		h.stats.Forwarded.Add(1)
	default:
		h.stats.Unrouted.Add(1)
	}
	return pk, nil
}

// withoutSystem drops bag entries named like the hub's own iothub-* properties, so a device cannot pose
// as another through a header.
func withoutSystem(props []Property) []Property {
	kept := props[:0]
	for _, p := range props {
		if !strings.HasPrefix(strings.ToLower(p.Key), "iothub-") {
			kept = append(kept, p)
		}
	}
	return kept
}

// refuse closes the connection the way IoT Hub does for a publish it does not accept.
func (h *DeviceHook) refuse(cl *mqtt.Client, pk packets.Packet, reason string) (packets.Packet, error) {
	h.stats.Refused.Add(1)
	h.log.Info("refused", "device", cl.ID, "remote", cl.Net.Remote, "topic", pk.TopicName, "reason", reason)
	h.disconnect(cl, packets.ErrNotAuthorized)
	return pk, packets.ErrRejectPacket
}

// disconnect closes the network connection: MQTT 3.1.1 has no DISCONNECT from server to client, so only
// an MQTT 5 client is sent one first. A 3.1.1 client resends its unacknowledged QoS 1 messages when it
// reconnects, which makes a refused PUBACK a redelivery rather than a loss.
func (h *DeviceHook) disconnect(cl *mqtt.Client, code packets.Code) {
	if cl.Properties.ProtocolVersion == 5 {
		_ = h.server.DisconnectClient(cl, code)
		return
	}
	cl.Stop(code)
}
