package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.mongodb.org/mongo-driver/v2/bson"
)

func TestPlanMergesInOffsetOrderAndCountsOnlyWhatIsNotHeld(t *testing.T) {
	u := Update{Vehicle: "v1", OffsetKey: OffsetKey{Unit: "unit-1", Partition: 0, TopicID: "B"}, Records: []Record{
		record(5, map[string]any{"speedKmh": 5.0, "door": "open"}),
		record(6, map[string]any{"speedKmh": 6.0, "fuel": 0.5}),
		record(7, map[string]any{"speedKmh": 7.0}),
		record(9, map[string]any{"door": "closed"}),
	}}
	// No document: every record counts; later values win, each field from the last record that has it.
	c := plan(u, nil)
	if c.applied != 4 || c.offset != 9 || c.seen.Nanosecond() != 9 || len(c.drop) != 0 ||
		fmt.Sprint(c.fields) != "map[door:closed fuel:0.5 speedKmh:7]" {
		t.Fatalf("no document: %+v", c)
	}
	// The document holds up to offset 6 under this key: 7 and 9 are new, 5 and 6 are not merged again.
	stored := map[string]int64{
		"unit-1-0@B": 6,
		"unit-1-0":   40,                                                    // the same partition before keys carried topic IDs
		"unit-1-0@A": 90,                                                    // the same partition under the topic's previous ID
		"unit-1-1@B": 3, "unit-1-10@B": 3, "unit-10-0@B": 3, "unit-1-01": 3, // other partitions and units
	}
	c = plan(u, stored)
	if c.applied != 2 || c.offset != 9 || fmt.Sprint(c.fields) != "map[door:closed speedKmh:7]" {
		t.Fatalf("partly held: %+v, want 2 applied (7 and 9)", c)
	}
	if strings.Join(c.drop, ",") != "unit-1-0,unit-1-0@A" {
		t.Fatalf("drop %v, want only this partition's keys under no or another topic ID", c.drop)
	}
	// Held entirely: nothing to write, nothing dropped.
	stored["unit-1-0@B"] = 9
	if c = plan(u, stored); c.applied != 0 || c.drop != nil || c.fields != nil {
		t.Fatalf("held: %+v, want no change", c)
	}
}

// The newest record is decoded whole and an older one only for the fields the newer lack, which must come
// out as a whole decode would give them; the writer's own fields stay out whichever record holds them.
func TestMergedFieldsTakeFromOlderRecordsOnlyWhatTheNewerLack(t *testing.T) {
	got := mergedFields([]Record{
		record(1, map[string]any{"Vehicle": map[string]any{"Speed": 1.0}, "cells": []any{3.5, 3.6}, "messages": 9.0}),
		record(2, map[string]any{"Vehicle": map[string]any{"Speed": 2.0}, "_etag": "x", "door": nil}),
		record(3, map[string]any{"Vehicle": map[string]any{"Speed": 3.0, "Gear": 4.0}, "$set": 1.0}),
	})
	if want := "map[Vehicle:map[Gear:4 Speed:3] cells:[3.5 3.6] door:<nil>]"; fmt.Sprint(got) != want {
		t.Fatalf("merged %v, want %s", got, want)
	}
	if len(mergedFields(nil)) != 0 {
		t.Fatal("no records, yet fields")
	}
}

// Only a valid JSON object is a telemetry record; anything else is skipped as bad, never written.
func TestParseRecordTakesOnlyJSONObjects(t *testing.T) {
	for value, ok := range map[string]bool{
		`{"speedKmh":1}`: true, " \n\t{}": true,
		"null": false, "[1]": false, `"text"`: false, "7": false, `{"a":`: false, "": false, "   ": false,
	} {
		_, err := parseRecord(&kgo.Record{Key: []byte("v1"), Value: []byte(value)})
		if (err == nil) != ok || (err != nil && !errors.Is(err, errBadRecord)) {
			t.Errorf("%q: err %v, want accepted %v", value, err, ok)
		}
	}
}

func TestMongoUpdateSetsCountsAndDropsInOneDocument(t *testing.T) {
	u := Update{Vehicle: "v1", OffsetKey: OffsetKey{Unit: "a", Partition: 2, TopicID: "B"}}
	seen := time.Date(2026, 5, 1, 12, 0, 0, 0, time.FixedZone("CEST", 2*3600))
	got := mongoUpdate(u, change{applied: 3, fields: map[string]any{"speedKmh": 7.0}, seen: seen, offset: 9,
		drop: []string{"a-2", "a-2@A"}})
	want := bson.M{
		"$set":   bson.M{"speedKmh": 7.0, "vehicleId": "v1", "lastSeen": seen.UTC(), "offsets.a-2@B": int64(9)},
		"$inc":   bson.M{"messages": 3},
		"$unset": bson.M{"offsets.a-2": "", "offsets.a-2@A": ""},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("update\n%v\nwant\n%v", got, want)
	}
	if _, unset := mongoUpdate(u, change{applied: 1, fields: map[string]any{}})["$unset"]; unset {
		t.Fatal("an $unset with nothing to drop")
	}
}

// fetched is a poll's result: partitions of topic ID id, each a list of keys (offsets 0, 1, ...).
func fetched(id [16]byte, partitions ...[]string) kgo.Fetches {
	topic := kgo.FetchTopic{Topic: topic, TopicID: id}
	for p, keys := range partitions {
		fp := kgo.FetchPartition{Partition: int32(p)}
		for o, key := range keys {
			value := fmt.Sprintf(`{"speedKmh":%d}`, o)
			if key == "bad" {
				key, value = "v9", "not json"
			}
			fp.Records = append(fp.Records, &kgo.Record{Topic: topic.Topic, Partition: int32(p), Offset: int64(o),
				Key: []byte(key), Value: []byte(value)})
		}
		topic.Partitions = append(topic.Partitions, fp)
	}
	return kgo.Fetches{{Topics: []kgo.FetchTopic{topic}}}
}

func testWriter(prefix string) *Writer {
	return &Writer{log: slog.New(slog.NewTextHandler(io.Discard, nil)), prefix: []byte(prefix)}
}

func TestCollectGroupsAPollByVehicleAndPartition(t *testing.T) {
	w := testWriter("")
	id := [16]byte{15: 1}
	ids := map[string]string{}
	b := w.collect("a", fetched(id,
		[]string{"v1", "v2", "v1", "v1", "bad", "v2", "v1"},
		[]string{"v1", "v3"},
	), ids)
	var got []string
	for _, u := range b.updates {
		var offsets []string
		for _, r := range u.Records {
			offsets = append(offsets, fmt.Sprint(r.Offset))
		}
		got = append(got, u.Vehicle+"@"+u.OffsetKey.String()+":"+strings.Join(offsets, ","))
	}
	want := "v1@a-0@AAAAAAAAAAAAAAAAAAAAAQ:0,2,3,6 v2@a-0@AAAAAAAAAAAAAAAAAAAAAQ:1,5 " +
		"v1@a-1@AAAAAAAAAAAAAAAAAAAAAQ:0 v3@a-1@AAAAAAAAAAAAAAAAAAAAAQ:1"
	if strings.Join(got, " ") != want {
		t.Fatalf("updates\n%s\nwant\n%s", strings.Join(got, " "), want)
	}
	if s := w.Stats(); b.records != 9 || s.Errors != 1 {
		t.Fatalf("%d records, stats %+v; want 9, and 1 error (the record that is not JSON)", b.records, s)
	}
	if ids[topic] != "AAAAAAAAAAAAAAAAAAAAAQ" {
		t.Fatalf("topic IDs %v", ids)
	}

	// What may be committed when only the first n updates were written (the store stopped, or the
	// writer was stopped, in the middle of a poll): per partition, up to the first record not written.
	for n, want := range map[int]string{
		0: "",        // v1 holds partition 0's first record, v1@1 partition 1's
		1: "0:0",     // v2 (offset 1) is not written
		2: "0:6",     // all of partition 0 (the bad record needs no write)
		3: "0:6 1:0", // v3 (partition 1, offset 1) is not written
		4: "0:6 1:1", // everything
	} {
		var got []string
		for _, r := range b.committable(n) {
			got = append(got, fmt.Sprintf("%d:%d", r.Partition, r.Offset))
		}
		if strings.Join(got, " ") != want {
			t.Fatalf("%d written: commit %v, want %s", n, got, want)
		}
	}
}

func TestCollectPassesOverOtherBrandsAndNoticesANewTopicID(t *testing.T) {
	var logged strings.Builder
	w := testWriter("alpha-")
	w.log = slog.New(slog.NewTextHandler(&logged, nil))
	ids := map[string]string{topic: "AAAAAAAAAAAAAAAAAAAAAQ"}
	b := w.collect("a", fetched([16]byte{15: 2}, []string{"alpha-1", "beta-1", "alpha-1"}), ids)
	if len(b.updates) != 1 || len(b.updates[0].Records) != 2 || w.Stats().Foreign != 1 {
		t.Fatalf("updates %+v, stats %+v: want alpha-1's two records, beta-1 foreign", b.updates, w.Stats())
	}
	if got := b.committable(0); len(got) != 0 {
		t.Fatalf("commit %v before alpha-1 was written", got)
	}
	want := "unit a: topic telemetry recreated (id AAAAAAAAAAAAAAAAAAAAAQ -> AAAAAAAAAAAAAAAAAAAAAg); consuming from its start"
	if !strings.Contains(logged.String(), want) || ids[topic] != "AAAAAAAAAAAAAAAAAAAAAg" {
		t.Fatalf("log %q, ids %v: want %q", logged.String(), ids, want)
	}
	// Without topic IDs (a cluster older than Kafka 3.1) the key is the unit and partition alone.
	b = w.collect("a", fetched([16]byte{}, []string{"alpha-2"}), ids)
	if key := b.updates[0].OffsetKey.String(); key != "a-0" {
		t.Fatalf("key %q, want a-0", key)
	}
}

func TestRetryBackoffIsCappedAtOneSecond(t *testing.T) {
	var got []string
	for _, fails := range []int{0, 1, 2, 3, 10, 64, 1000} {
		got = append(got, retryBackoff(fails).String())
	}
	if strings.Join(got, " ") != "250ms 250ms 500ms 1s 1s 1s 1s" {
		t.Fatalf("backoffs %v", got)
	}
}
