module autocloud.local/toolchain/pause

go 1.26.0
