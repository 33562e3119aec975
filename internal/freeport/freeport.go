// Package freeport finds loopback ports for servers that tests and the
// benchmark tool start.
package freeport

import (
	"errors"
	"math/rand/v2"
	"net"
	"strconv"
)

// Loopback returns a port of 127.0.0.1 that was free for both TCP and UDP
// (as a Serf bind address needs) a moment ago. It picks below 32768, where
// Linux's ephemeral range starts: there outgoing connections take their
// ports (and net.Listen(":0") picks), and one could take it before the
// server binds it.
func Loopback() (int, error) {
	for range 200 {
		port := 10000 + rand.IntN(22768)
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		pc, err := net.ListenPacket("udp", addr)
		ln.Close()
		if err != nil {
			continue
		}
		pc.Close()
		return port, nil
	}
	return 0, errors.New("find a free port: none free for both TCP and UDP in 200 tries")
}
