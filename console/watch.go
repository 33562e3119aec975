package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/distkv-go/distkv/core/client"
)

// keepAlive is how often a quiet event stream gets a comment, so that a
// browser that went away is noticed (the write fails) and proxies keep
// the stream open.
const keepAlive = 15 * time.Second

// watch streams the changes of a node and its children to the page as
// server-sent events: "ready" once the watch runs (changes after it are
// sent; the page loads the node after it), "entry" for each change (an
// entryJSON; hasValue false: deleted), "failed" when the watch ends with
// an error. It ends when the page goes (the request's context), the
// session ends, or the console closes.
func (c *Console) watch(w http.ResponseWriter, r *http.Request, s *session) error {
	p, err := pathQuery(r)
	if err != nil {
		return err
	}
	if !s.startWatch() {
		return errTooManyWatches
	}
	defer s.endWatch()
	rc := http.NewResponseController(w)
	// An event stream lives as long as the page: no write deadline.
	rc.SetWriteDeadline(time.Time{})
	ctx, cancel := mergeCancel(r.Context(), c.ctx)
	defer cancel()

	events := make(chan client.Event)
	errc := make(chan error, 1)
	go func() {
		defer close(events)
		// With fetch, the state comes first and the UpToDate marker after
		// it: from there on nothing is missed. The state itself is not
		// sent on: the page loads it (paged) after "ready".
		for ev, err := range s.client.Watch(ctx, p, client.WatchOptions{TreeOptions: client.TreeOptions{MaxDepth: 1, Empty: true, Chains: 1}, Fetch: true}) {
			if err != nil {
				errc <- err
				return
			}
			select {
			case events <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, ": watching\n\n")
	rc.Flush()

	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	upToDate := false
	send := func(event string, v any) bool {
		b, _ := json.Marshal(v)
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil || rc.Flush() != nil {
				return nil
			}
		case ev, ok := <-events:
			if !ok {
				var err error
				select {
				case err = <-errc:
				default:
					err = errors.New("the watch ended")
				}
				if ctx.Err() == nil {
					send("failed", errorReply{Error: err.Error(), Login: errors.Is(err, client.ErrClosed)})
				}
				return nil
			}
			switch {
			case ev.Resync:
				upToDate = false
			case ev.UpToDate:
				upToDate = true
				if !send("ready", struct{}{}) {
					return nil
				}
			case upToDate:
				full := p.Join(ev.Path)
				if !send("entry", toJSON(full, &ev.Entry, true)) {
					return nil
				}
			}
		}
	}
}
