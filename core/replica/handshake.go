package replica

import (
	"bufio"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/wire"
)

const (
	nonceSize = 16
	// maxHandshake is the largest message a peer may send before it has
	// proved the key, and about what the connection buffers meanwhile:
	// hello and proof take a few hundred bytes, and a stranger must not
	// make this server buffer a large message.
	maxHandshake = 4 << 10
	proofLabel   = "distkv-peer v1"
)

// A connection's sides: the dialing server starts the handshake and
// proves the key first.
const (
	initiator = "initiator"
	responder = "responder"
)

// session is what both sides' proofs of one connection cover.
type session struct {
	root                 string
	initiator, responder string // the node names each side claims
	iNonce, rNonce       []byte // each side's fresh nonce
}

// proof is role's proof that it holds key: HMAC-SHA256 under the key
// over the protocol label, the role, the network, both names and both
// nonces, each length-prefixed. Each side's nonce is fresh, so a proof
// is good for one connection only (no replay); the role is covered, so a
// server's proof never passes as the other side's (no reflection); the
// names are covered, so a proof made for one node never lets another in.
func (s *session) proof(key []byte, role string) []byte {
	h := hmac.New(sha256.New, key)
	for _, f := range [][]byte{[]byte(proofLabel), []byte(role), []byte(s.root),
		[]byte(s.initiator), []byte(s.responder), s.iNonce, s.rNonce} {
		h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(f))))
		h.Write(f)
	}
	return h.Sum(nil)
}

// handshake exchanges hellos and proofs and sets pc.name. The initiator
// sends its hello, the responder answers with its own; the initiator
// proves the key, and the responder sends its proof only after it has
// checked the initiator's, so it proves nothing to a side that has not
// proved itself:
//
//	initiator → {op: hello, root, node, tick, nonce, acks}
//	responder → {op: hello, root, node, tick, nonce, you}
//	initiator → {op: proof, mac}     (role initiator)
//	responder → {op: proof, mac}     (role responder), or {op: error, msg}
func (pc *peerConn) handshake(role string) error {
	r := pc.r
	pc.nc.SetDeadline(time.Now().Add(handshakeTimeout))
	defer pc.nc.SetDeadline(time.Time{})

	nonce := make([]byte, nonceSize)
	rand.Read(nonce)
	tick, _ := r.cfg.Tree.Ticks()
	dh, err := r.peerDH()
	if err != nil {
		return err
	}
	w := bufio.NewWriter(pc.nc)
	send := func(b []byte) error {
		w.Write(b)
		r.bytesOut.Add(uint64(len(b)))
		return w.Flush()
	}
	h := hello{root: r.cfg.Root, node: r.cfg.Node, tick: tick, nonce: nonce}
	if dh != nil {
		h.dh = dh.Pub
	}
	s := session{root: r.cfg.Root}
	var other msg
	if role == initiator {
		h.acks = true
		if err = send(appendHello(nil, h)); err != nil {
			return err
		}
		if other, err = pc.readHello(); err != nil {
			return err
		}
		s.initiator, s.responder, s.iNonce, s.rNonce = r.cfg.Node, other.node, nonce, other.nonce
		if err := send(appendProof(nil, s.proof(r.cfg.Key, initiator))); err != nil {
			return err
		}
		if err := pc.checkProof(&s, responder, other.node); err != nil {
			return err
		}
	} else {
		if other, err = pc.readHello(); err != nil {
			return err
		}
		// Tell the dialer the highest tick of its own that this side has
		// seen: a server that restarted without (all of) its log must not
		// issue those ticks again.
		h.you = r.cfg.Tree.NodeTicks()[other.node]
		if err = send(appendHello(nil, h)); err != nil {
			return err
		}
		s.initiator, s.responder, s.iNonce, s.rNonce = other.node, r.cfg.Node, other.nonce, nonce
		if err := pc.checkProof(&s, initiator, other.node); err != nil {
			return err
		}
		if err := send(appendProof(nil, s.proof(r.cfg.Key, responder))); err != nil {
			return err
		}
	}
	// Both proved the key: the logins (see login.go), the dialer's first.
	var key *[32]byte
	if dh != nil && len(other.dh) > 0 {
		if key, err = dh.Key(other.dh); err != nil {
			return fmt.Errorf("peer %q: %w", other.node, err)
		}
	}
	aware := len(other.dh) > 0 // the other side takes and sends logins
	sendLogin := func() error {
		if !aware || dh == nil {
			return nil
		}
		b, err := appendLogin(nil, r.cfg.Login, key)
		if err != nil {
			return fmt.Errorf("log in to peer %q: %w", other.node, err)
		}
		return send(b)
	}
	if role == initiator {
		if err := sendLogin(); err != nil {
			return err
		}
		if err := pc.peerLogin(aware && dh != nil, other.node, key); err != nil {
			return err
		}
	} else {
		if err := pc.peerLogin(aware && dh != nil, other.node, key); err != nil {
			return err
		}
		if err := sendLogin(); err != nil {
			return err
		}
	}
	pc.name = other.node
	pc.sendAcks = role == responder && other.acks
	pc.trusted()
	if err := r.cfg.Tree.Announce(other.node, other.tick); err != nil {
		return fmt.Errorf("peer %q: %w", other.node, err)
	}
	if other.you != 0 {
		// raises this node's tick
		if err := r.cfg.Tree.Announce(r.cfg.Node, other.you); err != nil {
			return fmt.Errorf("peer %q says: %w", other.node, err)
		}
	}
	return nil
}

// readHello reads the other side's hello and checks it.
func (pc *peerConn) readHello() (msg, error) {
	r := pc.r
	hello, err := pc.read("hello")
	if err != nil {
		return hello, err
	}
	if hello.root != r.cfg.Root {
		return hello, fmt.Errorf("peer %q is in network %q, not %q", hello.node, hello.root, r.cfg.Root)
	}
	if hello.node == "" || hello.node == r.cfg.Node || len(hello.nonce) != nonceSize {
		return hello, fmt.Errorf("peer hello is not acceptable (node %q, a nonce of %d bytes)", hello.node, len(hello.nonce))
	}
	return hello, nil
}

// checkProof reads the other side's proof, made as role, and checks it.
func (pc *peerConn) checkProof(s *session, role, peer string) error {
	p, err := pc.read("proof")
	if err != nil {
		return err
	}
	if !hmac.Equal(p.mac, s.proof(pc.r.cfg.Key, role)) {
		if len(pc.r.cfg.Key) == 0 {
			return fmt.Errorf("peer %q does not prove this network's key: this server has no server.serf.key, the peer likely has one", peer)
		}
		return fmt.Errorf("peer %q does not prove this network's key", peer)
	}
	return nil
}

// hello is what a side says first: its network, name, highest tick
// and fresh nonce; you, if not 0, the highest tick of the other side's
// node that this side has seen; acks, from the dialing side, asks the
// other to acknowledge pushes ({op: acked, tick}), which a server that
// predates them does not know to do; dh is for logins (see login.go).
type hello struct {
	root, node string
	tick, you  uint64
	nonce, dh  []byte
	acks       bool
}

// appendHello appends {op: hello, root, node, tick, nonce, you?, acks?,
// dh?}.
func appendHello(b []byte, h hello) []byte {
	m := wire.Begin(b)
	m.Str("op", "hello")
	m.Str("root", h.root)
	m.Str("node", h.node)
	m.Uint("tick", h.tick)
	m.Key("nonce")
	m.B = pack.AppendBytes(m.B, h.nonce)
	if h.you != 0 {
		m.Uint("you", h.you)
	}
	if h.acks {
		m.Bool("acks", true)
	}
	if h.dh != nil {
		m.Key("dh")
		m.B = pack.AppendBytes(m.B, h.dh)
	}
	return m.End()
}

// appendProof appends {op: proof, mac}.
func appendProof(b []byte, mac []byte) []byte {
	m := wire.Begin(b)
	m.Str("op", "proof")
	m.Key("mac")
	m.B = pack.AppendBytes(m.B, mac)
	return m.End()
}
