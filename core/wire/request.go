package wire

import (
	"errors"
	"fmt"

	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
)

// Request is a decoded client message. Raw fields share memory with the
// message they were decoded from: call Own before keeping a Request past
// the next message.
type Request struct {
	Seq    uint64
	Action string
	State  string // "ack" for flow-control acknowledgements, "start"/"end" for client streams
	Mode   string // test_acl's access mode letters
	ACL    string // test_acl's "acl": the ACL to test instead of the session's

	Path    path.Path // "path" as a path (see PathRaw for save/log, where it names a file)
	HasPath bool
	PathRaw []byte

	Value    []byte // raw msgpack
	HasValue bool
	Raw      []byte // msg_send's "raw" bytes
	Data     []byte // msg_send's "data", raw msgpack
	HasData  bool

	// Topic is a pass-through message's topic (a path; text is parsed).
	Topic    path.Path
	HasTopic bool
	Prev     []byte // raw msgpack
	HasPrev  bool

	// Chain is the "chain" argument: HasChain with ChainNil means
	// `chain: None` ("must be new"); otherwise the newest link.
	HasChain  bool
	ChainNil  bool
	ChainNode string
	ChainTick uint64

	NChain    int // chain links wanted; < 0: all
	HasNChain bool
	Idem      bool
	MinDepth  int // 0 when not given
	MaxDepth  int // -1 when not given or negative
	Empty     bool
	Fetch     bool
	Full      bool
	WithData  bool

	Task     uint64 // stop
	Node     string // get_value by event
	Tick     uint64
	HasNode  bool
	Ack      uint64   // the stream messages acknowledged (state: ack)
	AckLevel AckLevel // set_value and delete_value: when to acknowledge the change
	Qlen     int
	HasQlen  bool

	// Logins (see core/auth): the method, the user, the kind of record
	// ("user"), a Diffie-Hellman public key and length, a sealed password,
	// a user record's aux data (raw msgpack). Typ may be nil in
	// set_auth_typ (logins off): HasTyp without Typ.
	Typ      string
	HasTyp   bool
	Ident    string
	Kind     string
	PubKey   []byte
	Length   int
	Password []byte
	Aux      []byte
	HasAux   bool

	// Flags holds other boolean fields (get_state's "nodes", "known", …).
	Flags map[string]bool
}

// RequestError is a message that is msgpack but not a valid request.
type RequestError struct {
	Seq    uint64 // 0 if unknown
	HasSeq bool
	Err    error
}

func (e *RequestError) Error() string { return e.Err.Error() }
func (e *RequestError) Unwrap() error { return ErrBadRequest }

// DecodeRequest decodes one message.
func DecodeRequest(msg []byte, req *Request) error {
	*req = Request{MaxDepth: -1}
	r := pack.NewReader(msg)
	n, err := r.ReadMapHeader()
	if err != nil {
		return &RequestError{Err: fmt.Errorf("a request must be a map: %w", err)}
	}
	hasSeq := false
	fail := func(key string, err error) error {
		return &RequestError{Seq: req.Seq, HasSeq: hasSeq, Err: fmt.Errorf("field %q: %w", key, err)}
	}
	for range n {
		kb, err := r.ReadStrBytes()
		if err != nil {
			// Keys of other types are not ours: skip the pair.
			if skipErr := r.Skip(); skipErr != nil {
				return &RequestError{Err: skipErr}
			}
			if skipErr := r.Skip(); skipErr != nil {
				return &RequestError{Err: skipErr}
			}
			continue
		}
		switch string(kb) { // no allocation: the cases compare in place
		case "seq":
			if req.Seq, err = r.ReadUint(); err != nil {
				return fail(string(kb), err)
			}
			hasSeq = true
		case "action":
			var a []byte
			if a, err = r.ReadStrBytes(); err != nil {
				return fail(string(kb), err)
			}
			req.Action = actionName(a)
		case "state":
			if req.State, err = r.ReadString(); err != nil {
				return fail(string(kb), err)
			}
		case "mode":
			if req.Mode, err = r.ReadString(); err != nil {
				return fail(string(kb), err)
			}
		case "acl":
			if req.ACL, err = r.ReadString(); err != nil {
				return fail(string(kb), err)
			}
		case "path":
			start := r.Pos()
			if k, _ := r.Peek(); k == pack.KindStr {
				var s []byte
				s, err = r.ReadStrBytes()
				req.PathRaw = s
			} else {
				req.Path, err = path.Read(r)
				req.HasPath = true
			}
			if err != nil {
				return fail(string(kb), err)
			}
			if req.PathRaw == nil {
				req.PathRaw = r.Since(start)
			}
		case "topic":
			if k, _ := r.Peek(); k == pack.KindStr {
				var t []byte
				if t, err = r.ReadStrBytes(); err == nil {
					req.Topic, err = path.Parse(string(t))
				}
			} else {
				req.Topic, err = path.Read(r)
			}
			if err != nil {
				return fail(string(kb), err)
			}
			req.HasTopic = true
		case "raw":
			if k, _ := r.Peek(); k == pack.KindBin {
				if req.Raw, err = r.ReadBin(); err != nil {
					return fail(string(kb), err)
				}
				break
			}
			b, err := r.ReadBool()
			if err != nil {
				return fail(string(kb), err)
			}
			if req.Flags == nil {
				req.Flags = make(map[string]bool)
			}
			req.Flags["raw"] = b
		case "data":
			if req.Data, err = r.Raw(); err != nil {
				return fail(string(kb), err)
			}
			req.HasData = true
		case "value":
			if req.Value, err = r.Raw(); err != nil {
				return fail(string(kb), err)
			}
			req.HasValue = true
		case "prev":
			if req.Prev, err = r.Raw(); err != nil {
				return fail(string(kb), err)
			}
			req.HasPrev = true
		case "chain":
			req.HasChain = true
			if r.TryNil() {
				req.ChainNil = true
				break
			}
			if req.ChainNode, req.ChainTick, err = readLink(r); err != nil {
				return fail(string(kb), err)
			}
		case "nchain":
			if req.NChain, err = readIntOrBool(r); err != nil {
				return fail(string(kb), err)
			}
			req.HasNChain = true
		case "min_depth":
			if req.MinDepth, err = readIntOrBool(r); err != nil {
				return fail(string(kb), err)
			}
		case "max_depth":
			if req.MaxDepth, err = readIntOrBool(r); err != nil {
				return fail(string(kb), err)
			}
			if req.MaxDepth < 0 {
				req.MaxDepth = -1
			}
		case "task":
			if req.Task, err = r.ReadUint(); err != nil {
				return fail(string(kb), err)
			}
		case "node":
			if req.Node, err = r.ReadString(); err != nil {
				return fail(string(kb), err)
			}
			req.HasNode = true
		case "tick":
			if req.Tick, err = r.ReadUint(); err != nil {
				return fail(string(kb), err)
			}
		case "ack":
			// A number acknowledges stream messages (state: ack); a
			// string is a change's acknowledgement level.
			if k, _ := r.Peek(); k == pack.KindStr {
				var a []byte
				if a, err = r.ReadStrBytes(); err == nil {
					req.AckLevel, err = ParseAckLevel(string(a))
				}
			} else {
				req.Ack, err = r.ReadUint()
			}
			if err != nil {
				return fail(string(kb), err)
			}
		case "typ":
			req.HasTyp = true
			if !r.TryNil() {
				if req.Typ, err = r.ReadString(); err != nil {
					return fail(string(kb), err)
				}
			}
		case "ident":
			if req.Ident, err = r.ReadString(); err != nil {
				return fail(string(kb), err)
			}
		case "kind":
			if req.Kind, err = r.ReadString(); err != nil {
				return fail(string(kb), err)
			}
		case "pubkey":
			if req.PubKey, err = r.ReadBin(); err != nil {
				return fail(string(kb), err)
			}
		case "length":
			if req.Length, err = readIntOrBool(r); err != nil {
				return fail(string(kb), err)
			}
		case "password":
			if req.Password, err = r.ReadBin(); err != nil {
				return fail(string(kb), err)
			}
		case "aux":
			if req.Aux, err = r.Raw(); err != nil {
				return fail(string(kb), err)
			}
			req.HasAux = true
		case "qlen":
			if req.Qlen, err = readIntOrBool(r); err != nil {
				return fail(string(kb), err)
			}
			req.HasQlen = true
		default:
			// Booleans: known ones to fields, others to Flags; anything
			// else unknown is ignored, as a newer client may send more.
			if k, _ := r.Peek(); k == pack.KindBool {
				b, _ := r.ReadBool()
				switch string(kb) {
				case "idem":
					req.Idem = b
				case "empty":
					req.Empty = b
				case "fetch":
					req.Fetch = b
				case "full":
					req.Full = b
				case "with_data":
					req.WithData = b
				default:
					if req.Flags == nil {
						req.Flags = make(map[string]bool)
					}
					req.Flags[string(kb)] = b
				}
				continue
			}
			if err := r.Skip(); err != nil {
				return fail(string(kb), err)
			}
		}
	}
	if !hasSeq {
		return &RequestError{Err: errors.New(`the request has no "seq"`)}
	}
	return nil
}

// actions interns the protocol's action names, so that decoding a
// request does not allocate its name.
var actions = func() map[string]string {
	m := map[string]string{}
	for _, a := range Actions {
		m[a] = a
	}
	return m
}()

func actionName(b []byte) string {
	if a, ok := actions[string(b)]; ok {
		return a
	}
	return string(b)
}

// readLink reads a chain link {node, tick, prev?}; prev is ignored (a
// precondition compares the newest change).
func readLink(r *pack.Reader) (node string, tick uint64, err error) {
	n, err := r.ReadMapHeader()
	if err != nil {
		return "", 0, err
	}
	hasNode, hasTick := false, false
	for range n {
		k, err := r.ReadStrBytes()
		if err != nil {
			return "", 0, err
		}
		switch string(k) {
		case "node":
			if node, err = r.ReadString(); err != nil {
				return "", 0, err
			}
			hasNode = true
		case "tick":
			if tick, err = r.ReadUint(); err != nil {
				return "", 0, err
			}
			hasTick = true
		default:
			if err := r.Skip(); err != nil {
				return "", 0, err
			}
		}
	}
	if !hasNode || !hasTick {
		return "", 0, errors.New("a chain needs node and tick")
	}
	return node, tick, nil
}

// readIntOrBool reads an integer; the original client sends some counts
// as booleans (nchain: False).
func readIntOrBool(r *pack.Reader) (int, error) {
	if k, _ := r.Peek(); k == pack.KindBool {
		b, _ := r.ReadBool()
		if b {
			return 1, nil
		}
		return 0, nil
	}
	v, err := r.ReadInt()
	if err != nil {
		return 0, err
	}
	if v > 1<<31 || v < -1<<31 {
		return 0, pack.ErrRange
	}
	return int(v), nil
}

// Own copies the fields that share memory with the message.
func (req *Request) Own() {
	req.PathRaw = clone(req.PathRaw)
	req.Value = clone(req.Value)
	req.Raw = clone(req.Raw)
	req.Data = clone(req.Data)
	req.Prev = clone(req.Prev)
	req.PubKey = clone(req.PubKey)
	req.Password = clone(req.Password)
	req.Aux = clone(req.Aux)
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}

// FileName returns "path" as a file name (save, log).
func (req *Request) FileName() (string, bool) {
	if req.HasPath || req.PathRaw == nil {
		return "", false
	}
	return string(req.PathRaw), true
}
