// Package emfile makes a listener fail as a process out of file
// descriptors does, for tests of the listeners that must survive it.
package emfile

import (
	"net"
	"sync"
	"syscall"
)

// Listener fails its first Accepts with EMFILE ("too many open files"),
// then accepts from the listener it wraps.
type Listener struct {
	net.Listener
	mu    sync.Mutex
	fails int
}

// New returns ln, failing its first fails Accepts.
func New(ln net.Listener, fails int) *Listener {
	return &Listener{Listener: ln, fails: fails}
}

func (l *Listener) Accept() (net.Conn, error) {
	l.mu.Lock()
	fail := l.fails > 0
	l.fails--
	l.mu.Unlock()
	if fail {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: syscall.EMFILE}
	}
	return l.Listener.Accept()
}
