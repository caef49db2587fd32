package main

import (
	"math"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// histogram keeps durations in buckets of under 1% relative width, so p50/p99 of millions of
// acknowledgements cost a few kilobytes rather than a slice of every sample.
type histogram struct {
	mu     sync.Mutex
	counts []uint64
	n      uint64
	max    time.Duration
}

const histSub = 7 // 2^7 buckets per power of two

func histIndex(us uint64) int {
	if us < 1<<(histSub+1) {
		return int(us)
	}
	e := bits.Len64(us) - histSub - 1
	return 1<<(histSub+1) + (e-1)<<histSub + int(us>>e) - 1<<histSub
}

// histLow is the smallest value of bucket i.
func histLow(i int) uint64 {
	if i < 1<<(histSub+1) {
		return uint64(i)
	}
	i -= 1 << (histSub + 1)
	e := i>>histSub + 1
	return uint64(i&(1<<histSub-1)+1<<histSub) << e
}

func (h *histogram) Record(d time.Duration) {
	us := uint64(max(d, 0) / time.Microsecond)
	i := histIndex(us)
	h.mu.Lock()
	if i >= len(h.counts) {
		h.counts = append(h.counts, make([]uint64, i+1-len(h.counts))...)
	}
	h.counts[i]++
	h.n++
	h.max = max(h.max, d)
	h.mu.Unlock()
}

// Quantile is the nearest-rank q quantile in milliseconds (the bucket's lower bound), NaN when empty.
func (h *histogram) Quantile(q float64) float64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.n == 0 {
		return math.NaN()
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(float64(histLow(i))/1000, ms(h.max))
		}
	}
	return ms(h.max)
}

func (h *histogram) Max() float64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return ms(h.max)
}

func (h *histogram) Count() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Stats is the run's shared counters.
type Stats struct {
	started       time.Time
	registered    atomic.Int64
	lastRegistry  atomic.Int64 // ns since start of the latest registration
	connected     atomic.Int64
	everConnected atomic.Int64
	arrived       atomic.Int64 // vehicles that connected for the first time or gave up before they ever did
	fleetAt       atomic.Int64 // ns from the start until the last vehicle arrived; 0 until then
	sent          atomic.Int64
	acknowledged  atomic.Int64
	resent        atomic.Int64
	reconnects    atomic.Int64
	gaveUp        atomic.Int64
	latency       histogram
	// steady holds the latencies of messages first sent once every vehicle of the fleet had connected:
	// the load itself, without the connection ramp's thousands of TLS handshakes at once.
	steady       histogram
	fleet        int64
	registration histogram
	connect      histogram
	stormReturn  histogram
	stormDropped atomic.Int64
	refusedMu    sync.Mutex
	refused      map[string]int64
	assignMu     sync.Mutex
	assignments  map[string]string
	memory       memoryWatch
}

func newStats(fleet int) *Stats {
	return &Stats{started: time.Now(), fleet: int64(fleet), refused: map[string]int64{}, assignments: map[string]string{}}
}

// firstConnected counts a vehicle's first connection.
func (s *Stats) firstConnected() {
	s.everConnected.Add(1)
	s.arrive()
}

// neverConnected counts a vehicle that gave up before its first connection (refused by DPS or its hub, no
// certificate): the fleet is complete without it, so one refusal does not hold the steady window shut.
func (s *Stats) neverConnected() { s.arrive() }

// arrive notes when the last vehicle of the fleet has connected or given up.
func (s *Stats) arrive() {
	if s.arrived.Add(1) == s.fleet {
		s.fleetAt.Store(int64(max(time.Since(s.started), 1)))
	}
}

// fleetConnected is whether every vehicle of the run has connected at least once, or given up before it did.
func (s *Stats) fleetConnected() bool { return s.arrived.Load() >= s.fleet }

// Acknowledged counts a message acknowledged took after its first send; steady says that send came
// after the whole fleet had connected.
func (s *Stats) Acknowledged(took time.Duration, steady bool) {
	s.acknowledged.Add(1)
	s.latency.Record(took)
	if steady {
		s.steady.Record(took)
	}
}

func (s *Stats) Refuse(reason string) {
	s.refusedMu.Lock()
	s.refused[reason]++
	s.refusedMu.Unlock()
}

func (s *Stats) refusedCopy() (map[string]int64, int64) {
	s.refusedMu.Lock()
	defer s.refusedMu.Unlock()
	out, total := make(map[string]int64, len(s.refused)), int64(0)
	for k, v := range s.refused {
		out[k], total = v, total+v
	}
	return out, total
}

func (s *Stats) Registered(vehicle, hub string, took time.Duration) {
	s.registered.Add(1)
	s.lastRegistry.Store(int64(time.Since(s.started)))
	s.registration.Record(took)
	s.assignMu.Lock()
	s.assignments[vehicle] = hub
	s.assignMu.Unlock()
}

// memoryWatch remembers the memory in use when the most vehicles were connected, against a baseline
// taken before the first connection, for a figure per 1,000 connections.
type memoryWatch struct {
	mu            sync.Mutex
	baseline      uint64
	peakConnected int64
	atPeak        uint64
	maxSys        uint64
}

func inUse(m *runtime.MemStats) uint64 { return m.HeapInuse + m.StackInuse }

func (w *memoryWatch) Baseline() {
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	w.mu.Lock()
	w.baseline, w.maxSys = inUse(&m), m.Sys
	w.mu.Unlock()
}

// Sample records the memory in use; at a new peak of connections it collects garbage first, so the
// figure is what the connections hold rather than what the collector has not yet reclaimed.
func (w *memoryWatch) Sample(connected int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	peak := connected > 0 && connected > w.peakConnected
	if peak {
		runtime.GC()
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	w.maxSys = max(w.maxSys, m.Sys)
	if peak {
		w.peakConnected, w.atPeak = connected, inUse(&m)
	}
}

// Memory is the summary's memory figures.
type Memory struct {
	PeakConnected int64   `json:"peak_connected"`
	InUseMB       float64 `json:"in_use_mb"`
	BaselineMB    float64 `json:"baseline_mb"`
	MaxSysMB      float64 `json:"max_sys_mb"`
	PerThousandMB float64 `json:"mb_per_1000_connections"`
}

func (w *memoryWatch) Report() Memory {
	w.mu.Lock()
	defer w.mu.Unlock()
	const mb = 1 << 20
	out := Memory{PeakConnected: w.peakConnected, InUseMB: round2(float64(w.atPeak) / mb),
		BaselineMB: round2(float64(w.baseline) / mb), MaxSysMB: round2(float64(w.maxSys) / mb)}
	if w.peakConnected > 0 && w.atPeak > w.baseline {
		out.PerThousandMB = round2(float64(w.atPeak-w.baseline) / mb / float64(w.peakConnected) * 1000)
	}
	return out
}

func round2(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return math.Round(v*100) / 100
}

// Progress is one line written every second.
type Progress struct {
	Type         string  `json:"type"`
	ElapsedS     float64 `json:"elapsed_s"`
	Registered   int64   `json:"registered"`
	Connected    int64   `json:"connected"`
	Sent         int64   `json:"sent"`
	Acknowledged int64   `json:"acknowledged"`
	InFlight     int64   `json:"in_flight"`
	Reconnects   int64   `json:"reconnects"`
	Refused      int64   `json:"refused"`
	AckPerSecond float64 `json:"ack_per_second"`
}

func (s *Stats) Progress(lastAcked int64, every time.Duration) Progress {
	_, refused := s.refusedCopy()
	acked := s.acknowledged.Load()
	sent := s.sent.Load()
	return Progress{Type: "progress", ElapsedS: round2(time.Since(s.started).Seconds()),
		Registered: s.registered.Load(), Connected: s.connected.Load(), Sent: sent, Acknowledged: acked,
		InFlight: sent - acked - s.gaveUp.Load(), Reconnects: s.reconnects.Load(), Refused: refused,
		AckPerSecond: round2(float64(acked-lastAcked) / every.Seconds())}
}

// Summary is the final line.
type Summary struct {
	Type           string           `json:"type"`
	Vehicles       int              `json:"vehicles"`
	Connected      int64            `json:"connected"`
	Sent           int64            `json:"sent"`
	Acknowledged   int64            `json:"acknowledged"`
	Unacknowledged int64            `json:"unacknowledged"`
	Resent         int64            `json:"resent"`
	Reconnects     int64            `json:"reconnects"`
	Refused        map[string]int64 `json:"refused"`
	LatencyMsP50   float64          `json:"latency_ms_p50"`
	LatencyMsP99   float64          `json:"latency_ms_p99"`
	LatencyMsMax   float64          `json:"latency_ms_max"`
	SteadyMessages uint64           `json:"steady_messages"`
	SteadyMsP50    *float64         `json:"steady_latency_ms_p50"`
	SteadyMsP99    *float64         `json:"steady_latency_ms_p99"`
	// SteadySeconds is how long the fleet sent once every vehicle had connected, SteadyMessagesPS the
	// acknowledged steady messages over it: the sustained rate, without the connection ramp.
	SteadySeconds     *float64          `json:"steady_seconds"`
	SteadyMessagesPS  *float64          `json:"steady_messages_per_second"`
	Registrations     int64             `json:"registrations"`
	RegistrationsPS   float64           `json:"registrations_per_second"`
	RegistrationMsP50 float64           `json:"registration_ms_p50"`
	RegistrationMsP99 float64           `json:"registration_ms_p99"`
	ConnectMsP50      float64           `json:"hub_connect_ms_p50"`
	ConnectMsP99      float64           `json:"hub_connect_ms_p99"`
	MessagesPS        float64           `json:"messages_per_second"`
	Seconds           float64           `json:"seconds"`
	Storm             *StormReport      `json:"storm,omitempty"`
	Memory            Memory            `json:"memory"`
	Assignments       map[string]string `json:"assignments,omitempty"`
}

// StormReport is how the reconnect storm went: how many connections were dropped, how many came back,
// and how long after the drop.
type StormReport struct {
	Dropped        int64   `json:"dropped"`
	Reconnected    uint64  `json:"reconnected"`
	ReconnectMsP50 float64 `json:"reconnect_ms_p50"`
	ReconnectMsP99 float64 `json:"reconnect_ms_p99"`
	ReconnectMsMax float64 `json:"reconnect_ms_max"`
	WithinS        float64 `json:"within_s"`
	AllWithin      bool    `json:"all_within"`
}

func (s *Stats) Summary(p *Plan, elapsed time.Duration) Summary {
	refused, _ := s.refusedCopy()
	acked := s.acknowledged.Load()
	out := Summary{Type: "summary", Vehicles: len(p.Vehicles), Connected: s.everConnected.Load(),
		Sent: s.sent.Load(), Acknowledged: acked, Unacknowledged: s.sent.Load() - acked,
		Resent: s.resent.Load(), Reconnects: s.reconnects.Load(), Refused: refused,
		LatencyMsP50: round2(s.latency.Quantile(0.5)), LatencyMsP99: round2(s.latency.Quantile(0.99)),
		LatencyMsMax: round2(s.latency.Max()), Registrations: s.registered.Load(),
		RegistrationMsP50: round2(s.registration.Quantile(0.5)), RegistrationMsP99: round2(s.registration.Quantile(0.99)),
		ConnectMsP50: round2(s.connect.Quantile(0.5)), ConnectMsP99: round2(s.connect.Quantile(0.99)),
		MessagesPS: round2(float64(acked) / elapsed.Seconds()), Seconds: round2(elapsed.Seconds()),
		Memory: s.memory.Report()}
	if out.SteadyMessages = s.steady.Count(); out.SteadyMessages > 0 {
		p50, p99 := round2(s.steady.Quantile(0.5)), round2(s.steady.Quantile(0.99))
		out.SteadyMsP50, out.SteadyMsP99 = &p50, &p99
	}
	if from := time.Duration(s.fleetAt.Load()); from > 0 {
		end := elapsed
		if sending := seconds(p.DurationS); p.DurationS > 0 && sending < end {
			end = sending
		}
		if window := (end - from).Seconds(); window > 0 {
			held, rate := round2(window), round2(float64(out.SteadyMessages)/window)
			out.SteadySeconds, out.SteadyMessagesPS = &held, &rate
		}
	}
	if last := time.Duration(s.lastRegistry.Load()); last > 0 {
		out.RegistrationsPS = round2(float64(out.Registrations) / last.Seconds())
	}
	if p.Scenario == scenarioStorm {
		dropped := s.stormDropped.Load()
		back := s.stormReturn.Count()
		out.Storm = &StormReport{Dropped: dropped, Reconnected: back,
			ReconnectMsP50: round2(s.stormReturn.Quantile(0.5)), ReconnectMsP99: round2(s.stormReturn.Quantile(0.99)),
			ReconnectMsMax: round2(s.stormReturn.Max()), WithinS: p.Storm.WithinS}
		out.Storm.AllWithin = dropped > 0 && int64(back) == dropped && s.stormReturn.Max() <= p.Storm.WithinS*1000
	}
	if p.ReportAssignments {
		s.assignMu.Lock()
		out.Assignments = make(map[string]string, len(s.assignments))
		for k, v := range s.assignments {
			out.Assignments[k] = v
		}
		s.assignMu.Unlock()
	}
	return out
}
