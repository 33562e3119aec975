package console

import (
	"context"
	"errors"
	"net/http"

	"github.com/distkv-go/distkv/core/client"
	"github.com/distkv-go/distkv/core/literal"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/wire"
)

// maxListValue is how much of a value a row of children shows; the
// entry's own view shows all of it.
const maxListValue = 200

// entryJSON is an entry as the page shows it: the value as the CLI
// prints a literal (core/literal), which is also what an edit takes.
type entryJSON struct {
	Path      string     `json:"path"`           // text form
	Name      string     `json:"name,omitempty"` // the last element, text form
	HasValue  bool       `json:"hasValue"`
	Value     string     `json:"value,omitempty"`
	Truncated bool       `json:"truncated,omitempty"` // Value is cut to maxListValue characters
	Chain     []linkJSON `json:"chain,omitempty"`     // newest first
	Forbidden bool       `json:"forbidden,omitempty"` // the user may not read it (its children may be)
}

func toJSON(p path.Path, e *client.Entry, cut bool) entryJSON {
	out := entryJSON{Path: p.String(), HasValue: e.HasValue, Chain: chainJSON(e.Chain)}
	if !p.IsRoot() {
		out.Name = p.Last().String()
	}
	if e.HasValue {
		v, err := e.Value()
		if err != nil {
			out.Value = "<cannot decode: " + err.Error() + ">"
		} else {
			out.Value = literal.Format(v)
		}
		if r := []rune(out.Value); cut && len(r) > maxListValue {
			out.Value, out.Truncated = string(r[:maxListValue])+"…", true
		}
	}
	return out
}

// treeJSON is one page of a node's children.
type treeJSON struct {
	Path     string      `json:"path"`
	Entry    *entryJSON  `json:"entry,omitempty"` // the node itself, on the first page
	Children []entryJSON `json:"children"`
	More     bool        `json:"more"` // there are children after these: ask with after=Next
	Next     string      `json:"next,omitempty"`
}

// tree serves a page of the children of path, in path order, starting
// after the child "after" (a full path, as Next gives it). The server
// walks the children from the first each time (it has no cursor), and
// the walk stops once the page is full: a page costs the children before
// it, a page of names, never the whole list.
func (c *Console) tree(w http.ResponseWriter, r *http.Request, s *session) error {
	p, err := pathQuery(r)
	if err != nil {
		return err
	}
	limit, err := limitQuery(r)
	if err != nil {
		return err
	}
	var after path.Path
	hasAfter := r.URL.Query().Has("after")
	if hasAfter {
		if after, err = parsePath("after", r.URL.Query().Get("after")); err != nil {
			return err
		}
		if after.Parent() != p || after.IsRoot() {
			return badInput("after %q is not a child of %q", after, p)
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), requestLimit)
	defer cancel()
	out := treeJSON{Path: p.String(), Children: []entryJSON{}}
	if !hasAfter {
		e, err := s.client.Get(ctx, p)
		var ej entryJSON
		switch {
		case err == nil:
			ej = toJSON(p, &e, false)
		case errors.Is(err, wire.ErrAccess):
			// An ACL may allow the children but not the node.
			ej = toJSON(p, &client.Entry{}, false)
			ej.Forbidden = true
		default:
			return err
		}
		out.Entry = &ej
	}
	for e, err := range s.client.GetTree(ctx, p, client.TreeOptions{MinDepth: 1, MaxDepth: 1, Empty: true}) {
		if err != nil {
			return err
		}
		full := p.Join(e.Path)
		if hasAfter && path.Compare(full, after) <= 0 {
			continue
		}
		if len(out.Children) == limit {
			out.More = true
			break
		}
		out.Children = append(out.Children, toJSON(full, &e, true))
	}
	if out.More {
		out.Next = out.Children[len(out.Children)-1].Path
	}
	reply(w, http.StatusOK, out)
	return nil
}

func (c *Console) getEntry(w http.ResponseWriter, r *http.Request, s *session) error {
	p, err := pathQuery(r)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), requestLimit)
	defer cancel()
	e, err := s.client.Get(ctx, p)
	if err != nil {
		return err
	}
	reply(w, http.StatusOK, toJSON(p, &e, false))
	return nil
}

// changeJSON is the body of PUT and DELETE /api/entry.
type changeJSON struct {
	Path  string     `json:"path"`
	Value *string    `json:"value"` // PUT: the value as a literal
	Chain []linkJSON `json:"chain"` // the chain as read: the precondition; empty: the entry must be new
}

func readChange(r *http.Request, needValue bool) (path.Path, changeJSON, error) {
	var in changeJSON
	if err := readJSON(r, &in); err != nil {
		return path.Root, in, err
	}
	if in.Path == "" {
		return path.Root, in, badInput("path: missing")
	}
	p, err := parsePath("path", in.Path)
	if err != nil {
		return p, in, err
	}
	if p.IsRoot() {
		return p, in, badInput("path: the root holds no value of its own here: pick an entry")
	}
	if needValue && in.Value == nil {
		return p, in, badInput("value: missing")
	}
	if !needValue && in.Value != nil {
		return p, in, badInput("value: a delete takes none")
	}
	return p, in, nil
}

func (c *Console) setEntry(w http.ResponseWriter, r *http.Request, s *session) error {
	p, in, err := readChange(r, true)
	if err != nil {
		return err
	}
	v, err := parseLiteral(*in.Value)
	if err != nil {
		return err
	}
	pre, err := precondition(in.Chain)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), requestLimit)
	defer cancel()
	res, err := s.client.Set(ctx, p, v, pre)
	if err != nil {
		return c.conflict(ctx, w, s, p, err)
	}
	e := client.Entry{Path: p, HasValue: true, Chain: res.Chain}
	out := toJSON(p, &e, false)
	out.Value = literal.Format(v)
	reply(w, http.StatusOK, out)
	return nil
}

func (c *Console) deleteEntry(w http.ResponseWriter, r *http.Request, s *session) error {
	p, in, err := readChange(r, false)
	if err != nil {
		return err
	}
	if len(in.Chain) == 0 {
		return badInput("chain: a delete needs the chain of the entry as read")
	}
	pre, err := precondition(in.Chain)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), requestLimit)
	defer cancel()
	if _, err := s.client.Delete(ctx, p, pre); err != nil {
		return c.conflict(ctx, w, s, p, err)
	}
	reply(w, http.StatusOK, entryJSON{Path: p.String(), Name: p.Last().String()})
	return nil
}

// conflict answers a failed change: a failed precondition with 409 and
// the entry as it is now, anything else as an error.
func (c *Console) conflict(ctx context.Context, w http.ResponseWriter, s *session, p path.Path, err error) error {
	var ce *client.ConflictError
	if !errors.As(err, &ce) {
		return err
	}
	out := errorReply{Error: "conflict: the entry changed since you read it (" + ce.Error() + ")", Conflict: true}
	if e, gerr := s.client.Get(ctx, p); gerr == nil {
		cur := toJSON(p, &e, false)
		out.Current = &cur
	}
	reply(w, http.StatusConflict, out)
	return nil
}
