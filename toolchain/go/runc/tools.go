//go:build tools

// Package tools pins runc; its module root is the runc command.
package tools

import _ "github.com/opencontainers/runc"
