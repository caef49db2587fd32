package main

import (
	"fmt"
	"testing"
)

func TestParseEventsTopic(t *testing.T) {
	cases := map[string]string{
		"devices/v1/messages/events/":                   "[]",
		"devices/v1/messages/events":                    "[]",
		"devices/v1/messages/events/seq=5&kind=gps":     "[{kind gps} {seq 5}]",
		"devices/v1/messages/events/%24.mid=m1&a=b%20c": "[{message-id m1} {a b c}]",
	}
	for topic, want := range cases {
		props, err := ParseEventsTopic("v1", topic)
		if err != nil || fmt.Sprint(props) != want && !(want == "[]" && props == nil) {
			t.Errorf("%s: got %v %v, want %s", topic, props, err, want)
		}
	}
	for _, topic := range []string{"devices/v2/messages/events/", "devices/v1/messages/eventsx", "devices/v10/messages/events/",
		"devices/v1/messages/events/a=%zz"} {
		if _, err := ParseEventsTopic("v1", topic); err == nil {
			t.Errorf("%s accepted", topic)
		}
	}
}

func TestValidDeviceID(t *testing.T) {
	for _, id := range []string{"v1", "VIN-WDB123.4_5", "a:b@c=$'"} {
		if !ValidDeviceID(id) {
			t.Errorf("%q refused", id)
		}
	}
	for _, id := range []string{"", "a/b", "a+b", "a#b", "a b", string(make([]byte, 129))} {
		if ValidDeviceID(id) {
			t.Errorf("%q accepted", id)
		}
	}
}

func TestParsePlanRefusesWhatItCannotHonour(t *testing.T) {
	bad := []string{
		`{"region":"eu","scaleUnit":1,"routes":[{"name":"t","source":"TwinChangeEvents","endpoint":"kafka://k:9092","topic":"t"}]}`,
		`{"region":"eu","scaleUnit":1,"routes":[{"name":"t","source":"DeviceMessages","endpoint":"http://k","topic":"t"}]}`,
		`{"region":"eu","scaleUnit":1,"routes":[{"name":"t","source":"DeviceMessages","endpoint":"kafka://a:1","topic":"t"},` +
			`{"name":"e","source":"DeviceLifecycleEvents","endpoint":"kafka://b:1","topic":"e"}]}`,
	}
	for _, data := range bad {
		if _, err := ParsePlan([]byte(data)); err == nil {
			t.Errorf("accepted %s", data)
		}
	}
	plan, err := ParsePlan([]byte(`{"region":"eu","scaleUnit":2,"routes":[]}`))
	if err != nil || plan.Bootstrap != "" || plan.HubName != "eu-telemetry-2" {
		t.Errorf("no routes: %+v %v", plan, err)
	}
}
