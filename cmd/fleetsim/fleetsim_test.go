package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestMain lets a test run this very binary as the fleetsim command (a child process), so memory is
// measured for the generator alone and the stdin/stdout interface is exercised as the Python side uses it.
func TestMain(m *testing.M) {
	if os.Getenv("FLEETSIM_AS_COMMAND") == "1" {
		os.Exit(cli(nil, os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func execute(t *testing.T, p *Plan) (Summary, []Progress) {
	t.Helper()
	if err := p.check(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	summary, err := Execute(context.Background(), p, &out)
	if err != nil {
		t.Fatal(err)
	}
	return summary, progressLines(t, out.String())
}

func progressLines(t *testing.T, out string) []Progress {
	t.Helper()
	var lines []Progress
	scanner := bufio.NewScanner(strings.NewReader(out))
	for scanner.Scan() {
		var kind struct{ Type string }
		if err := json.Unmarshal(scanner.Bytes(), &kind); err != nil {
			t.Fatalf("not a JSON line: %q", scanner.Text())
		}
		if kind.Type == "progress" {
			var line Progress
			_ = json.Unmarshal(scanner.Bytes(), &line)
			lines = append(lines, line)
		}
	}
	return lines
}

func TestSteadyLoadAtAFixedRate(t *testing.T) {
	r := startRegion(t)
	p := r.plan(t, 40)
	p.Rate, p.DurationS = 100, 3
	summary, progress := execute(t, p)
	if summary.Registrations != 40 || r.dps.registrations.Load() != 40 || summary.Connected != 40 {
		t.Fatalf("registered %d (DPS saw %d), connected %d; want 40", summary.Registrations, r.dps.registrations.Load(),
			summary.Connected)
	}
	// 100 messages/s for 3 s, less the time the fleet took to connect: never more than the rate allows.
	if summary.Sent > 310 || summary.Sent < 150 {
		t.Errorf("sent %d at 100/s for 3 s", summary.Sent)
	}
	if summary.Acknowledged != summary.Sent || summary.Unacknowledged != 0 || len(summary.Refused) != 0 {
		t.Errorf("sent %d, acknowledged %d, refused %v", summary.Sent, summary.Acknowledged, summary.Refused)
	}
	messages, duplicated := r.hub.distinct()
	if int64(messages) != summary.Acknowledged || duplicated != 0 || len(r.hub.bad) != 0 {
		t.Errorf("hub took %d distinct messages (%d twice), generator counts %d acknowledged; bad: %v",
			messages, duplicated, summary.Acknowledged, r.hub.bad)
	}
	for _, size := range r.hub.sizes {
		if size < 512 || size > 2048 {
			t.Fatalf("a message of %d bytes, want 512..2048", size)
		}
	}
	if !(summary.LatencyMsP50 > 0 && summary.LatencyMsP50 <= summary.LatencyMsP99 && summary.LatencyMsP99 <= summary.LatencyMsMax) {
		t.Errorf("latency p50 %g p99 %g max %g", summary.LatencyMsP50, summary.LatencyMsP99, summary.LatencyMsMax)
	}
	if summary.SteadyMessages == 0 || summary.SteadyMessages > uint64(summary.Acknowledged) ||
		summary.SteadyMsP99 == nil || *summary.SteadyMsP99 > summary.LatencyMsMax {
		t.Errorf("steady: %d messages, p99 %s; acknowledged %d, max %g", summary.SteadyMessages,
			orNone(summary.SteadyMsP99), summary.Acknowledged, summary.LatencyMsMax)
	}
	if len(progress) < 4 || progress[len(progress)-1].Acknowledged > summary.Acknowledged {
		t.Errorf("progress lines %+v", progress)
	}
}

func TestFlatOutSendsAsFastAsAcknowledgementsComeBack(t *testing.T) {
	r := startRegion(t)
	p := r.plan(t, 10)
	p.FlatOut, p.DurationS = true, 2
	summary, _ := execute(t, p)
	// One message in flight per vehicle: each waits for its PUBACK, then sends the next at once.
	if summary.Sent < 10*20 {
		t.Errorf("flat out, 10 vehicles sent only %d in 2 s", summary.Sent)
	}
	if summary.Acknowledged != summary.Sent || len(summary.Refused) != 0 {
		t.Errorf("sent %d, acknowledged %d, refused %v", summary.Sent, summary.Acknowledged, summary.Refused)
	}
	if messages, _ := r.hub.distinct(); int64(messages) != summary.Acknowledged {
		t.Errorf("hub took %d distinct messages, generator counts %d", messages, summary.Acknowledged)
	}
}

func TestReconnectStormBringsEveryVehicleBackAndLosesNothing(t *testing.T) {
	loads := map[string]func(*Plan){
		// Most vehicles are between messages when their connection drops: they notice and reconnect.
		"idle between messages": func(p *Plan) { p.IntervalS = 0.5 },
		// Every vehicle has a message in flight: it reconnects and resends it.
		"flat out": func(p *Plan) { p.FlatOut = true },
	}
	for name, load := range loads {
		t.Run(name, func(t *testing.T) {
			r := startRegion(t)
			p := r.plan(t, 50)
			p.Scenario, p.DurationS = scenarioStorm, 4
			p.Storm = StormPlan{AtS: 1.5, WithinS: 60}
			load(p)
			summary, _ := execute(t, p)
			storm := summary.Storm
			if storm == nil || storm.Dropped != 10 || storm.Reconnected != 10 || !storm.AllWithin {
				t.Fatalf("storm %+v, want 10 of 50 dropped and all back within 60 s", storm)
			}
			// The SDK back-off waits at least Cmin (100 ms) before the first retry.
			if storm.ReconnectMsP50 < 100 {
				t.Errorf("reconnected after %g ms, before the back-off's first wait", storm.ReconnectMsP50)
			}
			if summary.Reconnects < 10 || r.hub.connects.Load() != 50+summary.Reconnects {
				t.Errorf("reconnects %d, hub saw %d connections", summary.Reconnects, r.hub.connects.Load())
			}
			if summary.Sent == 0 || summary.Acknowledged != summary.Sent || summary.Unacknowledged != 0 || len(summary.Refused) != 0 {
				t.Fatalf("sent %d, acknowledged %d, refused %v", summary.Sent, summary.Acknowledged, summary.Refused)
			}
			// Every message counted as sent reached the hub; a resent one may have arrived twice.
			messages, duplicated := r.hub.distinct()
			if int64(messages) != summary.Sent || int64(duplicated) > summary.Resent {
				t.Errorf("hub took %d distinct messages (%d more than once) of %d sent, %d resent", messages,
					duplicated, summary.Sent, summary.Resent)
			}
		})
	}
}

func TestRefusalsAreCountedByReason(t *testing.T) {
	r := startRegion(t)
	p := r.plan(t, 3)
	other := newCA(t, "us fleet CA")
	cert, key := other.vehicleFiles(t, "us-vehicle-000001")
	p.Vehicles = append(p.Vehicles,
		Vehicle{ID: "us-vehicle-000001", Cert: cert, Key: key}, // another region's CA: TLS refuses it
		Vehicle{ID: "eu-vehicle-refused"},                      // DPS refuses the registration
		Vehicle{ID: "eu-vehicle-blocked"},                      // the hub refuses the device, even after reprovisioning
		Vehicle{ID: "eu-vehicle-elsewhere"},                    // DPS assigns a hub outside the plan
		Vehicle{ID: "eu-vehicle-cached", Hub: testHub},         // a cached assignment: straight to the hub
	)
	r.dps.refuse["eu-vehicle-refused"] = "400"
	r.hub.refuse["eu-vehicle-blocked"] = true
	p.MessagesPerVehicle, p.FlatOut = 2, true
	summary, _ := execute(t, p)
	want := map[string]int64{
		// Go's TLS client offers no certificate that the server's acceptable CAs do not cover.
		"dps: tls: certificate required": 1,
		"dps: answered 400":              1,
		// mochi answers a 3.1.1 client's refused authentication with return code 5.
		"hub: CONNACK 5 (not authorized)": 1,
		"hub: DPS assigned streaming-1.autocloud-us.svc, which is not among the plan's hubs": 1,
	}
	if len(summary.Refused) != len(want) {
		t.Errorf("refused %v, want %v", summary.Refused, want)
	}
	for reason, n := range want {
		if summary.Refused[reason] != n {
			t.Errorf("refused[%q] = %d, want %d (all: %v)", reason, summary.Refused[reason], n, summary.Refused)
		}
	}
	// The three good vehicles and the cached one send their two messages each; the cached one skips DPS,
	// the blocked one registers twice (the hub refused it, so it went back to DPS once).
	if summary.Sent != 8 || summary.Acknowledged != 8 || summary.Connected != 4 {
		t.Errorf("sent %d, acknowledged %d, connected %d; want 8, 8, 4", summary.Sent, summary.Acknowledged, summary.Connected)
	}
	if got := r.dps.registrations.Load(); got != 3+1+2 {
		t.Errorf("DPS registered %d times, want 6", got)
	}
	// The refused vehicles gave up: the rest of the fleet is all there is, and its steady window starts.
	if summary.SteadySeconds == nil {
		t.Errorf("no steady window though every vehicle connected or gave up")
	}
}

func TestPlanDefaultsAndRefusals(t *testing.T) {
	p, err := ReadPlan(strings.NewReader(`{"dps":{"address":"127.0.0.1:1"},"id_scope":"s",
		"fleet_ca":{"cert":"c","key":"k"},"vehicles":[{"id":"v1"}],"duration_s":5}`))
	if err != nil {
		t.Fatal(err)
	}
	if p.IntervalS != DefaultIntervalS || p.Scenario != scenarioSteady || p.MessageBytesMin != 512 || p.MessageBytesMax != 2048 ||
		p.AckTimeoutS != 60 {
		t.Errorf("defaults %+v", p)
	}
	bad := map[string]string{
		"two load modes":   `{"vehicles":[{"id":"v","hub":"h","cert":"c","key":"k"}],"duration_s":1,"rate":5,"flat_out":true}`,
		"no duration":      `{"vehicles":[{"id":"v","hub":"h","cert":"c","key":"k"}]}`,
		"no DPS":           `{"vehicles":[{"id":"v","cert":"c","key":"k"}],"duration_s":1}`,
		"no certificates":  `{"vehicles":[{"id":"v","hub":"h"}],"duration_s":1}`,
		"unknown scenario": `{"vehicles":[{"id":"v","hub":"h","cert":"c","key":"k"}],"duration_s":1,"scenario":"x"}`,
		"unknown field":    `{"vehicles":[{"id":"v","hub":"h","cert":"c","key":"k"}],"duration_s":1,"rates":5}`,
		"same id twice":    `{"vehicles":[{"id":"v","hub":"h","cert":"c","key":"k"},{"id":"v","hub":"h","cert":"c","key":"k"}],"duration_s":1}`,
	}
	for name, plan := range bad {
		if _, err := ReadPlan(strings.NewReader(plan)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// Messages first sent while the fleet was still connecting count in the run's latency, not the steady one.
func TestSteadyLatencyStartsOnceTheWholeFleetConnected(t *testing.T) {
	s := newStats(2)
	s.firstConnected()
	s.Acknowledged(900*time.Millisecond, s.fleetConnected())
	s.started = s.started.Add(-250 * time.Millisecond) // the second vehicle connects 250 ms in
	s.firstConnected()
	s.Acknowledged(5*time.Millisecond, s.fleetConnected())
	s.Acknowledged(7*time.Millisecond, s.fleetConnected())
	// Sending lasted 1 s (the 1.5 s elapsed include waiting for the last acknowledgements).
	out := s.Summary(&Plan{Vehicles: make([]Vehicle, 2), DurationS: 1}, 1500*time.Millisecond)
	if out.SteadySeconds == nil || *out.SteadySeconds < 0.74 || *out.SteadySeconds > 0.76 || *out.SteadyMessagesPS < 2.6 {
		t.Fatalf("steady for %s s at %s/s, want 0.75 s at 2.67/s", orNone(out.SteadySeconds), orNone(out.SteadyMessagesPS))
	}
	if out.Acknowledged != 3 || out.LatencyMsMax < 899 || out.SteadyMessages != 2 || out.SteadyMsP99 == nil ||
		*out.SteadyMsP99 > 7.1 {
		t.Fatalf("acknowledged %d, max %g; steady %d, p99 %s", out.Acknowledged, out.LatencyMsMax,
			out.SteadyMessages, orNone(out.SteadyMsP99))
	}
	refused := newStats(2)
	refused.firstConnected()
	if refused.neverConnected(); !refused.fleetConnected() || refused.everConnected.Load() != 1 {
		t.Fatalf("a vehicle that gave up holds the fleet open (connected %d)", refused.everConnected.Load())
	}
	if empty := newStats(1).Summary(&Plan{}, time.Second); empty.SteadyMsP50 != nil || empty.SteadyMessages != 0 ||
		empty.SteadySeconds != nil {
		t.Fatalf("no steady message, yet p50 %s", orNone(empty.SteadyMsP50))
	}
}

func orNone(v *float64) string {
	if v == nil {
		return "none"
	}
	return fmt.Sprint(*v)
}

func TestBackoffFollowsTheSDKDefaults(t *testing.T) {
	low, high := func() float64 { return 0 }, func() float64 { return 1 }
	cases := []struct {
		retry    int
		min, max time.Duration
	}{
		{1, 100 * time.Millisecond, 100 * time.Millisecond}, // Cmin + 0
		{2, 150 * time.Millisecond, 175 * time.Millisecond}, // Cmin + 1 * [50, 75]
		{4, 450 * time.Millisecond, 625 * time.Millisecond}, // Cmin + 7 * [50, 75]
		{20, 10 * time.Second, 10 * time.Second},            // capped at Cmax
	}
	for _, c := range cases {
		if got := backoff(c.retry, low); got != c.min {
			t.Errorf("retry %d, low jitter: %v, want %v", c.retry, got, c.min)
		}
		if got := backoff(c.retry, high); got != c.max {
			t.Errorf("retry %d, high jitter: %v, want %v", c.retry, got, c.max)
		}
	}
}

func TestHistogramQuantilesWithinOnePercent(t *testing.T) {
	var h histogram
	rng := rand.New(rand.NewPCG(1, 2))
	var values []float64
	for range 20000 {
		d := time.Duration(rng.ExpFloat64() * float64(20*time.Millisecond))
		h.Record(d)
		values = append(values, float64(d/time.Microsecond)/1000)
	}
	sortFloats(values)
	for _, q := range []float64{0.5, 0.99} {
		exact := values[int(math.Ceil(q*float64(len(values))))-1]
		if got := h.Quantile(q); math.Abs(got-exact) > exact*0.01+0.001 {
			t.Errorf("q%g = %g ms, exact %g ms", q, got, exact)
		}
	}
	if h.Max() < values[len(values)-1] {
		t.Errorf("max %g < %g", h.Max(), values[len(values)-1])
	}
}

func sortFloats(v []float64) {
	for i := 1; i < len(v); i++ {
		for j := i; j > 0 && v[j] < v[j-1]; j-- {
			v[j], v[j-1] = v[j-1], v[j]
		}
	}
}

func TestMessagesAreVSSShapedJSONOfTheDrawnSize(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	d := newDrive(rng)
	for _, size := range []int{512, 1024, 2048} {
		msg := appendMessage(nil, "eu-vehicle-000001", 7, time.Now(), &d, rng, size)
		var decoded map[string]any
		if err := json.Unmarshal(msg, &decoded); err != nil {
			t.Fatalf("size %d: %v: %s", size, err, msg)
		}
		if len(msg) != size {
			t.Errorf("asked %d bytes, got %d", size, len(msg))
		}
		vehicle, _ := decoded["Vehicle"].(map[string]any)
		battery := vehicle["Powertrain"].(map[string]any)["TractionBattery"].(map[string]any)
		if vehicle["Speed"] == nil || battery["StateOfCharge"].(map[string]any)["Current"] == nil ||
			vehicle["Cabin"].(map[string]any)["HVAC"] == nil {
			t.Errorf("missing VSS signals: %s", msg)
		}
	}
}

// BenchmarkMemoryPerThousandConnections holds 2,000 vehicles connected through the command (a child
// process, so its memory is the generator's alone) and reports what 1,000 connections cost. A figure, not
// a check: `make bench` runs it (`go test -run '^$' -bench MemoryPerThousandConnections -benchtime 1x`).
func BenchmarkMemoryPerThousandConnections(b *testing.B) {
	const vehicles = 2000
	r := startRegion(b)
	p := r.plan(b, vehicles)
	for i := range p.Vehicles {
		p.Vehicles[i].Hub = testHub // cached assignments: the figure is about hub connections
	}
	p.DurationS, p.IntervalS, p.ProgressEveryS = 12, 5, 1
	plan, _ := json.Marshal(p)
	for range b.N {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "FLEETSIM_AS_COMMAND=1")
		cmd.Stdin = bytes.NewReader(plan)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			b.Fatalf("fleetsim: %v: %s", err, stderr.String())
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		var summary Summary
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &summary); err != nil || summary.Type != "summary" {
			b.Fatalf("last line %q: %v", lines[len(lines)-1], err)
		}
		if summary.Memory.PeakConnected != vehicles || summary.Acknowledged != summary.Sent || len(summary.Refused) != 0 {
			b.Fatalf("peak %d connected, sent %d, acknowledged %d, refused %v", summary.Memory.PeakConnected,
				summary.Sent, summary.Acknowledged, summary.Refused)
		}
		b.ReportMetric(summary.Memory.PerThousandMB, "MB/1000-connections")
		b.ReportMetric(summary.Memory.InUseMB, "MB-in-use")
	}
}

// TestReadsThePlanPythonWrites parses the plan autocloud/operations/fleetsim.py writes (its unit test
// holds the same file equal to FleetsimPlan.as_json()).
func TestReadsThePlanPythonWrites(t *testing.T) {
	f, err := os.Open("testdata/python-plan.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := ReadPlan(f)
	if err != nil {
		t.Fatal(err)
	}
	cached := p.Vehicles[1]
	hub, ok := p.hubEndpoint("streaming-1.autocloud-eu.svc")
	if p.DPS.Address != "127.0.0.1:40001" || p.IDScope != "0ne00000eu1" || !ok || hub.Address != "127.0.0.1:40002" ||
		p.FleetCA.Key != ".state/fleet/eu/ca-key.pem" || len(p.Vehicles) != 2 || cached.Hub == "" || cached.Cert == "" ||
		p.Rate != 500 || p.IntervalS != 0 || p.MessagesPerVehicle != 20 || p.Scenario != scenarioStorm ||
		p.Storm != (StormPlan{Fraction: 0.2, AtS: 40, WithinS: 60}) || !p.ReportAssignments || !strings.Contains(p.ServerCAPEM, "BEGIN") {
		t.Errorf("plan %+v", p)
	}
}

// TestSummaryLineIsTheFixturesShape holds the summary line's keys, nested ones too, to
// testdata/summary.json, the line autocloud/operations/fleetsim.py's unit test parses.
func TestSummaryLineIsTheFixturesShape(t *testing.T) {
	data, err := os.ReadFile("testdata/summary.json")
	if err != nil {
		t.Fatal(err)
	}
	var fixture map[string]any
	if err := json.Unmarshal(data, &fixture); err != nil {
		t.Fatal(err)
	}
	line, _ := json.Marshal(Summary{Type: "summary", Refused: map[string]int64{"x": 1}, Storm: &StormReport{},
		Assignments: map[string]string{"v": "h"}})
	var ours map[string]any
	_ = json.Unmarshal(line, &ours)
	for _, key := range []string{"", "storm", "memory"} {
		want, got := keysOf(fixture, key), keysOf(ours, key)
		if strings.Join(want, ",") != strings.Join(got, ",") {
			t.Errorf("%q keys: Go writes %v, the Python fixture has %v", key, got, want)
		}
	}
}

func keysOf(m map[string]any, nested string) []string {
	if nested != "" {
		m, _ = m[nested].(map[string]any)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func TestPacerReservesSlotsAtItsRateAndMakesUpOnlyATenthOfASecond(t *testing.T) {
	p := NewPacer(1000)
	start := time.Now()
	clock := start
	p.now = func() time.Time { return clock }
	// At once, 100 slots (0.1 s of the rate) are due now, the next ones a millisecond apart.
	var due []time.Time
	for range 300 {
		due = append(due, p.slot())
	}
	if !due[99].Equal(start) || due[100].Sub(start) != time.Millisecond || due[299].Sub(start) != 200*time.Millisecond {
		t.Fatalf("slots due at +%s, +%s, +%s; want +0, +1ms, +200ms", due[99].Sub(start), due[100].Sub(start), due[299].Sub(start))
	}
	// Ten seconds nobody sent: still only 0.1 s of slots at once.
	later := start.Add(10 * time.Second)
	clock = later
	for range 100 {
		if d := p.slot(); !d.Equal(later) {
			t.Fatalf("a made-up slot is due at +%s", d.Sub(later))
		}
	}
	if d := p.slot(); d.Sub(later) != time.Millisecond {
		t.Fatalf("the slot after the burst is due at +%s, want +1ms", d.Sub(later))
	}
}
