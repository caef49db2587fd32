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
}

// Routes is the whole file: which hub (region, scale unit) this broker plays and where each source goes.
type Routes struct {
	Region    string  `json:"region"`
	ScaleUnit int     `json:"scaleUnit"`
	Routes    []Route `json:"routes"`
}

// Plan is the validated form the broker runs on: one Kafka endpoint and a topic per source.
type Plan struct {
	HubName   string
	Bootstrap string            // empty when nothing is routed (a region without event streaming)
	Topics    map[string]string // source -> Kafka topic
}

// TopicList is every distinct topic, in a stable order, to create at start.
func (p Plan) TopicList() []string {
	var out []string
	for _, source := range []string{sourceDeviceMessages, sourceLifecycle, sourceConnectionState} {
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
	plan := Plan{HubName: fmt.Sprintf("%s-telemetry-%d", routes.Region, routes.ScaleUnit), Topics: map[string]string{}}
	for _, route := range routes.Routes {
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
		if _, dup := plan.Topics[route.Source]; dup {
			return Plan{}, fmt.Errorf("routes: route %q: a second route for source %s", route.Name, route.Source)
		}
		plan.Bootstrap = bootstrap
		plan.Topics[route.Source] = route.Topic
	}
	return plan, nil
}
