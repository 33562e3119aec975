package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/distkv-go/distkv/core/change"
	"github.com/distkv-go/distkv/core/client"
	"github.com/distkv-go/distkv/core/literal"
	"github.com/distkv-go/distkv/core/path"
)

// inputError is bad input of a request: answered with 400 and the
// message, which says what and where.
type inputError struct{ msg string }

func (e *inputError) Error() string { return e.msg }

func badInput(format string, args ...any) error {
	return &inputError{fmt.Sprintf(format, args...)}
}

// readJSON decodes the request's JSON body into v: one object, no
// unknown fields, at most maxBody bytes.
func readJSON(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return badInput("reading the body: %v", err)
	}
	return decodeJSON(body, v)
}

func decodeJSON(body []byte, v any) error {
	if len(body) > maxBody {
		return badInput("the body is over %d bytes", maxBody)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.Is(err, io.EOF):
			return badInput("the body is empty: want a JSON object")
		case errors.Is(err, io.ErrUnexpectedEOF):
			return badInput("the body is not JSON: it ends in the middle of a value")
		case errors.As(err, &se):
			return badInput("the body is not JSON: %v (at byte %d)", se, se.Offset)
		case errors.As(err, &te):
			return badInput("the body's field %q: want %v, not %s", te.Field, te.Type, te.Value)
		}
		return badInput("the body: %v", err)
	}
	if dec.More() {
		return badInput("the body holds more than one JSON value")
	}
	return nil
}

// parsePath reads a path in text form ("" or ":" is the root) as the
// CLI does; what names the field goes into the error.
func parsePath(what, text string) (path.Path, error) {
	if text == "" {
		return path.Root, nil
	}
	p, err := path.Parse(text)
	if err != nil {
		return p, badInput("%s: %v", what, err)
	}
	return p, nil
}

// pathQuery reads the query parameter "path".
func pathQuery(r *http.Request) (path.Path, error) {
	return parsePath("path", r.URL.Query().Get("path"))
}

// parseLiteral reads a value typed as a literal, like `data set -e`.
func parseLiteral(text string) (any, error) {
	v, err := literal.Parse(text)
	if err != nil {
		return nil, badInput("value: %v", err)
	}
	return v, nil
}

// linkJSON is a chain link as the page holds it.
type linkJSON struct {
	Node string `json:"node"`
	Tick uint64 `json:"tick"`
}

func chainJSON(c client.Chain) []linkJSON {
	out := make([]linkJSON, 0, len(c))
	for _, l := range c {
		out = append(out, linkJSON{Node: l.Node, Tick: l.Tick})
	}
	return out
}

// precondition turns the chain the page read into a precondition: the
// newest link must still be the entry's; none means the entry must be
// new.
func precondition(links []linkJSON) (client.Option, error) {
	if len(links) == 0 {
		return client.IfNew(), nil
	}
	l := links[0]
	if l.Node == "" {
		return nil, badInput("chain: a link needs its node")
	}
	if l.Tick == 0 {
		return nil, badInput("chain: a link's tick starts at 1")
	}
	return client.IfChain(client.Chain{change.Link{Node: l.Node, Tick: l.Tick}}), nil
}

// limitQuery reads the query parameter "limit" (children per page).
func limitQuery(r *http.Request) (int, error) {
	s := r.URL.Query().Get("limit")
	if s == "" {
		return defaultPage, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxPage {
		return 0, badInput("limit %q: want 1 to %d", s, maxPage)
	}
	return n, nil
}
