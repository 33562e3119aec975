package console

import (
	"context"
	"net/http"
	"time"

	"github.com/distkv-go/distkv/core/literal"
	"github.com/distkv-go/distkv/errlog"
)

// recordJSON is an error record (package errlog) with its traces.
type recordJSON struct {
	At        string      `json:"at"` // the record's entry: what resolve takes
	Path      string      `json:"path"`
	Subsystem string      `json:"subsystem"`
	Severity  string      `json:"severity"`
	Resolved  bool        `json:"resolved"`
	Count     int64       `json:"count"`
	Node      string      `json:"node"`
	FirstSeen string      `json:"firstSeen,omitempty"`
	LastSeen  string      `json:"lastSeen,omitempty"`
	Traces    []traceJSON `json:"traces"`
}

type traceJSON struct {
	Node    string `json:"node"`
	Seen    string `json:"seen,omitempty"`
	Message string `json:"message,omitempty"`
	Trace   string `json:"trace,omitempty"`
	Comment string `json:"comment,omitempty"`
	Data    string `json:"data,omitempty"` // a literal
}

type errorsJSON struct {
	Records []recordJSON  `json:"records"`
	Invalid []invalidJSON `json:"invalid,omitempty"`
}

type invalidJSON struct {
	At    string `json:"at"`
	Error string `json:"error"`
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// errors lists the error records, open ones first, with their traces.
func (c *Console) errors(w http.ResponseWriter, r *http.Request, s *session) error {
	ctx, cancel := context.WithTimeout(r.Context(), requestLimit)
	defer cancel()
	l, err := errlog.Read(ctx, s.client, errlog.ReadOptions{Traces: true})
	if err != nil {
		return err
	}
	out := errorsJSON{Records: []recordJSON{}}
	for _, resolved := range []bool{false, true} {
		for i := range l.Records {
			rec := &l.Records[i]
			if rec.Resolved != resolved {
				continue
			}
			rj := recordJSON{At: rec.At.String(), Path: rec.Path.String(), Subsystem: rec.Subsystem, Severity: rec.Severity.String(),
				Resolved: rec.Resolved, Count: rec.Count, Node: rec.Node(), FirstSeen: stamp(rec.FirstSeen), LastSeen: stamp(rec.LastSeen), Traces: []traceJSON{}}
			for _, t := range rec.Traces {
				tj := traceJSON{Node: t.Node, Seen: stamp(t.Seen), Message: t.Message, Trace: t.Trace, Comment: t.Comment}
				if t.Data != nil {
					tj.Data = literal.Format(t.Data)
				}
				rj.Traces = append(rj.Traces, tj)
			}
			out.Records = append(out.Records, rj)
		}
	}
	for _, inv := range l.Invalid {
		out.Invalid = append(out.Invalid, invalidJSON{At: inv.At.String(), Error: inv.Err.Error()})
	}
	reply(w, http.StatusOK, out)
	return nil
}

type resolveJSON struct {
	At string `json:"at"`
}

// resolve marks the record at "at" resolved.
func (c *Console) resolve(w http.ResponseWriter, r *http.Request, s *session) error {
	var in resolveJSON
	if err := readJSON(r, &in); err != nil {
		return err
	}
	at, err := parsePath("at", in.At)
	if err != nil {
		return err
	}
	if !at.HasPrefix(errlog.Root) || at.Len() != errlog.Root.Len()+2 {
		return badInput("at %q: not an error record (%v NODE TOCK)", in.At, errlog.Root)
	}
	ctx, cancel := context.WithTimeout(r.Context(), requestLimit)
	defer cancel()
	l, err := errlog.Read(ctx, s.client, errlog.ReadOptions{})
	if err != nil {
		return err
	}
	for _, rec := range l.Records {
		if rec.At == at {
			if err := errlog.ResolveRecord(ctx, s.client, rec); err != nil {
				return err
			}
			reply(w, http.StatusOK, struct{}{})
			return nil
		}
	}
	reply(w, http.StatusNotFound, errorReply{Error: "no error record at " + in.At})
	return nil
}
