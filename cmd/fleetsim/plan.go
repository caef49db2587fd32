package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// Plan is what the Python side hands the generator (a JSON object on stdin or in a file): where the
// region's DPS and hubs are, how vehicles prove who they are, and what load to drive for how long.
type Plan struct {
	// DPS is the region's Device Provisioning Service device endpoint (MQTT over TLS).
	DPS Endpoint `json:"dps"`
	// IDScope is the DPS instance's id scope, part of the registration user name.
	IDScope string `json:"id_scope"`
	// Hubs maps each hub host name DPS may answer to where it is dialled (a tunnel's 127.0.0.1:port
	// locally). Empty: every assigned hub is dialled on its host name at port 8883 (Azure).
	Hubs map[string]Endpoint `json:"hubs"`
	// ServerCAPEM is the CA the endpoints' server certificates chain to; empty: the system's roots.
	ServerCAPEM string `json:"server_ca_pem"`
	// FleetCA issues each vehicle a short-lived certificate in-process (CN = registration id), for the
	// vehicles that name no certificate files of their own.
	FleetCA *FleetCA `json:"fleet_ca"`
	// Vehicles are the simulated vehicles, each with its registration id.
	Vehicles []Vehicle `json:"vehicles"`
	// DurationS is how long vehicles send; in-flight messages are then still awaited up to AckTimeoutS.
	DurationS float64 `json:"duration_s"`
	// Load: at most one of Rate, IntervalS and FlatOut; none means one message every
	// DefaultIntervalS seconds per vehicle.
	Rate      float64 `json:"rate"`
	IntervalS float64 `json:"interval_s"`
	FlatOut   bool    `json:"flat_out"`
	// MessagesPerVehicle stops a vehicle after that many messages (0: no limit but the duration).
	MessagesPerVehicle int `json:"messages_per_vehicle"`
	// MessageBytesMin/Max bound each message's JSON size (default 512 and 2048).
	MessageBytesMin int `json:"message_bytes_min"`
	MessageBytesMax int `json:"message_bytes_max"`
	// Scenario is "steady" (default) or "reconnect-storm".
	Scenario string    `json:"scenario"`
	Storm    StormPlan `json:"storm"`
	// AckTimeoutS is how long a vehicle keeps trying to get one message acknowledged (reconnecting and
	// resending meanwhile) before it gives up and stops.
	AckTimeoutS float64 `json:"ack_timeout_s"`
	// HandshakeConcurrency bounds the TLS handshakes in progress at once, so a 2-core machine opening
	// 10,000 connections spends its CPU on finishing handshakes rather than timing them all out.
	HandshakeConcurrency int `json:"handshake_concurrency"`
	// KeepaliveS is the MQTT keep-alive each connection announces (default 30, as the Python client).
	KeepaliveS int `json:"keepalive_s"`
	// ProgressEveryS is how often a progress line is written (default 1).
	ProgressEveryS float64 `json:"progress_every_s"`
	// ReportAssignments adds each vehicle's assigned hub to the summary, for the caller to cache.
	ReportAssignments bool `json:"report_assignments"`
}

// Endpoint is an MQTT-over-TLS endpoint as a vehicle dials it.
type Endpoint struct {
	Address string `json:"address"`
	// ServerName is the name the server certificate must carry; default the address's host.
	ServerName string `json:"server_name"`
}

// FleetCA names the region's fleet CA certificate and key files (PEM).
type FleetCA struct {
	Cert string `json:"cert"`
	Key  string `json:"key"`
}

// Vehicle is one simulated vehicle.
type Vehicle struct {
	ID string `json:"id"`
	// Hub and DeviceID are a cached DPS assignment: when Hub is set, the vehicle connects to it directly.
	Hub      string `json:"hub"`
	DeviceID string `json:"device_id"`
	// Cert and Key are the vehicle's own certificate chain and key files; empty: issued from FleetCA.
	Cert string `json:"cert"`
	Key  string `json:"key"`
}

// StormPlan shapes the reconnect storm: at AtS, Fraction of the vehicles connected then lose their
// connection at once and must all be back within WithinS.
type StormPlan struct {
	Fraction float64 `json:"fraction"`
	AtS      float64 `json:"at_s"`
	WithinS  float64 `json:"within_s"`
}

const (
	// DefaultIntervalS is the realistic default load: a driving vehicle reports every 10 seconds.
	DefaultIntervalS = 10.0
	scenarioSteady   = "steady"
	scenarioStorm    = "reconnect-storm"
	// azureDevicePort is IoT Hub's and DPS's MQTT-over-TLS port
	// (https://learn.microsoft.com/azure/iot-hub/iot-hub-devguide-protocols).
	azureDevicePort = "8883"
)

// ReadPlan parses and checks a plan, filling in the defaults.
func ReadPlan(r io.Reader) (*Plan, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var p Plan
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	return &p, p.check()
}

func (p *Plan) check() error {
	var problems []error
	bad := func(format string, args ...any) { problems = append(problems, fmt.Errorf(format, args...)) }
	if len(p.Vehicles) == 0 {
		bad("vehicles: at least one")
	}
	seen := make(map[string]bool, len(p.Vehicles))
	needDPS, needCA := false, false
	for i, v := range p.Vehicles {
		switch {
		case v.ID == "":
			bad("vehicles[%d].id: empty", i)
		case seen[v.ID]:
			bad("vehicles[%d].id: %s appears twice", i, v.ID)
		}
		seen[v.ID] = true
		if (v.Cert == "") != (v.Key == "") {
			bad("vehicles[%d]: cert and key go together", i)
		}
		needDPS = needDPS || v.Hub == ""
		needCA = needCA || v.Cert == ""
	}
	if needDPS && (p.DPS.Address == "" || p.IDScope == "") {
		bad("dps.address and id_scope: needed by the vehicles without a cached hub")
	}
	if needCA && (p.FleetCA == nil || p.FleetCA.Cert == "" || p.FleetCA.Key == "") {
		bad("fleet_ca.cert and fleet_ca.key: needed by the vehicles without certificate files")
	}
	for name, ep := range p.Hubs {
		if _, _, err := net.SplitHostPort(ep.Address); err != nil {
			bad("hubs[%s].address: %v", name, err)
		}
	}
	if p.DPS.Address != "" {
		if _, _, err := net.SplitHostPort(p.DPS.Address); err != nil {
			bad("dps.address: %v", err)
		}
	}
	if p.DurationS <= 0 {
		bad("duration_s: must be positive, not %g", p.DurationS)
	}
	modes := 0
	for _, set := range []bool{p.Rate != 0, p.IntervalS != 0, p.FlatOut} {
		if set {
			modes++
		}
	}
	if modes > 1 {
		bad("rate, interval_s and flat_out: give at most one")
	}
	if p.Rate < 0 || p.IntervalS < 0 {
		bad("rate and interval_s: must be positive")
	}
	if modes == 0 {
		p.IntervalS = DefaultIntervalS
	}
	if p.MessagesPerVehicle < 0 {
		bad("messages_per_vehicle: must not be negative")
	}
	p.MessageBytesMin = orDefault(p.MessageBytesMin, 512)
	p.MessageBytesMax = orDefault(p.MessageBytesMax, 2048)
	if p.MessageBytesMin < minMessageBytes || p.MessageBytesMax < p.MessageBytesMin || p.MessageBytesMax > maxMessageBytes {
		bad("message_bytes_min/max: %d..%d is not within %d..%d", p.MessageBytesMin, p.MessageBytesMax,
			minMessageBytes, maxMessageBytes)
	}
	switch p.Scenario {
	case "":
		p.Scenario = scenarioSteady
	case scenarioSteady:
	case scenarioStorm:
		if p.Storm.Fraction == 0 {
			p.Storm.Fraction = 0.2
		}
		if p.Storm.WithinS == 0 {
			p.Storm.WithinS = 60
		}
		if p.Storm.AtS == 0 {
			p.Storm.AtS = p.DurationS / 3
		}
		if p.Storm.Fraction <= 0 || p.Storm.Fraction > 1 || p.Storm.AtS >= p.DurationS {
			bad("storm: fraction must be in (0, 1] and at_s before the end of duration_s")
		}
	default:
		bad("scenario: %q is not %s or %s", p.Scenario, scenarioSteady, scenarioStorm)
	}
	p.AckTimeoutS = orDefaultF(p.AckTimeoutS, 60)
	p.HandshakeConcurrency = orDefault(p.HandshakeConcurrency, 64)
	p.KeepaliveS = orDefault(p.KeepaliveS, 30)
	p.ProgressEveryS = orDefaultF(p.ProgressEveryS, 1)
	return errors.Join(problems...)
}

func orDefault(v, d int) int {
	if v == 0 {
		return d
	}
	return v
}

func orDefaultF(v, d float64) float64 {
	if v == 0 {
		return d
	}
	return v
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// hubEndpoint is where a vehicle assigned to host dials, and false when the plan lists hubs and host is
// not one of them (DPS answered a hub outside the region the plan drives).
func (p *Plan) hubEndpoint(host string) (Endpoint, bool) {
	if len(p.Hubs) == 0 {
		return Endpoint{Address: net.JoinHostPort(host, azureDevicePort), ServerName: host}, true
	}
	ep, ok := p.Hubs[host]
	return ep, ok
}
