package wire

import (
	"errors"
	"fmt"

	"github.com/distkv-go/distkv/core/change"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
)

// AppendUpdate appends an entry's state as an update record, the form in
// which changes go to log files and to other servers:
//
//	{path: ext3, value: raw (absent when deleted), chain: {node, tick, prev}, tock}
func AppendUpdate(b []byte, it *change.Item) []byte {
	m := Begin(b)
	m.Path("path", it.Path)
	if it.HasValue {
		m.Raw("value", it.Value)
	}
	m.Chain("chain", it.Head, it.Older, -1)
	m.Uint("tock", it.Tock)
	return m.End()
}

// DecodeUpdate reads an update record. The value is not validated, and
// it shares memory with raw. Node names go through intern (nil: none), so
// that a long stream of records need not allocate them again and again.
func DecodeUpdate(raw []byte, intern func([]byte) string) (change.Update, error) {
	var u change.Update
	r := pack.NewReader(raw)
	n, err := r.ReadMapHeader()
	if err != nil {
		return u, err
	}
	hasPath := false
	for range n {
		k, err := r.ReadStrBytes()
		if err != nil {
			return u, err
		}
		switch string(k) {
		case "path":
			if u.Path, err = path.Read(r); err != nil {
				return u, fmt.Errorf("path: %w", err)
			}
			hasPath = true
		case "value":
			if u.Value, err = r.Raw(); err != nil {
				return u, fmt.Errorf("value: %w", err)
			}
			u.HasValue = true
		case "chain":
			if u.Chain, err = readChain(r, intern); err != nil {
				return u, fmt.Errorf("chain: %w", err)
			}
		case "tock":
			if u.Tock, err = r.ReadUint(); err != nil {
				return u, fmt.Errorf("tock: %w", err)
			}
		default:
			if err := r.Skip(); err != nil {
				return u, err
			}
		}
	}
	if !hasPath || len(u.Chain) == 0 {
		return u, errors.New("an update record needs a path and a chain")
	}
	return u, nil
}

// readChain reads nested {node, tick, prev} maps into links.
func readChain(r *pack.Reader, intern func([]byte) string) ([]change.Link, error) {
	if intern == nil {
		intern = func(b []byte) string { return string(b) }
	}
	return readChainDepth(r, intern, 0)
}

func readChainDepth(r *pack.Reader, intern func([]byte) string, depth int) ([]change.Link, error) {
	if r.TryNil() {
		return nil, nil
	}
	if depth > 100 {
		return nil, errors.New("chain too long")
	}
	n, err := r.ReadMapHeader()
	if err != nil {
		return nil, err
	}
	var l change.Link
	var rest []change.Link
	hasNode := false
	for range n {
		k, err := r.ReadStrBytes()
		if err != nil {
			return nil, err
		}
		switch string(k) {
		case "node":
			var b []byte
			b, err = r.ReadStrBytes()
			l.Node = intern(b)
			hasNode = true
		case "tick":
			l.Tick, err = r.ReadUint()
		case "prev":
			rest, err = readChainDepth(r, intern, depth+1)
		default:
			err = r.Skip()
		}
		if err != nil {
			return nil, err
		}
	}
	if !hasNode {
		return nil, errors.New("a chain link needs a node")
	}
	return append([]change.Link{l}, rest...), nil
}
