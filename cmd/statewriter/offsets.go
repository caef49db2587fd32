package main

import "sync"

// writtenOffsets remembers the offset each vehicle's document holds under an offset key, as this writer
// last wrote it, so that the next write of the same vehicle and partition need not read the document
// first: on FerretDB that read is a query of its own beside the update's, and at a fleet's load most
// writes are a vehicle's next record on the same partition.
//
// What it remembers is right only while this writer owns the partition, for then nothing else writes
// that key. So the writer forgets a unit's offsets whenever its partitions are revoked or lost
// (partitionsLeft), and a vehicle's when a write of it fails (it may have landed or not). A write that
// was under way while its unit was forgotten is not remembered (the epoch moved on).
type writtenOffsets struct {
	mu    sync.Mutex
	epoch map[string]uint64           // per unit, raised each time it is forgotten
	known map[string]map[string]int64 // per unit: vehicle and offset key -> offset
}

// rememberedMax bounds what one unit remembers; beyond it the unit starts over (reads again once).
const rememberedMax = 1 << 20

func newWrittenOffsets() *writtenOffsets {
	return &writtenOffsets{epoch: map[string]uint64{}, known: map[string]map[string]int64{}}
}

func rememberedKey(u Update) string { return u.Vehicle + "\x00" + u.OffsetKey.String() }

// lookup returns the offsets u's document holds as far as plan needs them (u's key only: superseded keys
// were dropped by the write remembered) and whether they are known, with the unit's epoch to remember
// the write under.
func (o *writtenOffsets) lookup(u Update) (map[string]int64, uint64, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	unit := u.OffsetKey.Unit
	offset, ok := o.known[unit][rememberedKey(u)]
	if !ok {
		return nil, o.epoch[unit], false
	}
	return map[string]int64{u.OffsetKey.String(): offset}, o.epoch[unit], true
}

// remember records that u's document now holds offset under u's key, unless the unit was forgotten
// since epoch.
func (o *writtenOffsets) remember(u Update, offset int64, epoch uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	unit := u.OffsetKey.Unit
	if o.epoch[unit] != epoch {
		return
	}
	known := o.known[unit]
	if known == nil || len(known) >= rememberedMax {
		known = map[string]int64{}
		o.known[unit] = known
	}
	known[rememberedKey(u)] = offset
}

// forgetVehicle drops what is remembered of u's document under u's key.
func (o *writtenOffsets) forgetVehicle(u Update) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.known[u.OffsetKey.Unit], rememberedKey(u))
}

// partitionsLeft forgets everything remembered of the unit: some of its partitions have another owner
// now, or will have.
func (o *writtenOffsets) partitionsLeft(unit string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.epoch[unit]++
	delete(o.known, unit)
}
