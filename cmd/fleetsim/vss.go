package main

// Messages shaped like Vehicle Signal Specification signals (COVESA VSS,
// https://github.com/COVESA/vehicle_signal_specification, spec/), nested the way the VSS tree is
// (Vehicle.Powertrain.TractionBattery.StateOfCharge.Current is {"Vehicle":{"Powertrain":{...}}}): the
// state writer stores top-level fields whose names hold no '.', so a nested object reaches the store
// whole where a flat "Vehicle.Speed" key would be dropped (cmd/statewriter/store.go, messageFields).
// The battery's per-cell voltages (TractionBattery.CellVoltage.CellVoltages, a float array in VSS)
// take up the rest of each message's drawn size.

import (
	"math"
	"math/rand/v2"
	"strconv"
	"time"
)

const (
	minMessageBytes = 512
	maxMessageBytes = 256 << 10 // IoT Hub's device-to-cloud message limit is 256 KB
)

// drive is a vehicle's simulated state, moved along with every message.
type drive struct {
	lat, lon, heading, speed, soc, odometer float64
}

func newDrive(rng *rand.Rand) drive {
	return drive{lat: 48.0 + rng.Float64(), lon: 11.0 + rng.Float64(), heading: rng.Float64() * 360,
		speed: 30 + rng.Float64()*70, soc: 40 + rng.Float64()*55, odometer: 10000 + rng.Float64()*90000}
}

func (d *drive) step(rng *rand.Rand, dt float64) {
	d.speed = math.Max(0, math.Min(160, d.speed+rng.NormFloat64()*4))
	km := d.speed * dt / 3600
	d.odometer += km
	d.heading = math.Mod(d.heading+rng.NormFloat64()*5+360, 360)
	rad := d.heading * math.Pi / 180
	d.lat += km / 111.0 * math.Cos(rad)
	d.lon += km / (111.0 * math.Cos(d.lat*math.Pi/180)) * math.Sin(rad)
	d.soc = math.Max(5, d.soc-km*0.18)
}

// appendMessage appends one JSON message of size bytes (more only if the fixed signals take more).
func appendMessage(b []byte, vehicle string, seq int, now time.Time, d *drive, rng *rand.Rand, size int) []byte {
	start := len(b)
	f := func(name string, v float64, prec int) {
		b = append(b, '"')
		b = append(b, name...)
		b = append(b, '"', ':')
		b = strconv.AppendFloat(b, v, 'f', prec, 64)
	}
	b = append(b, `{"vehicleId":"`...)
	b = append(b, vehicle...)
	b = append(b, `","seq":`...)
	b = strconv.AppendInt(b, int64(seq), 10)
	b = append(b, `,"ts":`...)
	b = strconv.AppendInt(b, now.UnixMilli(), 10)
	b = append(b, `,"Vehicle":{`...)
	f("Speed", d.speed, 1)
	b = append(b, ',')
	f("TraveledDistance", d.odometer, 2)
	b = append(b, `,"CurrentLocation":{`...)
	f("Latitude", d.lat, 6)
	b = append(b, ',')
	f("Longitude", d.lon, 6)
	b = append(b, ',')
	f("Heading", d.heading, 1)
	b = append(b, `,"Timestamp":"`...)
	b = now.UTC().AppendFormat(b, time.RFC3339)
	b = append(b, `"},"Cabin":{"HVAC":{`...)
	f("AmbientAirTemperature", 18+rng.Float64()*6, 1)
	b = append(b, `,"Station":{"Row1":{"Driver":{`...)
	f("Temperature", 21, 1)
	b = append(b, `}}}}},"Powertrain":{"TractionBattery":{"StateOfCharge":{`...)
	f("Current", d.soc, 2)
	b = append(b, `},`...)
	f("CurrentVoltage", 390+d.soc*0.4+rng.Float64(), 1)
	b = append(b, ',')
	f("CurrentCurrent", -d.speed*0.9-rng.Float64()*10, 1)
	b = append(b, `,"CellVoltage":{"CellVoltages":[`...)
	const tail = `]}}}}}`
	for i := 0; len(b)-start+len(tail)+6 <= size || i == 0; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendFloat(b, 3.6+d.soc/500+rng.Float64()*0.02, 'f', 3, 64)
	}
	// The last voltage takes the few bytes a whole one would overshoot as further digits: exactly size.
	for gap := size - (len(b) - start + len(tail)); gap > 0; gap-- {
		b = append(b, byte('0'+rng.IntN(10)))
	}
	return append(b, tail...)
}
