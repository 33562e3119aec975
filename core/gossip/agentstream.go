package gossip

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"
)

// eventStream is a connection to a Serf agent's RPC port that carries one
// event stream and nothing else. Serf's client (github.com/hashicorp/serf/
// client) is used for every request, but not for streams: its Close
// closes a stream's channel while its reader goroutine may still be
// sending to it, a data race and, at worst, a panic. Here the only reader
// is the caller of next, which stops when the connection is closed.
//
// The protocol is Serf's RPC protocol: msgpack values on TCP, each request
// a header {Command, Seq} and a body, each response a header {Seq, Error}
// and, for stream records, a body:
//
//	-> {Command: "handshake", Seq: 0} {Version: 1}     <- {Seq: 0, Error: ""}
//	-> {Command: "auth", Seq: 1} {AuthKey: "..."}      <- {Seq: 1, Error: ""}  (if a key is set)
//	-> {Command: "stream", Seq: 2} {Type: "<filter>"}  <- {Seq: 2, Error: ""}
//	                                                   <- {Seq: 2, Error: ""} {Event: "user", ...}
//	                                                   <- ...
type eventStream struct {
	conn net.Conn
	dec  *codec.Decoder
}

// The agent's RPC structures (serf/client/const.go).
type (
	rpcRequest struct {
		Command string
		Seq     uint64
	}
	rpcResponse struct {
		Seq   uint64
		Error string
	}
	rpcHandshake struct{ Version int32 }
	rpcAuth      struct{ AuthKey string }
	rpcStream    struct{ Type string }
)

const streamSeq = 2

func rpcHandle() *codec.MsgpackHandle {
	h := &codec.MsgpackHandle{WriteExt: true}
	h.TimeNotBuiltin = true
	return h
}

// openEventStream connects, authenticates and subscribes to the events
// that filter names (Serf's event filter syntax); timeout bounds the setup.
func openEventStream(addr, authKey, filter string, timeout time.Duration) (*eventStream, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	w := bufio.NewWriter(conn)
	enc := codec.NewEncoder(w, rpcHandle())
	s := &eventStream{conn: conn, dec: codec.NewDecoder(bufio.NewReader(conn), rpcHandle())}
	call := func(seq uint64, command string, body any) error {
		if err := enc.Encode(rpcRequest{command, seq}); err != nil {
			return err
		}
		if err := enc.Encode(body); err != nil {
			return err
		}
		if err := w.Flush(); err != nil {
			return err
		}
		var resp rpcResponse
		if err := s.dec.Decode(&resp); err != nil {
			return err
		}
		if resp.Seq != seq {
			return fmt.Errorf("%s: answer to request %d, want %d", command, resp.Seq, seq)
		}
		if resp.Error != "" {
			return fmt.Errorf("%s: %s", command, resp.Error)
		}
		return nil
	}
	conn.SetDeadline(time.Now().Add(timeout))
	err = call(0, "handshake", rpcHandshake{Version: 1})
	if err == nil && authKey != "" {
		err = call(1, "auth", rpcAuth{AuthKey: authKey})
	}
	if err == nil {
		err = call(streamSeq, "stream", rpcStream{Type: filter})
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	conn.SetDeadline(time.Time{})
	return s, nil
}

// next waits for the next record; it fails once the connection is closed
// or broken. Only one goroutine may call it.
func (s *eventStream) next() (map[string]any, error) {
	var resp rpcResponse
	if err := s.dec.Decode(&resp); err != nil {
		return nil, err
	}
	if resp.Error != "" {
		return nil, errors.New(resp.Error)
	}
	if resp.Seq != streamSeq {
		return nil, fmt.Errorf("record of request %d, want %d", resp.Seq, streamSeq)
	}
	var rec map[string]any
	if err := s.dec.Decode(&rec); err != nil {
		return nil, err
	}
	return rec, nil
}

// close ends the stream; a blocked next returns an error.
func (s *eventStream) close() { s.conn.Close() }
