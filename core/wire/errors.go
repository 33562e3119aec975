package wire

import (
	"errors"
	"fmt"

	"github.com/distkv-go/distkv/core/change"
)

// Errors of the protocol itself.
var (
	ErrBadRequest    = errors.New("malformed request")
	ErrUnknownAction = errors.New("unknown action")
	ErrBadValue      = errors.New("invalid value")
	ErrOverflow      = errors.New("the client does not read fast enough")
	ErrNoData        = errors.New("no such entry")
	ErrInternal      = errors.New("internal server error")
	ErrAccess        = errors.New("access denied")
	ErrLog           = errors.New("the change log failed")
	// ErrUnconfirmed: a change was applied on the server the client
	// talks to, but no other server confirmed it in time (ack: peer). It
	// may or may not survive that server's death.
	ErrUnconfirmed = errors.New("no other server confirmed the change")
	// ErrAuthRequired: logins are on and the connection has not logged in.
	ErrAuthRequired = errors.New("log in first")
	// ErrLogin: a login failed (unknown user or wrong password: which of
	// the two is not said).
	ErrLogin = errors.New("login failed")
)

// codes is the one table that maps errors to the "etype" of an error
// reply and back, so that a client returns the error the server raised.
var codes = []struct {
	code string
	err  error
}{
	{"exists", change.ErrExists},
	{"not_found", change.ErrNotFound},
	{"chain", change.ErrChain},
	{"prev", change.ErrPrev},
	{"root", change.ErrRoot},
	{"request", ErrBadRequest},
	{"action", ErrUnknownAction},
	{"value", ErrBadValue},
	{"overflow", ErrOverflow},
	{"too_big", ErrTooBig},
	{"no_data", ErrNoData},
	{"internal", ErrInternal},
	{"access", ErrAccess},
	{"log", ErrLog},
	{"unconfirmed", ErrUnconfirmed},
	{"auth_required", ErrAuthRequired},
	{"login", ErrLogin},
}

// Code returns the etype for err ("" if err matches no entry).
func Code(err error) string {
	for _, c := range codes {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return ""
}

// ServerError is an error reply, as a client sees it. It unwraps to the
// error the etype names, so errors.Is(err, change.ErrChain) works on the
// client too.
type ServerError struct {
	Msg   string
	EType string
}

func (e *ServerError) Error() string { return e.Msg }

// Unwrap returns the sentinel error named by EType, or nil.
func (e *ServerError) Unwrap() error {
	for _, c := range codes {
		if c.code == e.EType {
			return c.err
		}
	}
	return nil
}

// AckLevel says when a server acknowledges a change (set_value and
// delete_value's "ack" field; server.ack is the server's default).
type AckLevel uint8

const (
	AckDefault AckLevel = iota // the server's default (not sent)
	// AckLocal acknowledges a change once it is applied on the server
	// the client talks to (and on its disk, with server.log.sync
	// always). Should that server die before it passed the change on and
	// with no log, the change is gone.
	AckLocal
	// AckPeer acknowledges a change once at least one other server of
	// the network has applied it too, so that no single server's death
	// loses it.
	AckPeer
)

var ackLevels = [...]string{"", "local", "peer"}

func (a AckLevel) String() string {
	if int(a) < len(ackLevels) {
		return ackLevels[a]
	}
	return "AckLevel(?)"
}

// ParseAckLevel reads "local" or "peer".
func ParseAckLevel(s string) (AckLevel, error) {
	switch s {
	case "local":
		return AckLocal, nil
	case "peer":
		return AckPeer, nil
	}
	return AckDefault, fmt.Errorf("acknowledgement level %q: want local or peer", s)
}
