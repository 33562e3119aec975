package replica

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/distkv-go/distkv/core/chain"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/tree"
	"github.com/distkv-go/distkv/core/value"
	"github.com/distkv-go/distkv/core/wire"
)

const (
	maxPeerMessage   = 256 << 20 // a 1 MiB value and more fits
	handshakeTimeout = 10 * time.Second
	writeTimeout     = 30 * time.Second
)

// peerConn is one connection to or from a peer.
type peerConn struct {
	r    *Replica
	nc   net.Conn
	fr   *wire.Framer // owned by the connection's reading goroutine
	name string       // the peer's node, once the handshake is done
	// ctx ends when the connection closes: a read that waits for the
	// input budget gives up then.
	ctx    context.Context
	cancel context.CancelFunc
	// sendAcks: on an incoming connection, the dialer asked for its
	// pushes to be acknowledged.
	sendAcks bool

	// An outgoing connection's pushes, for telling which of this node's
	// changes the peer has applied (r.mu): the tick of the first push,
	// the highest the peer acknowledged, and those dropped (not sent).
	first, ackedTo uint64
	dropped        chain.RangeSet

	pushes chan []byte  // outgoing connections, once trusted: pushes to write, bounded
	queued atomic.Int64 // the bytes in pushes
	reqs   chan []byte  // outgoing connections: requests to write

	mu sync.Mutex // protects the fields below
	// The peer's login in the handshake (nil: none), for Recheck, once
	// the handshake is done (checked).
	login     *PeerLogin
	checked   bool
	loginPeer string // the name it logged in under
	seq       uint64
	pending   map[uint64]chan error // requests waiting for their done

	// A dump being received (see Sync): its request, and the sender's
	// horizon, to drop what the network no longer has.
	dumpSeq      uint64
	dumpComplete map[string]uint64

	closeOnce sync.Once
	closed    chan struct{}
}

// newPeerConn returns a connection that reads messages of maxHandshake
// bytes at most until its handshake is done (see handshake).
func newPeerConn(r *Replica, nc net.Conn) *peerConn {
	ctx, cancel := context.WithCancel(r.ctx)
	pc := &peerConn{r: r, nc: nc, ctx: ctx, cancel: cancel, reqs: make(chan []byte, 16),
		pending: map[uint64]chan error{}, closed: make(chan struct{})}
	pc.fr = wire.NewFramer(nc, maxHandshake)
	return pc
}

// trusted lifts the handshake's limit: the peer may send messages of
// maxPeerMessage bytes, drawing on the server's input budget.
func (pc *peerConn) trusted() {
	pc.fr.SetMax(maxPeerMessage)
	pc.fr.UseBudget(pc.ctx, pc.r.cfg.Budget.Account())
}

func (pc *peerConn) close() {
	pc.closeOnce.Do(func() {
		pc.cancel()
		close(pc.closed)
		pc.nc.Close()
		pc.mu.Lock()
		for seq, ch := range pc.pending {
			ch <- errors.New("connection closed")
			delete(pc.pending, seq)
		}
		pc.mu.Unlock()
	})
}

// push queues a push without blocking; false: the peer is too far behind.
func (pc *peerConn) push(msg []byte) bool {
	n := int64(len(msg))
	if pc.queued.Add(n) > pc.r.cfg.QueueBytes && len(pc.pushes) > 0 {
		pc.queued.Add(-n)
		return false
	}
	select {
	case pc.pushes <- msg:
		return true
	default:
		pc.queued.Add(-n)
		return false
	}
}

// msg is a decoded peer message (the fields any op uses).
type msg struct {
	op, root, node, text string
	seq, tick, you       uint64
	nonce, mac           []byte
	acks                 bool
	// The handshake's login parts (see login.go): a Diffie-Hellman public
	// key in hellos; the login itself.
	dh, password []byte
	typ, ident   string
	ranges       []any
	yours        []any             // op ticks: the receiver's ticks the sender has seen
	want         map[string][]any  // op pull: the missing ranges per node
	ticks        map[string]uint64 // op ticks: the highest tick known per node
	complete     map[string]uint64 // op ticks: the gap-free horizon per node
	raw          []byte            // the whole message, for updates
}

func decodeMsg(raw []byte) (msg, error) {
	m := msg{raw: raw}
	r := pack.NewReader(raw)
	n, err := r.ReadMapHeader()
	if err != nil {
		return m, err
	}
	for range n {
		k, err := r.ReadStrBytes()
		if err != nil {
			return m, err
		}
		switch string(k) {
		case "op":
			m.op, err = r.ReadString()
		case "root":
			m.root, err = r.ReadString()
		case "node":
			m.node, err = r.ReadString()
		case "msg":
			m.text, err = r.ReadString()
		case "seq":
			m.seq, err = r.ReadUint()
		case "tick":
			m.tick, err = r.ReadUint()
		case "you":
			m.you, err = r.ReadUint()
		case "acks":
			m.acks, err = r.ReadBool()
		case "nonce": // copied: the handshake keeps it past the next read
			m.nonce, err = readBin(r)
		case "mac":
			m.mac, err = readBin(r)
		case "dh":
			m.dh, err = readBin(r)
		case "password":
			m.password, err = readBin(r)
		case "typ":
			m.typ, err = r.ReadString()
		case "ident":
			m.ident, err = r.ReadString()
		case "ticks":
			m.ticks, err = readTickMap(r)
		case "complete":
			m.complete, err = readTickMap(r)
		case "want":
			var v any
			if v, err = r.Decode(); err == nil {
				wm, ok := v.(pack.Map)
				if !ok {
					err = errors.New("want must be a map")
					break
				}
				m.want = make(map[string][]any, len(wm))
				for _, kv := range wm {
					node, ok1 := kv.Key.(string)
					rs, ok2 := kv.Value.([]any)
					if !ok1 || !ok2 {
						err = errors.New("want maps node names to tick ranges")
						break
					}
					m.want[node] = rs
				}
			}
		case "ranges":
			m.ranges, err = readList(r)
		case "yours":
			m.yours, err = readList(r)
		default:
			err = r.Skip()
		}
		if err != nil {
			return m, fmt.Errorf("field %q: %w", k, err)
		}
	}
	if m.op == "" {
		return m, errors.New(`a peer message needs an "op"`)
	}
	return m, nil
}

// readList reads a list (of tick ranges).
func readList(r *pack.Reader) ([]any, error) {
	v, err := r.Decode()
	if err != nil {
		return nil, err
	}
	l, ok := v.([]any)
	if !ok {
		return nil, errors.New("must be a list")
	}
	return l, nil
}

func readBin(r *pack.Reader) ([]byte, error) {
	b, err := r.ReadBin()
	return bytes.Clone(b), err
}

// appendUpdate appends an update message: {op, seq?, path, value, chain, tock}.
func appendUpdate(b []byte, op string, seq uint64, it *tree.Item) []byte {
	m := wire.Begin(b)
	m.Str("op", op)
	if seq != 0 {
		m.Uint("seq", seq)
	}
	m.Path("path", it.Path)
	if it.HasValue {
		m.Raw("value", it.Value)
	}
	m.Chain("chain", it.Head, it.Older, -1)
	m.Uint("tock", it.Tock)
	return m.End()
}

func appendKnown(b []byte, seq uint64, node string, rs *chain.RangeSet) []byte {
	m := wire.Begin(b)
	m.Str("op", "known")
	m.Uint("seq", seq)
	m.Str("node", node)
	m.Key("ranges")
	m.B, _ = pack.Append(m.B, rs.Wire())
	return m.End()
}

func readTickMap(r *pack.Reader) (map[string]uint64, error) {
	n, err := r.ReadMapHeader()
	if err != nil {
		return nil, err
	}
	m := make(map[string]uint64, n)
	for range n {
		name, err := r.ReadString()
		if err != nil {
			return nil, err
		}
		if m[name], err = r.ReadUint(); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func appendTickMap(m *wire.Msg, key string, ticks map[string]uint64) {
	m.Key(key)
	m.B = pack.AppendMapHeader(m.B, len(ticks))
	for n, t := range ticks {
		m.B = pack.AppendString(m.B, n)
		m.B = pack.AppendUint(m.B, t)
	}
}

// appendTicks appends {op: ticks, seq?, ticks: {node: highest tick known},
// complete: {node: gap-free horizon}, yours?: ranges}: yours, if not nil,
// are the receiver's own ticks seen here (they confirm its changes, see
// Replica.Confirmed).
func appendTicks(b []byte, seq uint64, ticks, complete map[string]uint64, yours *chain.RangeSet) []byte {
	m := wire.Begin(b)
	m.Str("op", "ticks")
	if seq != 0 {
		m.Uint("seq", seq)
	}
	appendTickMap(&m, "ticks", ticks)
	appendTickMap(&m, "complete", complete)
	if yours != nil {
		m.Key("yours")
		m.B, _ = pack.Append(m.B, yours.Wire())
	}
	return m.End()
}

// appendPull appends {op: pull, seq, want: {node: ranges}}.
func appendPull(b []byte, seq uint64, want map[string]chain.RangeSet) []byte {
	m := wire.Begin(b)
	m.Str("op", "pull")
	m.Uint("seq", seq)
	m.Key("want")
	m.B = pack.AppendMapHeader(m.B, len(want))
	for node, rs := range want {
		m.B = pack.AppendString(m.B, node)
		m.B, _ = pack.Append(m.B, rs.Wire())
	}
	return m.End()
}

// appendAcked appends {op: acked, tick}: every push up to tick (of the
// connection's dialer) that came on this connection is applied here.
func appendAcked(b []byte, tick uint64) []byte {
	m := wire.Begin(b)
	m.Str("op", "acked")
	m.Uint("tick", tick)
	return m.End()
}

// appendTick appends a tick announcement: {op: tick, node, tick}.
func appendTick(b []byte, node string, tick uint64) []byte {
	m := wire.Begin(b)
	m.Str("op", "tick")
	m.Str("node", node)
	m.Uint("tick", tick)
	return m.End()
}

// appendOp appends {op, seq}: dump and done.
func appendOp(b []byte, op string, seq uint64) []byte {
	m := wire.Begin(b)
	m.Str("op", op)
	m.Uint("seq", seq)
	return m.End()
}

// decodeUpdate reads the update in a push or update message and checks
// its value.
func decodeUpdate(m msg) (tree.Update, error) {
	u, err := wire.DecodeUpdate(m.raw, nil)
	if err != nil {
		return u, err
	}
	if u.HasValue {
		if err := value.Validate(u.Value); err != nil {
			return u, fmt.Errorf("value: %w", err)
		}
	}
	return u, nil
}

// next reads the next message, counting its bytes.
func (pc *peerConn) next() ([]byte, error) {
	raw, err := pc.fr.Next()
	pc.r.bytesIn.Add(uint64(len(raw)))
	return raw, err
}

// read reads the next message and checks its op.
func (pc *peerConn) read(op string) (msg, error) {
	raw, err := pc.next()
	if err != nil {
		return msg{}, err
	}
	m, err := decodeMsg(raw)
	if err != nil {
		return m, err
	}
	if m.op == "error" {
		return m, fmt.Errorf("peer refused: %s", m.text)
	}
	if op != "" && m.op != op {
		return m, fmt.Errorf("expected %q from the peer, got %q", op, m.op)
	}
	return m, nil
}

// sendError tells the peer why the connection ends (best effort).
func (pc *peerConn) sendError(err error) {
	pc.nc.SetWriteDeadline(time.Now().Add(time.Second))
	pc.nc.Write(appendError(nil, err.Error()))
}

// appendError appends {op: error, msg}.
func appendError(b []byte, text string) []byte {
	m := wire.Begin(b)
	m.Str("op", "error")
	m.Str("msg", text)
	return m.End()
}

// request sends a pull or dump on an outgoing connection and waits for
// its done.
func (pc *peerConn) request(ctx context.Context, enc func(seq uint64) []byte) error {
	pc.mu.Lock()
	pc.seq++
	seq := pc.seq
	done := make(chan error, 1)
	pc.pending[seq] = done
	pc.mu.Unlock()
	select {
	case pc.reqs <- enc(seq):
	case <-pc.closed:
		return errors.New("connection closed")
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-done:
		return err
	case <-pc.closed:
		// close answers the requests it finds waiting; this one may have
		// come after it.
		select {
		case err := <-done:
			return err
		default:
			return errors.New("connection closed")
		}
	case <-ctx.Done():
		pc.mu.Lock()
		delete(pc.pending, seq)
		pc.mu.Unlock()
		return ctx.Err()
	}
}
