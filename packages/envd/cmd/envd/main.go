// Command envd is the agent inside every Tensor Box sandbox: E2B's envd protocol (Connect RPC process and filesystem
// services, /files, /init, /envs, /metrics, /health; all in spec/envd) on port 49983 (spec.Port), over HTTP/1.1 and
// cleartext HTTP/2 (h2c).
//
// Usage: envd [--port 49983] [--listen-addr 0.0.0.0] [--ready-fd N]
//
// With --ready-fd, "ready\n" is written to fd N (then closed) once the port is bound, so the launcher knows when the
// sandbox can take requests.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/tensor-box/tensor-box/packages/envd/internal/agent"
	"github.com/tensor-box/tensor-box/packages/envd/internal/spec"
)

func main() {
	port := flag.Int("port", spec.Port, "port to listen on (0: any free port, logged to stderr)")
	addr := flag.String("listen-addr", "0.0.0.0", "address to listen on")
	readyFD := flag.Int("ready-fd", -1, "write \"ready\\n\" to this fd once listening, then close it")
	version := flag.Bool("version", false, "print the protocol version and exit")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("envd: ")
	if *version {
		fmt.Println(agent.Version)
		return
	}

	// Plain TCP, not Go's default multipath TCP: CRIU cannot checkpoint MPTCP sockets, and pause/resume needs it.
	lc := net.ListenConfig{}
	lc.SetMultipathTCP(false)
	ln, err := lc.Listen(context.Background(), "tcp", net.JoinHostPort(*addr, strconv.Itoa(*port)))
	if err != nil {
		log.Fatalf("listen: %v", err)
	}
	srv := &http.Server{
		Handler:           agent.New(agent.Options{}).Handler(),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       10 * time.Minute,
		Protocols:         new(http.Protocols),
	}
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	if *readyFD >= 0 {
		f := os.NewFile(uintptr(*readyFD), "ready")
		if f == nil {
			log.Fatalf("--ready-fd %d is not an open file descriptor", *readyFD)
		}
		if _, err := f.WriteString("ready\n"); err != nil {
			log.Printf("writing to --ready-fd %d: %v", *readyFD, err)
		}
		f.Close()
	}
	log.Printf("listening on %s", ln.Addr())
	log.Fatal(srv.Serve(ln))
}
