//go:build tools

// Package tools pins the Pulumi CLI module so `go build` can build its command from this wrapper,
// where the upstream replace directives (which Go ignores in dependencies) are restated.
package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
