package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"io"
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

// Run is one load run: the plan, what every vehicle shares, and its counters.
type Run struct {
	plan   *Plan
	stats  *Stats
	roots  *x509.CertPool
	issuer *Issuer
	pacer  *Pacer
	// handshakes holds a slot per TLS handshake in progress (Plan.HandshakeConcurrency).
	handshakes chan struct{}
	// send ends when vehicles stop sending new messages; hard when everything stops.
	send, hard context.Context
	vehicles   []*vehicle
}

// Execute drives the plan's fleet, writing progress lines to out every ProgressEveryS and the summary
// line last; the summary is also returned.
func Execute(ctx context.Context, p *Plan, out io.Writer) (Summary, error) {
	stats := newStats(len(p.Vehicles))
	stats.memory.Baseline()
	roots, err := ServerRoots(p.ServerCAPEM)
	if err != nil {
		return Summary{}, err
	}
	run := &Run{plan: p, stats: stats, roots: roots, handshakes: make(chan struct{}, p.HandshakeConcurrency)}
	if p.FleetCA != nil && p.FleetCA.Cert != "" {
		lifetime := seconds(p.DurationS+p.AckTimeoutS) + time.Hour
		if run.issuer, err = LoadIssuer(p.FleetCA.Cert, p.FleetCA.Key, time.Now().Add(lifetime)); err != nil {
			return Summary{}, err
		}
	}
	lines := &lineWriter{enc: json.NewEncoder(out)}
	started := time.Now()
	stats.started = started
	send, stopSending := context.WithTimeout(ctx, seconds(p.DurationS))
	defer stopSending()
	hard, stop := context.WithTimeout(ctx, seconds(p.DurationS+p.AckTimeoutS)+30*time.Second)
	defer stop()
	run.send, run.hard = send, hard
	if p.Rate > 0 {
		run.pacer = NewPacer(p.Rate)
	}
	var wg sync.WaitGroup
	for i, cfg := range p.Vehicles {
		v := newVehicle(cfg, run, uint64(started.UnixNano())+uint64(i))
		run.vehicles = append(run.vehicles, v)
		wg.Go(v.drive)
	}
	done := make(chan struct{})
	go run.report(lines, done)
	if p.Scenario == scenarioStorm {
		go run.storm(send)
	}
	wg.Wait()
	close(done)
	stats.memory.Sample(stats.connected.Load())
	summary := stats.Summary(p, time.Since(started))
	lines.write(summary)
	return summary, lines.err
}

// report writes a progress line every ProgressEveryS until done.
func (r *Run) report(lines *lineWriter, done <-chan struct{}) {
	every := seconds(r.plan.ProgressEveryS)
	ticker := time.NewTicker(every)
	defer ticker.Stop()
	var acked int64
	for {
		select {
		case <-done:
			return
		case <-ticker.C:
			r.stats.memory.Sample(r.stats.connected.Load())
			line := r.stats.Progress(acked, every)
			acked = line.Acknowledged
			lines.write(line)
		}
	}
}

// storm drops Storm.Fraction of the connected vehicles at once, Storm.AtS into the run.
func (r *Run) storm(send context.Context) {
	if !sleep(send, seconds(r.plan.Storm.AtS)) {
		return
	}
	var connected []*vehicle
	for _, v := range r.vehicles {
		if v.current() != nil {
			connected = append(connected, v)
		}
	}
	rand.Shuffle(len(connected), func(i, j int) { connected[i], connected[j] = connected[j], connected[i] })
	n := int(math.Ceil(r.plan.Storm.Fraction * float64(len(connected))))
	for _, v := range connected[:n] {
		if v.dropNow() {
			r.stats.stormDropped.Add(1)
		}
	}
}

// lineWriter writes JSON lines from several goroutines.
type lineWriter struct {
	mu  sync.Mutex
	enc *json.Encoder
	err error
}

func (w *lineWriter) write(v any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.enc.Encode(v); err != nil && w.err == nil {
		w.err = err
	}
}
