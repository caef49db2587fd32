package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"
)

// batch is one poll's records grouped for the store: one Update per vehicle and partition, so a
// vehicle that sent a hundred records since the last poll costs one write, not a hundred.
type batch struct {
	updates []Update
	// partitions holds each fetched partition's records in offset order, each with the index in
	// updates of the Update that carries it, or -1 when there is nothing to write (another brand's
	// vehicle, or a record no retry can store).
	partitions [][]pending
	records    int // how many the poll held
}

type pending struct {
	record *kgo.Record
	update int
}

var errBadRecord = errors.New("bad record")

// committable is, for each partition, its last record such that it and every record before it need
// no write or are in the first `written` updates: committing more would skip a record not yet stored
// (at-least-once), committing less replays what the stored offsets then pass over.
func (b batch) committable(written int) []*kgo.Record {
	var out []*kgo.Record
	for _, records := range b.partitions {
		var last *kgo.Record
		for _, p := range records {
			if p.update >= written {
				break
			}
			last = p.record
		}
		if last != nil {
			out = append(out, last)
		}
	}
	return out
}

// collect groups a poll's records by vehicle and partition, in the order they first appear. A topic
// fetched under another ID than before is logged as recreated; topicIDs keeps the last ID per topic.
func (w *Writer) collect(unit string, fetches kgo.Fetches, topicIDs map[string]string) batch {
	var b batch
	index := map[string]int{}
	fetches.EachTopic(func(t kgo.FetchTopic) {
		id := topicID(t.TopicID)
		for _, p := range t.Partitions {
			if len(p.Records) == 0 {
				continue
			}
			if id != "" {
				if old := topicIDs[t.Topic]; old != "" && old != id {
					w.recreated(unit, t.Topic, old, id)
				}
				topicIDs[t.Topic] = id
			}
			key := OffsetKey{Unit: unit, Partition: p.Partition, TopicID: id}
			records := make([]pending, 0, len(p.Records))
			for _, r := range p.Records {
				b.records++
				records = append(records, pending{r, w.place(&b, index, unit, key, r)})
			}
			b.partitions = append(b.partitions, records)
		}
	})
	return b
}

// place adds r to its vehicle's Update in b and returns that Update's index, or -1 when r is not to be
// written.
func (w *Writer) place(b *batch, index map[string]int, unit string, key OffsetKey, r *kgo.Record) int {
	if len(w.prefix) > 0 && !bytes.HasPrefix(r.Key, w.prefix) {
		w.foreign.Add(1)
		return -1
	}
	record, err := parseRecord(r)
	if err != nil {
		// Retrying cannot fix it, and holding it would stop the partition for good.
		w.errors.Add(1)
		w.log.Warn("skipped", "unit", unit, "partition", r.Partition, "offset", r.Offset, "err", err)
		return -1
	}
	vehicle := string(r.Key)
	k := vehicle + "\x00" + key.String()
	i, ok := index[k]
	if !ok {
		i = len(b.updates)
		index[k] = i
		b.updates = append(b.updates, Update{Vehicle: vehicle, OffsetKey: key})
	}
	b.updates[i].Records = append(b.updates[i].Records, record)
	return i
}

// parseRecord reads a telemetry record: the key is the vehicle id, the value a JSON object.
func parseRecord(r *kgo.Record) (Record, error) {
	if len(r.Key) == 0 {
		return Record{}, fmt.Errorf("%w: no key (the vehicle id)", errBadRecord)
	}
	// Checked whole here (valid JSON whose value is an object), decoded when applied.
	if !json.Valid(r.Value) {
		return Record{}, fmt.Errorf("%w: not JSON", errBadRecord)
	}
	if trimmed := bytes.TrimLeft(r.Value, " \t\r\n"); trimmed[0] != '{' {
		return Record{}, fmt.Errorf("%w: not a JSON object", errBadRecord)
	}
	return Record{Offset: r.Offset, Seen: r.Timestamp, Value: r.Value}, nil
}
