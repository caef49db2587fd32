package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// Routing sources, named as IoT Hub names them; the component writes them into routes.json.
const (
	sourceDeviceMessages  = "DeviceMessages"
	sourceLifecycle       = "DeviceLifecycleEvents"
	sourceConnectionState = "DeviceConnectionStateEvents"
)

// Route is one entry of routes.json (components/local/telemetry.py, routes_json).
type Route struct {
	Name     string `json:"name"`
	Source   string `json:"source"`
	Endpoint string `json:"endpoint"`
	Topic    string `json:"topic"`
	// DeviceIDPrefix is the route's condition: only messages of devices whose id starts with it (a brand's
	// vehicles), as IoT Hub's STARTS_WITH($connectionDeviceId, '<prefix>'); empty: every device ("true").
	DeviceIDPrefix string `json:"deviceIdPrefix,omitempty"`
	// Partitions of the topic when this broker creates it; 0: the --partitions default.
	Partitions int32 `json:"partitions,omitempty"`
}

// TelemetryRoute is one device-message route: messages of devices whose id starts with Prefix go to Topic.
type TelemetryRoute struct {
	Name   string
	Prefix string
	Topic  string
}

// Routes is the whole file: which hub (region, scale unit) this broker plays and where each source goes.
type Routes struct {
	Region    string  `json:"region"`
	ScaleUnit int     `json:"scaleUnit"`
	Routes    []Route `json:"routes"`
}

// Plan is the validated form the broker runs on: one Kafka endpoint, the device-message routes and a topic
// per hub-event source.
type Plan struct {
	HubName    string
	Bootstrap  string            // empty when nothing is routed (a region without event streaming)
	Telemetry  []TelemetryRoute  // device-message routes, in file order
	Topics     map[string]string // lifecycle and connection-state source -> Kafka topic
	Partitions map[string]int32  // topic -> partitions a route asked for (others: the --partitions default)
}

// TelemetryTopics are the distinct topics a message of device goes to: every route whose condition it
// matches, once per topic, as IoT Hub delivers a message to each matching route's endpoint (once per endpoint).
// None: no route takes it (IoT Hub's fallback route, which has no Kafka counterpart here).
func (p Plan) TelemetryTopics(device string) []string {
	var out []string
	for _, route := range p.Telemetry {
		if strings.HasPrefix(device, route.Prefix) && !contains(out, route.Topic) {
			out = append(out, route.Topic)
		}
	}
	return out
}

// TopicList is every distinct topic, in a stable order, to create at start.
func (p Plan) TopicList() []string {
	var out []string
	for _, route := range p.Telemetry {
		if !contains(out, route.Topic) {
			out = append(out, route.Topic)
		}
	}
	for _, source := range []string{sourceLifecycle, sourceConnectionState} {
		topic, ok := p.Topics[source]
		if ok && !contains(out, topic) {
			out = append(out, topic)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, item := range list {
		if item == s {
			return true
		}
	}
	return false
}

// LoadPlan reads routes.json; a route this broker cannot honour is an error at start, not a silent drop.
func LoadPlan(path string) (Plan, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Plan{}, fmt.Errorf("routes: %w", err)
	}
	return ParsePlan(data)
}

// ParsePlan validates the routes file's content.
func ParsePlan(data []byte) (Plan, error) {
	var routes Routes
	if err := json.Unmarshal(data, &routes); err != nil {
		return Plan{}, fmt.Errorf("routes: %w", err)
	}
	plan := Plan{HubName: fmt.Sprintf("%s-telemetry-%d", routes.Region, routes.ScaleUnit),
		Topics: map[string]string{}, Partitions: map[string]int32{}}
	names := map[string]bool{}
	for _, route := range routes.Routes {
		if names[route.Name] {
			return Plan{}, fmt.Errorf("routes: a second route named %q", route.Name)
		}
		names[route.Name] = true
		switch route.Source {
		case sourceDeviceMessages, sourceLifecycle, sourceConnectionState:
		default:
			return Plan{}, fmt.Errorf("routes: route %q: source %q is not one of %s, %s, %s",
				route.Name, route.Source, sourceDeviceMessages, sourceLifecycle, sourceConnectionState)
		}
		bootstrap, ok := strings.CutPrefix(route.Endpoint, "kafka://")
		if !ok || bootstrap == "" {
			return Plan{}, fmt.Errorf("routes: route %q: endpoint %q is not kafka://host:port", route.Name, route.Endpoint)
		}
		if plan.Bootstrap != "" && plan.Bootstrap != bootstrap {
			return Plan{}, fmt.Errorf("routes: route %q: endpoint %q differs from %q (one Kafka per scale unit)",
				route.Name, route.Endpoint, "kafka://"+plan.Bootstrap)
		}
		if route.Topic == "" {
			return Plan{}, fmt.Errorf("routes: route %q: no topic", route.Name)
		}
		if route.Partitions < 0 {
			return Plan{}, fmt.Errorf("routes: route %q: partitions %d", route.Name, route.Partitions)
		}
		if asked, ok := plan.Partitions[route.Topic]; ok && route.Partitions > 0 && asked != route.Partitions {
			return Plan{}, fmt.Errorf("routes: route %q: topic %s asked for %d and %d partitions",
				route.Name, route.Topic, asked, route.Partitions)
		}
		plan.Bootstrap = bootstrap
		if route.Partitions > 0 {
			plan.Partitions[route.Topic] = route.Partitions
		}
		if route.Source == sourceDeviceMessages {
			plan.Telemetry = append(plan.Telemetry, TelemetryRoute{Name: route.Name, Prefix: route.DeviceIDPrefix, Topic: route.Topic})
			continue
		}
		// Hub events are routed whole here: a condition on them is one this broker does not evaluate.
		if route.DeviceIDPrefix != "" {
			return Plan{}, fmt.Errorf("routes: route %q: a device id condition on %s is not supported", route.Name, route.Source)
		}
		if _, dup := plan.Topics[route.Source]; dup {
			return Plan{}, fmt.Errorf("routes: route %q: a second route for source %s", route.Name, route.Source)
		}
		plan.Topics[route.Source] = route.Topic
	}
	return plan, nil
}
