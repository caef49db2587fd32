//go:build tools

// Package tools pins kube-router, run here only as the NetworkPolicy firewall.
package tools

import _ "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router"
