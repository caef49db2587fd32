package main

// IoT Hub's device side of MQTT 3.1.1, as documented in "Communicate with an IoT hub using the MQTT
// protocol" (https://learn.microsoft.com/azure/iot/iot-mqtt-connect-to-iot-hub): the client id is the
// device id, a device sends device-to-cloud messages to devices/{device-id}/messages/events/ optionally
// followed by a URL-encoded property bag, QoS 2 is not supported (the hub closes the connection), and
// system properties travel in the bag as $.mid, $.cid, $.ct, $.ce.

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
)

const maxDeviceIDLength = 128

// deviceIDPunctuation is what IoT Hub allows in a device id besides ASCII letters and digits.
const deviceIDPunctuation = "-.%_*?!(),:=@$'"

// ValidDeviceID applies IoT Hub's device id rules, which also keep MQTT wildcards and '/' out of topics.
func ValidDeviceID(id string) bool {
	if id == "" || len(id) > maxDeviceIDLength {
		return false
	}
	for _, r := range id {
		isAlnum := (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
		if !isAlnum && !strings.ContainsRune(deviceIDPunctuation, r) {
			return false
		}
	}
	return true
}

// Property is one message property, forwarded as a Kafka header.
type Property struct {
	Key   string
	Value string
}

// systemProperties maps the bag's IoT Hub system property names to the names routed messages carry.
var systemProperties = map[string]string{
	"$.mid": "message-id",
	"$.cid": "correlation-id",
	"$.ct":  "content-type",
	"$.ce":  "content-encoding",
}

var errForeignTopic = errors.New("not this device's events topic")

// ParseEventsTopic checks that topic is the device's own events topic and returns its property bag,
// sorted by key so a record's headers do not depend on map order.
func ParseEventsTopic(device, topic string) ([]Property, error) {
	prefix := "devices/" + device + "/messages/events"
	rest, ok := strings.CutPrefix(topic, prefix)
	if !ok {
		return nil, errForeignTopic
	}
	if rest == "" || rest == "/" {
		return nil, nil
	}
	bag, ok := strings.CutPrefix(rest, "/")
	if !ok {
		return nil, errForeignTopic
	}
	values, err := url.ParseQuery(bag)
	if err != nil {
		return nil, fmt.Errorf("property bag %q: %w", bag, err)
	}
	keys := make([]string, 0, len(values))
	for key := range values {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	props := make([]Property, 0, len(keys))
	for _, key := range keys {
		name := key
		if system, ok := systemProperties[key]; ok {
			name = system
		}
		for _, value := range values[key] {
			props = append(props, Property{name, value})
		}
	}
	return props, nil
}
