module github.com/tensor-box/tensor-box/packages/envd

go 1.24.0

require (
	connectrpc.com/connect v1.19.1
	github.com/creack/pty v1.1.24
	github.com/fsnotify/fsnotify v1.10.1
	google.golang.org/protobuf v1.36.11
)

require golang.org/x/sys v0.13.0
