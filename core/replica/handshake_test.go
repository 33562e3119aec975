package replica

import (
	"bytes"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/distkv-go/distkv/core/tree"
	"github.com/distkv-go/distkv/core/wire"
)

// rawPeer is a test's end of a peer connection, speaking the protocol by
// hand.
type rawPeer struct {
	t  *testing.T
	c  net.Conn
	fr *wire.Framer
}

func newRawPeer(t *testing.T, c net.Conn) *rawPeer {
	t.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	return &rawPeer{t: t, c: c, fr: wire.NewFramer(c, 1<<20)}
}

func dialRaw(t *testing.T, addr string) *rawPeer {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return newRawPeer(t, c)
}

func (p *rawPeer) send(b []byte) {
	p.t.Helper()
	if _, err := p.c.Write(b); err != nil {
		p.t.Fatal(err)
	}
}

// next reads the next message; on an error it returns op "".
func (p *rawPeer) next() msg {
	raw, err := p.fr.Next()
	if err != nil {
		return msg{}
	}
	m, err := decodeMsg(raw)
	if err != nil {
		p.t.Fatalf("the replica sent a malformed message: %v", err)
	}
	return m
}

// refused checks that the replica answers with an error and no proof,
// then closes the connection.
func (p *rawPeer) refused() {
	p.t.Helper()
	for {
		m := p.next()
		switch m.op {
		case "":
			return
		case "proof":
			p.t.Fatal("the replica sent its proof to a side that had not proved the key")
		case "error":
		default:
			p.t.Fatalf("the replica sent %q", m.op)
		}
	}
}

// login does the initiator's half of a handshake as node with key, and
// returns the session and the bytes sent, for replays.
func (p *rawPeer) login(node, key string) (s session, sent []byte) {
	p.t.Helper()
	nonce := bytes.Repeat([]byte{7}, nonceSize)
	hi := appendHello(nil, hello{root: "test", node: node, tick: 1, nonce: nonce, acks: true})
	p.send(hi)
	theirs := p.next()
	if theirs.op != "hello" {
		p.t.Fatalf("got %q, want the replica's hello", theirs.op)
	}
	s = session{root: "test", initiator: node, responder: theirs.node, iNonce: nonce, rNonce: theirs.nonce}
	proof := appendProof(nil, s.proof([]byte(key), initiator))
	p.send(proof)
	return s, append(hi, proof...)
}

// loggedIn completes a login: the replica proves the key in turn.
func (p *rawPeer) loggedIn(s session, key string) {
	p.t.Helper()
	m := p.next()
	if m.op != "proof" {
		p.t.Fatalf("got %q (%s), want the replica's proof", m.op, m.text)
	}
	if !bytes.Equal(m.mac, s.proof([]byte(key), responder)) {
		p.t.Fatal("the replica's proof is wrong")
	}
}

// handshakePair runs a handshake between an initiator and a responder
// with the given keys over an in-memory connection.
func handshakePair(t *testing.T, keyI, keyR string) (errI, errR error) {
	t.Helper()
	ci, cr := net.Pipe()
	defer ci.Close()
	defer cr.Close()
	side := func(name, key string, c net.Conn) *peerConn {
		r, err := New(Config{Tree: tree.New(tree.Config{Node: name}), Node: name, Root: "test", Key: []byte(key),
			Gossip: &fakeNode{name: name}, Listener: nopListener{}, Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		return newPeerConn(r, c)
	}
	pi, pr := side("i", keyI, ci), side("r", keyR, cr)
	done := make(chan error, 1)
	go func() {
		err := pr.handshake(responder)
		if err != nil {
			pr.sendError(err)
		}
		cr.Close()
		done <- err
	}()
	errI = pi.handshake(initiator)
	ci.Close()
	errR = <-done
	if errI == nil && pi.name != "r" || errR == nil && pr.name != "i" {
		t.Fatalf("names after the handshake: %q, %q", pi.name, pr.name)
	}
	return errI, errR
}

// nopListener stands in for a peer listener nobody uses.
type nopListener struct{}

func (nopListener) Accept() (net.Conn, error) { return nil, net.ErrClosed }
func (nopListener) Close() error              { return nil }
func (nopListener) Addr() net.Addr            { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

func TestHandshakeKeys(t *testing.T) {
	for _, tc := range []struct {
		name       string
		keyI, keyR string
		ok         bool
	}{
		{"same key", "k", "k", true},
		{"no keys", "", "", true},
		{"wrong key", "k", "other", false},
		{"no key against a keyed server", "", "k", false},
		{"a keyed peer against an unkeyed server", "k", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errI, errR := handshakePair(t, tc.keyI, tc.keyR)
			if tc.ok {
				if errI != nil || errR != nil {
					t.Fatalf("refused: initiator %v, responder %v", errI, errR)
				}
				return
			}
			// The responder refuses the initiator's proof; the initiator
			// hears why and never gets a proof.
			if errR == nil || !strings.Contains(errR.Error(), "does not prove this network's key") {
				t.Fatalf("responder: %v", errR)
			}
			if errI == nil || !strings.Contains(errI.Error(), "peer refused") {
				t.Fatalf("initiator: %v", errI)
			}
		})
	}
}

// TestHandshakeAttacks tries, against a keyed replica, what someone
// without the key might: replay a member's proof, use a member as an
// oracle for proofs, reflect the replica's own proof back to it, and use
// a proof made for one name under another.
func TestHandshakeAttacks(t *testing.T) {
	net0 := newFakeNet()
	a := net0.add(t, "a", "key")
	a.rep.Start()
	addr := a.rep.Addr()

	t.Run("replayed proof", func(t *testing.T) {
		// A member logs in; whoever saw its bytes sends them again.
		p := dialRaw(t, addr)
		s, sent := p.login("m", "key")
		p.loggedIn(s, "key")
		q := dialRaw(t, addr)
		q.send(sent)
		if m := q.next(); m.op != "hello" {
			t.Fatalf("got %q, want a hello", m.op)
		}
		q.refused()
	})

	t.Run("no proof for the unproved", func(t *testing.T) {
		// The old attack: take a's nonce to b as one's own, get b's proof
		// over it, give that to a. b must not prove anything first.
		b := net0.add(t, "b", "key")
		b.rep.Start()
		toA := dialRaw(t, addr)
		toA.send(appendHello(nil, hello{root: "test", node: "b", tick: 1, nonce: bytes.Repeat([]byte{1}, nonceSize), acks: true}))
		helloA := toA.next()
		toB := dialRaw(t, b.rep.Addr())
		toB.send(appendHello(nil, hello{root: "test", node: "a", tick: 1, nonce: helloA.nonce, acks: true}))
		if m := toB.next(); m.op != "hello" {
			t.Fatalf("b sent %q, want a hello", m.op)
		}
		toB.send(appendProof(nil, make([]byte, 32)))
		toB.refused()
		toA.send(appendProof(nil, make([]byte, 32)))
		toA.refused()
	})

	t.Run("reflected proof", func(t *testing.T) {
		// a dials "c" (the attacker, in gossip) as initiator. The attacker
		// opens a connection to a as "c" with a's own nonce, hands a's
		// answer back as its hello, and passes a's initiator proof to a.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		net0.mu.Lock()
		net0.nodes["c"] = &fakeNode{net: net0, name: "c", addr: ln.Addr().String(), ann: make(chan Announcement, 1)}
		net0.mu.Unlock()
		net0.Name(ln.Addr().String(), "c")
		defer func() {
			net0.mu.Lock()
			delete(net0.nodes, "c")
			net0.mu.Unlock()
		}()
		c, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		fromA := newRawPeer(t, c)
		helloA := fromA.next() // a, initiator
		if helloA.op != "hello" {
			t.Fatalf("a sent %q", helloA.op)
		}
		toA := dialRaw(t, addr)
		toA.send(appendHello(nil, hello{root: "test", node: "c", tick: 1, nonce: helloA.nonce, acks: true}))
		answer := toA.next() // a, responder
		fromA.send(appendHello(nil, hello{root: "test", node: "c", tick: 1, nonce: answer.nonce, acks: true}))
		proofA := fromA.next()
		if proofA.op != "proof" {
			t.Fatalf("a sent %q, want its proof", proofA.op)
		}
		toA.send(appendProof(nil, proofA.mac))
		toA.refused()
		// And a's own proof as the answer to it.
		fromA.send(appendProof(nil, proofA.mac))
		fromA.refused()
	})

	t.Run("proof for another name", func(t *testing.T) {
		// A proof with the key and the right nonces, but made for "m",
		// from a peer whose hello claims "n".
		p := dialRaw(t, addr)
		nonce := bytes.Repeat([]byte{9}, nonceSize)
		p.send(appendHello(nil, hello{root: "test", node: "n", tick: 1, nonce: nonce, acks: true}))
		theirs := p.next()
		s := session{root: "test", initiator: "m", responder: theirs.node, iNonce: nonce, rNonce: theirs.nonce}
		p.send(appendProof(nil, s.proof([]byte("key"), initiator)))
		p.refused()
	})

	t.Run("a member still logs in", func(t *testing.T) {
		p := dialRaw(t, addr)
		s, _ := p.login("m", "key")
		p.loggedIn(s, "key")
	})
}
