// Command envd is the agent inside every Tensor Box sandbox: E2B's envd protocol (Connect RPC process and filesystem
// services, /files, /init, /envs, /metrics, /health) on port 49983, HTTP/1.1 and cleartext HTTP/2.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/tensor-box/tensor-box/packages/envd/internal/agent"
)

func main() {
	port := flag.Int("port", 49983, "port to listen on")
	addr := flag.String("listen-addr", "0.0.0.0", "address to listen on")
	readyFD := flag.Int("ready-fd", -1, "write \"ready\\n\" to this fd once listening, then close it")
	flag.Parse()

	ln, err := net.Listen("tcp", net.JoinHostPort(*addr, strconv.Itoa(*port)))
	if err != nil {
		log.Fatalf("envd: listen: %v", err)
	}
	a := agent.New(agent.Options{})
	srv := &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 30 * time.Second}
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	if *readyFD >= 0 {
		f := os.NewFile(uintptr(*readyFD), "ready")
		fmt.Fprint(f, "ready\n")
		f.Close()
	}
	log.Fatal(srv.Serve(ln))
}
