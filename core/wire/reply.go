package wire

import (
	"errors"
	"fmt"

	"github.com/distkv-go/distkv/core/change"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
)

// Reply is a decoded server message. Raw fields share memory with the
// message: call Own before keeping it past the next message.
type Reply struct {
	Seq   uint64
	State string // "start", "end", "uptodate" in multi-replies
	Error string
	EType string
	IsErr bool

	Value       []byte // raw msgpack
	HasValue    bool
	Prev        []byte // raw "prev": set_value's old value; in delete_tree items the chain's rest
	HasPrev     bool
	OldValue    []byte // raw "old_value" of delete_tree items
	HasOldValue bool
	Chain       []change.Link
	HasChain    bool // the key was present (a nil chain gives HasChain and no links)
	Tock        uint64
	Tick        uint64
	WSeq        uint64 // a stream message's flow-control sequence; 0 without flow control

	Path    path.Path // "path": an array in multi-replies, ext 3 in get_value by event
	HasPath bool
	Depth   int

	Changed    bool
	NumChanged uint64 // delete_tree's count
	Result     []byte // raw "result"
	HasResult  bool

	// The greeting's fields.
	Node    string
	Qlen    int
	Version []byte // raw
	Auth    []byte // raw

	// Other holds keys this decoder does not know, raw (get_state's parts).
	Other map[string][]byte
}

// Err returns the reply's error as a *ServerError, or nil.
func (r *Reply) Err() error {
	if !r.IsErr {
		return nil
	}
	return &ServerError{Msg: r.Error, EType: r.EType}
}

// DecodeReply decodes one server message.
func DecodeReply(msg []byte, rep *Reply) error {
	*rep = Reply{}
	r := pack.NewReader(msg)
	n, err := r.ReadMapHeader()
	if err != nil {
		return fmt.Errorf("a reply must be a map: %w", err)
	}
	for range n {
		kb, err := r.ReadStrBytes()
		if err != nil {
			if err := r.Skip(); err != nil {
				return err
			}
			if err := r.Skip(); err != nil {
				return err
			}
			continue
		}
		switch string(kb) { // no allocation: the cases compare in place
		case "seq":
			rep.Seq, err = r.ReadUint()
		case "state":
			rep.State, err = r.ReadString()
		case "error":
			rep.IsErr = true
			if k, _ := r.Peek(); k == pack.KindStr {
				rep.Error, err = r.ReadString()
			} else {
				var v any
				v, err = r.Decode()
				rep.Error = fmt.Sprint(v)
			}
		case "etype":
			rep.EType, err = r.ReadString()
		case "value":
			rep.Value, err = r.Raw()
			rep.HasValue = true
		case "prev":
			rep.Prev, err = r.Raw()
			rep.HasPrev = true
		case "old_value":
			rep.OldValue, err = r.Raw()
			rep.HasOldValue = true
		case "chain":
			rep.HasChain = true
			rep.Chain, err = readChain(r, nil)
		case "tock":
			rep.Tock, err = r.ReadUint()
		case "tick":
			rep.Tick, err = r.ReadUint()
		case "wseq":
			rep.WSeq, err = r.ReadUint()
		case "path":
			rep.Path, err = path.Read(r)
			rep.HasPath = true
		case "depth":
			var d int64
			d, err = r.ReadInt()
			rep.Depth = int(d)
		case "changed":
			if k, _ := r.Peek(); k == pack.KindInt {
				rep.NumChanged, err = r.ReadUint()
				rep.Changed = rep.NumChanged > 0
			} else {
				rep.Changed, err = r.ReadBool()
			}
		case "result":
			rep.Result, err = r.Raw()
			rep.HasResult = true
		case "node":
			rep.Node, err = r.ReadString()
		case "qlen":
			var q int64
			q, err = r.ReadInt()
			rep.Qlen = int(q)
		case "version":
			rep.Version, err = r.Raw()
		case "auth":
			rep.Auth, err = r.Raw()
		default:
			var raw []byte
			raw, err = r.Raw()
			if rep.Other == nil {
				rep.Other = make(map[string][]byte)
			}
			rep.Other[string(kb)] = raw
		}
		if err != nil {
			return fmt.Errorf("reply field %q: %w", kb, err)
		}
	}
	return nil
}

// Own copies the fields that share memory with the message.
func (r *Reply) Own() {
	r.Value = clone(r.Value)
	r.Prev = clone(r.Prev)
	r.OldValue = clone(r.OldValue)
	r.Result = clone(r.Result)
	r.Version = clone(r.Version)
	r.Auth = clone(r.Auth)
	for k, v := range r.Other {
		r.Other[k] = clone(v)
	}
}

// Longer undoes depth compression: it turns the relative paths of a
// multi-reply's items back into full ones (relative to the request).
type Longer struct {
	last path.Path
}

// Expand returns the full path of an item with the given depth and rest.
// A path beyond the limits of package path is an error (the previous one
// stays the base of the next).
func (l *Longer) Expand(depth int, rest path.Path) (path.Path, error) {
	if depth > l.last.Len() {
		return path.Root, errors.New("depth beyond the previous path")
	}
	p := l.last.Prefix(depth).Join(rest)
	if err := p.Check(); err != nil {
		return path.Root, err
	}
	l.last = p
	return p, nil
}
