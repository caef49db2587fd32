package main

import (
	"context"
	"time"
)

// Pacer hands out send slots at rate per second across the whole fleet; a vehicle takes one when it is
// ready to send, so the rate is a ceiling that acknowledgements can still hold the fleet under.
type Pacer struct{ slots chan struct{} }

// NewPacer starts issuing slots until ctx ends.
func NewPacer(ctx context.Context, rate float64) *Pacer {
	p := &Pacer{slots: make(chan struct{})}
	interval := time.Duration(float64(time.Second) / rate)
	go func() {
		next := time.Now()
		for {
			if wait := time.Until(next); wait > time.Millisecond {
				select {
				case <-ctx.Done():
					return
				case <-time.After(wait):
				}
			}
			select {
			case <-ctx.Done():
				return
			case p.slots <- struct{}{}:
			}
			// A slot no vehicle could take for a while is not made up for later in a burst.
			next = next.Add(interval)
			if behind := time.Now().Add(-100 * time.Millisecond); next.Before(behind) {
				next = behind
			}
		}
	}()
	return p
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
