package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"strings"

	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/wire"
)

// Keys are prefix + one string element of keyDigits decimal digits, so
// that every key of a template has the same length and is patched in place.
const (
	keyDigits = 10
	valueLen  = 16 // bytes of every value: a msgpack str of 16 characters
)

// template is one pre-encoded request. Sending it means copying it and
// patching seq (always encoded as uint64, 0xcf + 8 bytes), the key's
// digits and, for watch, the value's characters.
type template struct {
	b      []byte
	seqOff int // the 8 bytes of seq
	keyOff int // the keyDigits digits of the key
	valOff int // the valueLen characters of the value; -1: no value
	// kind is what the value is; all but valueStr are patched from
	// the key, at kindOff.
	kind    valueKind
	kindOff int
}

// valueKind says what a set writes.
type valueKind int

const (
	valueStr     valueKind = iota // valueLen characters (watch stamps them)
	valuePercent                  // the integer key % 101 (--types: int.percent)
	valueFloat                    // the float key + 0.25 (--codec's prefill, as root)
	valueNumStr                   // the text of key + 0.25, "0000000042.25" (a --codec user's set: decode stores the float)
)

// newTemplate encodes {seq, action, path: prefix+key[, value]}, the
// value valueLen characters.
func newTemplate(action string, prefix path.Path, withValue bool) template {
	if withValue {
		return newValueTemplate(action, prefix, valueStr)
	}
	b := newTemplateBytes(action, prefix, nil)
	return template{b: b, seqOff: seqOffset, keyOff: keyOffset(b), valOff: -1}
}

// newValueTemplate encodes {seq, action, path: prefix+key, value} with a
// value of the kind.
func newValueTemplate(action string, prefix path.Path, kind valueKind) template {
	t := template{seqOff: seqOffset, valOff: -1, kind: kind}
	var v []byte
	switch kind {
	case valueStr:
		v = pack.AppendString(nil, strings.Repeat("v", valueLen))
	case valuePercent:
		v = pack.AppendInt(nil, 0) // a positive fixint: one byte, 0…127
	case valueFloat:
		v = pack.AppendFloat(nil, 0.25) // 0xcb + 8 bytes
	case valueNumStr:
		v = pack.AppendString(nil, strings.Repeat("0", keyDigits)+".25")
	}
	t.b = newTemplateBytes(action, prefix, v)
	t.keyOff = keyOffset(newTemplateBytes(action, prefix, nil))
	switch kind {
	case valueStr:
		t.valOff = len(t.b) - valueLen
	case valuePercent:
		t.kindOff = len(t.b) - 1
	case valueFloat:
		t.kindOff = len(t.b) - 8
	case valueNumStr:
		t.kindOff = len(t.b) - keyDigits - 3
	}
	return t
}

// seqOffset is where seq's 8 bytes are: after the map header, "seq" and 0xcf.
var seqOffset = func() int {
	m := wire.Begin(nil)
	m.Key("seq")
	return len(m.B) + 1
}()

// keyOffset finds the key's digits in a template without a value: the
// last element of the path (the prefix may hold digits too); a value
// comes after the path, so the offset holds for a template with one.
func keyOffset(b []byte) int {
	return bytes.LastIndex(b, []byte(strings.Repeat("0", keyDigits)))
}

// newTemplateBytes encodes a template with the key's digits all 0 and
// seq 0 (as uint64); value is encoded already, nil: none.
func newTemplateBytes(action string, prefix path.Path, value []byte) []byte {
	m := wire.Begin(nil)
	m.Key("seq")
	m.B = append(m.B, 0xcf, 0, 0, 0, 0, 0, 0, 0, 0)
	m.Str("action", action)
	m.Path("path", prefix.Child(path.Str(strings.Repeat("0", keyDigits))))
	if value != nil {
		m.Key("value")
		m.B = append(m.B, value...)
	}
	return m.End()
}

// appendTo appends the request with the given seq and key to b.
func (t *template) appendTo(b []byte, seq, key uint64) []byte {
	start := len(b)
	b = append(b, t.b...)
	binary.BigEndian.PutUint64(b[start+t.seqOff:], seq)
	putDigits(b[start+t.keyOff:start+t.keyOff+keyDigits], key)
	switch v := b[start+t.kindOff:]; t.kind {
	case valuePercent:
		v[0] = byte(key % 101)
	case valueFloat:
		binary.BigEndian.PutUint64(v, math.Float64bits(float64(key)+0.25))
	case valueNumStr:
		putDigits(v[:keyDigits], key)
	}
	return b
}

// putDigits writes v in decimal, zero-padded to fill d.
func putDigits(d []byte, v uint64) {
	for i := len(d) - 1; i >= 0; i-- {
		d[i] = byte('0' + v%10)
		v /= 10
	}
}

// stampValue writes the stamp as the value's characters: 12 hex digits of
// ns (the send time) then 4 of tag, so that no two values coincide.
func stampValue(v []byte, ns int64, tag uint64) {
	const hex = "0123456789abcdef"
	u := uint64(ns)
	for i := 11; i >= 0; i-- {
		v[i] = hex[u&15]
		u >>= 4
	}
	for i := 15; i >= 12; i-- {
		v[i] = hex[tag&15]
		tag >>= 4
	}
}

// stampOf reads back the send time of a value written by stampValue.
func stampOf(v []byte) (int64, bool) {
	if len(v) != valueLen {
		return 0, false
	}
	var u uint64
	for _, c := range v[:12] {
		switch {
		case c >= '0' && c <= '9':
			u = u<<4 | uint64(c-'0')
		case c >= 'a' && c <= 'f':
			u = u<<4 | uint64(c-'a'+10)
		default:
			return 0, false
		}
	}
	return int64(u), true
}

// reply is what the driver needs of a server message.
type reply struct {
	seq    uint64
	failed bool   // the message has an "error" key
	errMsg []byte // its text (shared with the message), if a string
	state  []byte // "state" of stream messages (shared)
	value  []byte // the str bytes of "value", when wantValue (shared)
}

var errNotMap = errors.New("a reply must be a map")

// scanReply finds seq, error and state in a message with r, skipping
// everything else undecoded. With wantValue it also takes a str value.
func scanReply(r *pack.Reader, msg []byte, wantValue bool, rep *reply) error {
	*rep = reply{}
	r.Reset(msg)
	n, err := r.ReadMapHeader()
	if err != nil {
		return errNotMap
	}
	for range n {
		k, err := r.ReadStrBytes()
		if err != nil {
			if err := r.Skip(); err != nil {
				return err
			}
			if err := r.Skip(); err != nil {
				return err
			}
			continue
		}
		switch {
		case string(k) == "seq":
			rep.seq, err = r.ReadUint()
		case string(k) == "error":
			rep.failed = true
			if kind, _ := r.Peek(); kind == pack.KindStr {
				rep.errMsg, err = r.ReadStrBytes()
			} else {
				err = r.Skip()
			}
		case string(k) == "state":
			if kind, _ := r.Peek(); kind == pack.KindStr {
				rep.state, err = r.ReadStrBytes()
			} else {
				err = r.Skip()
			}
		case wantValue && string(k) == "value":
			if kind, _ := r.Peek(); kind == pack.KindStr {
				rep.value, err = r.ReadStrBytes()
			} else {
				err = r.Skip()
			}
		default:
			err = r.Skip()
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// errorText is the text of a failed reply, for reports.
func (rep *reply) errorText() string {
	if len(rep.errMsg) > 0 {
		return string(rep.errMsg)
	}
	return "error reply"
}
