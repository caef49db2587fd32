package main

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Pacer spreads the fleet's sends at rate per second: a vehicle ready to send reserves the next slot and
// sends at its time, so the rate is a ceiling that acknowledgements can still hold the fleet under.
//
// A slot is taken when it is reserved, not when its vehicle gets to run: on cores the hubs saturate, a
// vehicle that wakes late still sends its own slot's message (late), and the fleet keeps its rate. A
// pacer that handed slots out from a goroutine of its own lost every slot while that goroutine waited for
// a core (5,860 of 6,000/s delivered).
type Pacer struct {
	mu      sync.Mutex
	limiter *rate.Limiter
	now     func() time.Time // time.Now; tests set a clock of their own
}

// makeUpFor is how long a stretch of slots no vehicle was ready to take is made up for later, in a burst.
const makeUpFor = 100 * time.Millisecond

// NewPacer paces at rate sends per second.
func NewPacer(perSecond float64) *Pacer {
	burst := max(1, int(perSecond*makeUpFor.Seconds()))
	return &Pacer{limiter: rate.NewLimiter(rate.Limit(perSecond), burst), now: time.Now}
}

// slot reserves the next send and returns when it is due. The clock is read under the pacer's lock, so the
// limiter sees its reservations in time order: asked at a time before its last reservation's, x/time/rate
// moves its last time back (Limiter.advance, reserveN) and counts the stretch in between again, so vehicles
// racing for it with clock readings of their own were granted slots beyond the rate (311 sends in 3 s at
// 100/s with a burst of 10).
func (p *Pacer) slot() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	return now.Add(p.limiter.ReserveN(now, 1).DelayFrom(now))
}

// backoff is the device SDKs' default retry policy, "Exponential back-off with jitter"
// (https://learn.microsoft.com/azure/iot/concepts-manage-device-reconnections, "Retry patterns"), with the
// constants and formula of the Node SDK's requirements
// (https://github.com/Azure/azure-iot-sdk-node/blob/main/common/core/devdoc/retry_policy_requirements.md,
// SRS_NODE_COMMON_RETRY_POLICY_16_007 and _009): "F(x) = min(Cmin+ (2^(x-1)-1) * rand(C * (1 – Jd),
// C*(1-Ju)), Cmax" with c = 100, cMin = 100, cMax = 10000 (ms), ju = 0.25, jd = 0.5. x is the retry, from 1.
func backoff(retry int, random func() float64) time.Duration {
	const c, cMin, cMax, ju, jd = 100.0, 100.0, 10000.0, 0.25, 0.5
	if retry < 1 {
		retry = 1
	}
	low, high := c*(1-jd), c*(1-ju)
	growth := float64(uint64(1)<<min(retry-1, 30)) - 1
	ms := min(cMin+growth*(low+random()*(high-low)), cMax)
	return time.Duration(ms * float64(time.Millisecond))
}

// reprovisionAfter is how many reconnections in a row may fail before the vehicle registers with DPS
// again: "For errors that indicate a retry is possible, but reconnection has failed 10 consecutive times:
// Reprovision the device to DPS" (the same page, "Hub with DPS reconnection flow").
const reprovisionAfter = 10
