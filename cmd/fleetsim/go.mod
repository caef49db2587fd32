module autocloud.local/cmd/fleetsim

go 1.26.0

require (
	github.com/mochi-mqtt/server/v2 v2.7.9
	golang.org/x/time v0.16.0
)

require (
	github.com/gorilla/websocket v1.5.0 // indirect
	github.com/rs/xid v1.4.0 // indirect
)
