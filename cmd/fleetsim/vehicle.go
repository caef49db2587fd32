package main

// One simulated vehicle, driven by its own goroutine: DPS registration, the hub connection, QoS 1
// publishes, and the device SDKs' reconnection when the connection is lost.
//
// The device path is the documented one, as autocloud/operations/device.py speaks it from Python:
//   - DPS ("Communicate with DPS using the MQTT protocol", https://learn.microsoft.com/azure/iot-dps/iot-dps-mqtt-support):
//     client id = registration id, user name "{idScope}/registrations/{registration_id}/api-version=2019-03-31",
//     subscribe to $dps/registrations/res/#, publish $dps/registrations/PUT/iotdps-register/?$rid={request_id},
//     and while the answer is 202, wait retry-after seconds and publish
//     $dps/registrations/GET/iotdps-get-operationstatus/?$rid={request_id}&operationId={operationId};
//     a 200 answer carries registrationState with assignedHub and deviceId.
//   - IoT Hub (https://learn.microsoft.com/azure/iot/iot-mqtt-connect-to-iot-hub): client id = device id,
//     user name "{iotHub-hostname}/{device-id}/?api-version=2021-04-12", messages published to
//     devices/{device-id}/messages/events/ with an optional property bag; QoS 1 is acknowledged by PUBACK.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	dpsAPIVersion   = "2019-03-31"
	hubAPIVersion   = "2021-04-12"
	dpsResponses    = "$dps/registrations/res/"
	dpsRegister     = "$dps/registrations/PUT/iotdps-register/"
	dpsStatus       = "$dps/registrations/GET/iotdps-get-operationstatus/"
	dpsMaxPolls     = 30
	answerTimeout   = 30 * time.Second
	maxRetryAfter   = 10 * time.Second
	connectTimeout  = 30 * time.Second
	eventProperties = "$.ct=application%2Fjson&$.ce=utf-8"
)

type vehicle struct {
	cfg      Vehicle
	run      *Run
	deviceID string
	hub      string
	cert     *tls.Certificate
	rng      *rand.Rand
	// provisioned is true once this run registered the vehicle with DPS.
	provisioned bool

	mu     sync.Mutex
	conn   *Conn
	dropAt time.Time
	drop   chan struct{}
	// connections counts successful hub connections; each after the first is a reconnect.
	connections int
}

func newVehicle(cfg Vehicle, run *Run, seed uint64) *vehicle {
	return &vehicle{cfg: cfg, run: run, deviceID: cfg.DeviceID, hub: cfg.Hub, drop: make(chan struct{}, 1),
		rng: rand.New(rand.NewPCG(seed, uint64(len(cfg.ID))))}
}

// drive runs the vehicle until its messages are sent or the run ends.
func (v *vehicle) drive() {
	if v.deviceID == "" {
		v.deviceID = v.cfg.ID
	}
	if !v.connectFirst() {
		v.run.stats.neverConnected()
		return
	}
	v.publishAll()
	v.mu.Lock()
	if v.conn != nil {
		v.conn.Disconnect()
		v.conn = nil
		v.run.stats.connected.Add(-1)
	}
	v.mu.Unlock()
}

// connectFirst takes the vehicle to its hub for the first time: its certificate, DPS's assignment unless the
// plan gives the hub, the connection; false once it gives up.
func (v *vehicle) connectFirst() bool {
	if err := v.loadCertificate(); err != nil {
		v.run.stats.Refuse("certificate: " + err.Error())
		return false
	}
	if v.hub == "" && !v.register() {
		return false
	}
	deadline, _ := v.run.send.Deadline()
	return v.connect(deadline, false)
}

func (v *vehicle) loadCertificate() error {
	if v.cfg.Cert != "" {
		cert, err := tls.LoadX509KeyPair(v.cfg.Cert, v.cfg.Key)
		if err != nil {
			return err
		}
		v.cert = &cert
		return nil
	}
	cert, err := v.run.issuer.Issue(v.cfg.ID)
	v.cert = &cert
	return err
}

// dial opens an MQTT connection, holding one of the run's handshake slots meanwhile.
func (v *vehicle) dial(ep Endpoint, clientID, username string) (*Conn, error) {
	select {
	case v.run.handshakes <- struct{}{}:
	case <-v.run.hard.Done():
		return nil, v.run.hard.Err()
	}
	defer func() { <-v.run.handshakes }()
	return Dial(v.run.hard, ep.Address, clientTLS(v.run.roots, ep, v.cert), clientID, username,
		v.run.plan.KeepaliveS, connectTimeout)
}

// dpsTransportRetries is how often a registration whose connection failed (closed, refused, timed out) is
// tried again with the SDKs' back-off before it counts as refused: the device SDKs retry such transient
// errors ("Retry patterns", https://learn.microsoft.com/azure/iot/concepts-manage-device-reconnections),
// while an answer of DPS (a status other than 200 or 202) is final.
const dpsTransportRetries = 5

// register runs DPS's registration exchange, again after a transport failure; a refusal is counted by
// its reason.
func (v *vehicle) register() bool {
	started := time.Now()
	for attempt := 1; ; attempt++ {
		ok, transient, reason := v.registerOnce(started)
		if ok {
			return true
		}
		if !transient || attempt > dpsTransportRetries {
			v.run.stats.Refuse(reason)
			return false
		}
		if !sleep(v.run.hard, backoff(attempt, v.rng.Float64)) {
			return false
		}
	}
}

// registerOnce is one connection's registration exchange: whether it assigned a hub, and otherwise whether
// the failure was the connection's (worth retrying) and why.
func (v *vehicle) registerOnce(started time.Time) (ok, transient bool, reason string) {
	p := v.run.plan
	id := v.cfg.ID
	conn, err := v.dial(p.DPS, id, p.IDScope+"/registrations/"+id+"/api-version="+dpsAPIVersion)
	if err != nil {
		return false, recoverable(err), "dps: " + describe(err)
	}
	defer conn.Disconnect()
	if err := conn.Subscribe(dpsResponses+"#", answerTimeout); err != nil {
		return false, true, "dps: no SUBACK: " + describe(err)
	}
	topic := dpsRegister + "?$rid=1"
	payload := []byte(`{"registrationId":"` + id + `"}`)
	for request := 1; request <= dpsMaxPolls; request++ {
		if err := conn.Publish(topic, payload, 1, conn.PacketID(), false); err != nil {
			return false, true, "dps: " + describe(err)
		}
		answer, err := conn.ReadUntil(time.Now().Add(answerTimeout), func(pk packet) bool {
			t, _, _, err := parsePublish(pk)
			return pk.kind() == typePublish && err == nil && strings.HasPrefix(t, dpsResponses)
		})
		if err != nil {
			return false, true, "dps: no answer: " + describe(err)
		}
		answerTopic, _, body, _ := parsePublish(answer)
		status, params := dpsStatusOf(answerTopic)
		var reply struct {
			OperationID string `json:"operationId"`
			Status      string `json:"status"`
			State       struct {
				AssignedHub string `json:"assignedHub"`
				DeviceID    string `json:"deviceId"`
			} `json:"registrationState"`
		}
		_ = json.Unmarshal(body, &reply)
		switch status {
		case 200:
			if reply.Status != "assigned" || reply.State.AssignedHub == "" {
				return false, false, "dps: not assigned (" + reply.Status + ")"
			}
			v.hub, v.deviceID, v.provisioned = reply.State.AssignedHub, reply.State.DeviceID, true
			if v.deviceID == "" {
				v.deviceID = id
			}
			v.run.stats.Registered(id, v.hub, time.Since(started))
			return true, false, ""
		case 202:
			wait := time.Second
			if s, err := strconv.ParseFloat(params.Get("retry-after"), 64); err == nil && s >= 0 {
				wait = min(seconds(s), maxRetryAfter)
			}
			if !sleep(v.run.hard, wait) {
				return false, false, "dps: the run ended while assigning"
			}
			topic = fmt.Sprintf("%s?$rid=%d&operationId=%s", dpsStatus, request+1, url.QueryEscape(reply.OperationID))
			payload = nil
		default:
			return false, false, fmt.Sprintf("dps: answered %d", status)
		}
	}
	return false, false, fmt.Sprintf("dps: still assigning after %d polls", dpsMaxPolls)
}

// dpsStatusOf reads "$dps/registrations/res/{status}/?$rid=..&retry-after=..".
func dpsStatusOf(topic string) (int, url.Values) {
	path, query, _ := strings.Cut(strings.TrimPrefix(topic, dpsResponses), "?")
	status, _ := strconv.Atoi(strings.Trim(path, "/"))
	params, _ := url.ParseQuery(query)
	return status, params
}

// connect opens the hub connection, as a device SDK does: a recoverable failure is retried after the
// exponential back-off with jitter until deadline; an authentication refusal, or ten failures in a row,
// sends the vehicle back through DPS once (the documented "Hub with DPS reconnection flow"). retrying
// says the vehicle just lost a connection, so even the first attempt waits its back-off.
func (v *vehicle) connect(deadline time.Time, retrying bool) bool {
	p := v.run.plan
	failures, reprovisioned := 0, false
	attempt := 0
	if retrying {
		attempt = 1
	}
	for {
		if attempt > 0 {
			wait := backoff(attempt, v.rng.Float64)
			if time.Now().Add(wait).After(deadline) || !sleep(v.run.hard, wait) {
				v.run.stats.Refuse("hub: no connection within the time left")
				return false
			}
		}
		attempt++
		ep, ok := p.hubEndpoint(v.hub)
		if !ok {
			v.run.stats.Refuse("hub: DPS assigned " + v.hub + ", which is not among the plan's hubs")
			return false
		}
		started := time.Now()
		conn, err := v.dial(ep, v.deviceID, v.hub+"/"+v.deviceID+"/?api-version="+hubAPIVersion)
		if err == nil {
			v.connected(conn, time.Since(started))
			return true
		}
		if v.run.hard.Err() != nil {
			return false
		}
		failures++
		canReprovision := !reprovisioned && p.DPS.Address != ""
		switch {
		case !recoverable(err) && canReprovision, failures >= reprovisionAfter && canReprovision:
			reprovisioned, failures, attempt = true, 0, 0
			if !v.register() {
				return false
			}
		case !recoverable(err):
			v.run.stats.Refuse("hub: " + describe(err))
			return false
		}
	}
}

// connected makes conn the vehicle's connection and counts it.
func (v *vehicle) connected(conn *Conn, took time.Duration) {
	s := v.run.stats
	v.mu.Lock()
	v.conn = conn
	v.connections++
	if v.connections > 1 {
		s.reconnects.Add(1)
	} else {
		s.firstConnected()
		s.connect.Record(took)
	}
	if !v.dropAt.IsZero() {
		s.stormReturn.Record(time.Since(v.dropAt))
		v.dropAt = time.Time{}
	}
	v.mu.Unlock()
	s.connected.Add(1)
}

func (v *vehicle) current() *Conn {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.conn
}

// lose closes conn if it is still the vehicle's connection.
func (v *vehicle) lose(conn *Conn) {
	v.mu.Lock()
	if v.conn == conn && conn != nil {
		_ = conn.Close()
		v.conn = nil
		v.run.stats.connected.Add(-1)
	}
	v.mu.Unlock()
}

// dropNow cuts the connection as a lost network would (no DISCONNECT); false when there was none.
func (v *vehicle) dropNow() bool {
	v.mu.Lock()
	conn := v.conn
	if conn != nil {
		_ = conn.Close()
		v.conn = nil
		v.dropAt = time.Now()
		v.run.stats.connected.Add(-1)
	}
	v.mu.Unlock()
	if conn == nil {
		return false
	}
	select {
	case v.drop <- struct{}{}:
	default:
	}
	return true
}

// publishAll sends the vehicle's messages, paced as the plan says.
func (v *vehicle) publishAll() {
	p := v.run.plan
	d := newDrive(v.rng)
	topic := "devices/" + v.deviceID + "/messages/events/" + eventProperties
	interval := seconds(p.IntervalS)
	next := time.Now()
	if p.IntervalS > 0 {
		next = next.Add(time.Duration(v.rng.Float64() * float64(interval)))
	}
	last := time.Now()
	for seq := 1; p.MessagesPerVehicle == 0 || seq <= p.MessagesPerVehicle; seq++ {
		if !v.waitTurn(next) {
			return
		}
		if p.IntervalS > 0 {
			next = next.Add(interval)
			if now := time.Now(); next.Before(now) {
				next = now
			}
		}
		now := time.Now()
		d.step(v.rng, now.Sub(last).Seconds())
		last = now
		size := p.MessageBytesMin + v.rng.IntN(p.MessageBytesMax-p.MessageBytesMin+1)
		buf := messagePool.Get().(*[]byte)
		*buf = appendMessage((*buf)[:0], v.deviceID, seq, now, &d, v.rng, size)
		delivered := v.deliver(topic, *buf)
		messagePool.Put(buf)
		if !delivered {
			return
		}
	}
}

// messagePool holds message buffers: a vehicle needs one only while its message is in flight.
var messagePool = sync.Pool{New: func() any { b := make([]byte, 0, 2304); return &b }}

// waitTurn waits until the vehicle may send (its next interval, its slot of the fleet's rate, or at once),
// pinging to keep an idle connection alive and reconnecting one that was dropped meanwhile; false when
// the run's sending time is over.
func (v *vehicle) waitTurn(next time.Time) bool {
	run := v.run
	if run.pacer != nil {
		next = run.pacer.slot()
	}
	for {
		if run.send.Err() != nil {
			return false
		}
		conn := v.current()
		if conn == nil {
			if !v.reconnect() {
				return false
			}
			continue
		}
		if time.Until(next) <= 0 {
			return true
		}
		if turn, ok := v.waitOnce(conn, next); ok {
			return turn
		}
	}
}

// waitOnce waits for the vehicle's turn, a dropped connection or the keep-alive ping, whichever comes
// first; ok is false when the caller must look again (after a ping or a drop).
func (v *vehicle) waitOnce(conn *Conn, next time.Time) (turn, ok bool) {
	due := time.NewTimer(time.Until(next))
	defer due.Stop()
	keepalive := time.NewTimer(time.Until(conn.lastWrite.Add(seconds(float64(v.run.plan.KeepaliveS) * 0.75))))
	defer keepalive.Stop()
	select {
	case <-v.run.send.Done():
		return false, true
	case <-due.C:
		return true, true
	case <-v.drop:
	case <-keepalive.C:
		if err := conn.Ping(answerTimeout); err != nil {
			v.lose(conn)
		}
	}
	return false, false
}

// reconnect brings back a lost connection within the acknowledgement timeout.
func (v *vehicle) reconnect() bool {
	return v.connect(time.Now().Add(seconds(v.run.plan.AckTimeoutS)), true)
}

// deliver publishes one message at QoS 1 until a PUBACK comes back, reconnecting and resending (with
// DUP set) when the connection is lost, for at most the plan's acknowledgement timeout.
func (v *vehicle) deliver(topic string, payload []byte) bool {
	s := v.run.stats
	s.sent.Add(1)
	first, steady := time.Now(), s.fleetConnected()
	deadline := first.Add(seconds(v.run.plan.AckTimeoutS))
	dup := false
	for {
		conn := v.current()
		if conn == nil {
			if !v.connect(deadline, true) {
				s.gaveUp.Add(1)
				return false
			}
			continue
		}
		if dup {
			s.resent.Add(1)
		}
		id := conn.PacketID()
		err := conn.Publish(topic, payload, 1, id, dup)
		if err == nil {
			_, err = conn.ReadUntil(deadline, func(pk packet) bool { return isPuback(pk, id) })
		}
		if err == nil {
			s.Acknowledged(time.Since(first), steady)
			return true
		}
		v.lose(conn)
		dup = true
		if !time.Now().Before(deadline) {
			s.gaveUp.Add(1)
			s.Refuse(fmt.Sprintf("hub: no PUBACK within %gs", v.run.plan.AckTimeoutS))
			return false
		}
	}
}

// recoverable is whether a device SDK retries after err: network and transport errors yes; a refused
// CONNECT or a TLS refusal (certificate, CA) no.
func recoverable(err error) bool {
	var refused ConnackError
	if errors.As(err, &refused) {
		return refused.Code == 3 // server unavailable
	}
	var verify *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	var alert tls.AlertError
	if errors.As(err, &verify) || errors.As(err, &unknown) || errors.As(err, &alert) {
		return false
	}
	return !strings.Contains(err.Error(), "remote error: tls:")
}

// describe is an error as a summary's reason: the same text for every vehicle it befalls (no addresses).
func describe(err error) string {
	var refused ConnackError
	var verify *tls.CertificateVerificationError
	var netErr net.Error
	switch {
	case errors.As(err, &refused):
		return refused.Error()
	case errors.As(err, &verify):
		return "server certificate: " + verify.Err.Error()
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET), errors.Is(err, net.ErrClosed):
		return "connection closed"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "timeout"
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return op.Err.Error()
	}
	return err.Error()
}

// sleep waits d unless ctx ends first.
func sleep(ctx context.Context, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}
