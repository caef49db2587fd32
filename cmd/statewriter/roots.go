package main

// The image the toolchain builds holds this binary and nothing else (autocloud/runtime/images.py): no
// /etc/ssl/certs. On Azure every connection is TLS checked against the system's roots: Event Hubs' Kafka
// endpoint (kafka.go), Cosmos DB (store_cosmos.go) and Entra ID's token endpoint for the workload
// identity. Without roots each fails with "certificate signed by unknown authority". This package embeds
// Mozilla's root set and hands it to crypto/x509 as fallback roots, used only where the system has
// none ("This allows the application to work correctly even if the operating system does not provide
// a verifier or system roots pool", https://pkg.go.dev/golang.org/x/crypto/x509roots/fallback; keep it
// up to date, as that page asks). Locally nothing the writer dials uses TLS, so nothing changes there.
import _ "golang.org/x/crypto/x509roots/fallback"
