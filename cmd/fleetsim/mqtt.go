package main

// A minimal MQTT 3.1.1 client (http://docs.oasis-open.org/mqtt/mqtt/v3.1.1/os/mqtt-v3.1.1-os.html), only
// what a vehicle sends to DPS and IoT Hub: CONNECT, SUBSCRIBE, PUBLISH at QoS 0/1, PUBACK, PINGREQ,
// DISCONNECT. It is synchronous: the vehicle's own goroutine writes a packet and reads the answer, so a
// connection costs one goroutine, its TLS state and a small read buffer, not the several goroutines and
// queues a general-purpose client keeps per connection: that is what lets 10,000 of them fit here.

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// MQTT 3.1.1 control packet types (section 2.2.1).
const (
	typeConnect    = 1
	typeConnack    = 2
	typePublish    = 3
	typePuback     = 4
	typeSubscribe  = 8
	typeSuback     = 9
	typePingreq    = 12
	typePingresp   = 13
	typeDisconnect = 14
)

// maxIncoming bounds what the client accepts from a server (DPS answers are a few hundred bytes).
const maxIncoming = 64 << 10

// connackCodes are CONNACK's return codes (section 3.2.2.3).
var connackCodes = map[byte]string{
	1: "unacceptable protocol version", 2: "identifier rejected", 3: "server unavailable",
	4: "bad user name or password", 5: "not authorized",
}

// ConnackError is a CONNECT the server refused.
type ConnackError struct{ Code byte }

func (e ConnackError) Error() string {
	return fmt.Sprintf("CONNACK %d (%s)", e.Code, connackCodes[e.Code])
}

// Conn is one MQTT connection over TLS.
type Conn struct {
	conn   net.Conn
	r      *bufio.Reader
	nextID uint16
	// lastWrite is when a packet was last sent, for keep-alive.
	lastWrite time.Time
}

// packet is a received control packet: its first byte and its body.
type packet struct {
	header byte
	body   []byte
}

func (p packet) kind() byte { return p.header >> 4 }

// Dial opens TLS to addr and runs CONNECT/CONNACK within timeout; a refused CONNECT is a ConnackError.
func Dial(ctx context.Context, addr string, config *tls.Config, clientID, username string, keepalive int,
	timeout time.Duration) (*Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	dialer := net.Dialer{}
	raw, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	secure := tls.Client(raw, config)
	deadline, _ := ctx.Deadline()
	_ = secure.SetDeadline(deadline)
	if err := secure.HandshakeContext(ctx); err != nil {
		_ = raw.Close()
		return nil, err
	}
	c := &Conn{conn: secure, r: bufio.NewReaderSize(secure, 256)}
	if err := c.write(connectPacket(clientID, username, keepalive)); err != nil {
		_ = c.Close()
		return nil, err
	}
	ack, err := c.read()
	if err == nil && (ack.kind() != typeConnack || len(ack.body) != 2) {
		err = fmt.Errorf("expected CONNACK, got packet type %d", ack.kind())
	}
	if err == nil && ack.body[1] != 0 {
		err = ConnackError{ack.body[1]}
	}
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	_ = secure.SetDeadline(time.Time{})
	return c, nil
}

// Close drops the connection without DISCONNECT, as a lost network does.
func (c *Conn) Close() error { return c.conn.Close() }

// Disconnect says goodbye and closes.
func (c *Conn) Disconnect() {
	_ = c.conn.SetWriteDeadline(time.Now().Add(time.Second))
	_ = c.write([]byte{typeDisconnect << 4, 0})
	_ = c.conn.Close()
}

// PacketID is the next packet identifier (never 0, section 2.3.1).
func (c *Conn) PacketID() uint16 {
	c.nextID++
	if c.nextID == 0 {
		c.nextID = 1
	}
	return c.nextID
}

// Subscribe subscribes to filter at QoS 1 and waits for the SUBACK.
func (c *Conn) Subscribe(filter string, timeout time.Duration) error {
	id := c.PacketID()
	body := binary.BigEndian.AppendUint16(nil, id)
	body = appendString(body, filter)
	body = append(body, 1)
	if err := c.write(frame(typeSubscribe<<4|0x02, body)); err != nil {
		return err
	}
	_ = c.conn.SetReadDeadline(time.Now().Add(timeout))
	defer func() { _ = c.conn.SetReadDeadline(time.Time{}) }()
	for {
		p, err := c.read()
		if err != nil {
			return err
		}
		if p.kind() == typeSuback && len(p.body) >= 3 && binary.BigEndian.Uint16(p.body) == id {
			if p.body[2] == 0x80 {
				return fmt.Errorf("SUBACK refused %s", filter)
			}
			return nil
		}
	}
}

// Publish sends a PUBLISH; for QoS 1 with id, dup marks a resend (section 3.3.1.1).
func (c *Conn) Publish(topic string, payload []byte, qos byte, id uint16, dup bool) error {
	buf := publishPool.Get().(*[]byte)
	defer publishPool.Put(buf)
	header := byte(typePublish<<4) | qos<<1
	if dup {
		header |= 0x08
	}
	size := 2 + len(topic) + len(payload)
	if qos > 0 {
		size += 2
	}
	b := appendHeader((*buf)[:0], header, size)
	b = appendString(b, topic)
	if qos > 0 {
		b = binary.BigEndian.AppendUint16(b, id)
	}
	b = append(b, payload...)
	*buf = b
	return c.write(b)
}

var publishPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// Ping sends PINGREQ and waits for PINGRESP within timeout.
func (c *Conn) Ping(timeout time.Duration) error {
	if err := c.write([]byte{typePingreq << 4, 0}); err != nil {
		return err
	}
	_ = c.conn.SetReadDeadline(time.Now().Add(timeout))
	defer func() { _ = c.conn.SetReadDeadline(time.Time{}) }()
	for {
		p, err := c.read()
		if err != nil {
			return err
		}
		if p.kind() == typePingresp {
			return nil
		}
	}
}

// ReadUntil reads packets until match accepts one or the deadline passes; a QoS 1 PUBLISH from the
// server is acknowledged on the way.
func (c *Conn) ReadUntil(deadline time.Time, match func(packet) bool) (packet, error) {
	_ = c.conn.SetReadDeadline(deadline)
	defer func() { _ = c.conn.SetReadDeadline(time.Time{}) }()
	for {
		p, err := c.read()
		if err != nil {
			return p, err
		}
		if p.kind() == typePublish && (p.header>>1)&3 == 1 {
			if _, id, _, err := parsePublish(p); err == nil {
				_ = c.write(append([]byte{typePuback << 4, 2}, byte(id>>8), byte(id)))
			}
		}
		if match(p) {
			return p, nil
		}
	}
}

func (c *Conn) write(b []byte) error {
	_, err := c.conn.Write(b)
	c.lastWrite = time.Now()
	return err
}

func (c *Conn) read() (packet, error) {
	header, err := c.r.ReadByte()
	if err != nil {
		return packet{}, err
	}
	size, err := readLength(c.r)
	if err != nil {
		return packet{}, err
	}
	if size > maxIncoming {
		return packet{}, fmt.Errorf("packet of %d bytes from the server", size)
	}
	body := make([]byte, size)
	if _, err := io.ReadFull(c.r, body); err != nil {
		return packet{}, err
	}
	return packet{header, body}, nil
}

// parsePublish splits a received PUBLISH into topic, packet id (QoS > 0) and payload.
func parsePublish(p packet) (string, uint16, []byte, error) {
	b := p.body
	if len(b) < 2 {
		return "", 0, nil, errors.New("short PUBLISH")
	}
	n := int(binary.BigEndian.Uint16(b))
	if len(b) < 2+n {
		return "", 0, nil, errors.New("short PUBLISH topic")
	}
	topic, rest := string(b[2:2+n]), b[2+n:]
	var id uint16
	if (p.header>>1)&3 > 0 {
		if len(rest) < 2 {
			return "", 0, nil, errors.New("PUBLISH without packet id")
		}
		id, rest = binary.BigEndian.Uint16(rest), rest[2:]
	}
	return topic, id, rest, nil
}

// isPuback tells whether p acknowledges id.
func isPuback(p packet, id uint16) bool {
	return p.kind() == typePuback && len(p.body) == 2 && binary.BigEndian.Uint16(p.body) == id
}

func connectPacket(clientID, username string, keepalive int) []byte {
	body := appendString(nil, "MQTT")
	body = append(body, 4) // protocol level 3.1.1
	flags := byte(0x02)    // clean session
	if username != "" {
		flags |= 0x80
	}
	body = append(body, flags)
	body = binary.BigEndian.AppendUint16(body, uint16(keepalive))
	body = appendString(body, clientID)
	if username != "" {
		body = appendString(body, username)
	}
	return frame(typeConnect<<4, body)
}

func frame(header byte, body []byte) []byte {
	return append(appendHeader(make([]byte, 0, len(body)+5), header, len(body)), body...)
}

// appendHeader appends the fixed header with the remaining length (section 2.2.3).
func appendHeader(b []byte, header byte, size int) []byte {
	b = append(b, header)
	for {
		digit := byte(size % 128)
		size /= 128
		if size > 0 {
			digit |= 0x80
		}
		b = append(b, digit)
		if size == 0 {
			return b
		}
	}
}

func readLength(r io.ByteReader) (int, error) {
	size, shift := 0, 0
	for i := 0; i < 4; i++ {
		digit, err := r.ReadByte()
		if err != nil {
			return 0, err
		}
		size |= int(digit&0x7f) << shift
		if digit&0x80 == 0 {
			return size, nil
		}
		shift += 7
	}
	return 0, errors.New("malformed remaining length")
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

func hostOf(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return host
}
