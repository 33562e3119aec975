package wire

import (
	"errors"

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
