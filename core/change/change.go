// Package change holds what a change is as it travels between servers,
// clients and files: items, updates, links named by node, and the
// errors of failed preconditions. Both the tree and the protocol use
// these types, so that a client builds without the tree.
package change

import (
	"errors"
	"fmt"

	"github.com/distkv-go/distkv/core/chain"
	"github.com/distkv-go/distkv/core/path"
)

// Errors of preconditions; a *ConflictError wraps one of them.
var (
	ErrExists   = errors.New("entry already exists")
	ErrNotFound = errors.New("entry does not exist")
	ErrChain    = errors.New("entry was changed meanwhile")
	ErrPrev     = errors.New("entry does not have the expected value")
	ErrRoot     = errors.New("the root entry cannot be deleted")
)

// ConflictError is a failed precondition of a change.
type ConflictError struct {
	Path path.Path
	Err  error  // one of the sentinels above
	Have string // what the entry holds, for the message
	Want string // what the caller expected
}

func (e *ConflictError) Error() string {
	msg := fmt.Sprintf("%v at %v", e.Err, e.Path)
	if e.Have != "" || e.Want != "" {
		msg += fmt.Sprintf(": it is %s, not %s", e.Have, e.Want)
	}
	return msg
}

func (e *ConflictError) Unwrap() error { return e.Err }

// Item is an entry as it was at one moment. All fields are immutable and
// may be kept.
type Item struct {
	Path     path.Path
	Value    string // raw msgpack, if HasValue
	HasValue bool
	Head     chain.Link  // newest change; Head.Node is nil for an entry never set
	Older    chain.Chain // the links after Head (shared: do not modify)
	Tock     uint64
}

// Chain returns the full chain (allocates).
func (it *Item) Chain() chain.Chain {
	if it.Head.Node == nil {
		return nil
	}
	return append(chain.Chain{it.Head}, it.Older...)
}

// Update is a change made elsewhere (another node, or a log being
// loaded): the state an entry had after it.
type Update struct {
	Path     path.Path
	Value    []byte // raw msgpack; whoever applies it copies it
	HasValue bool
	Chain    []Link // newest first, by node name
	Tock     uint64
}

// Link names a chain link by node name, as updates and replies carry it.
type Link struct {
	Node string
	Tick uint64
}
