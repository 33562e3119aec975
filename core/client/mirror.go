package client

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/distkv-go/distkv/core/path"
)

// Mirror keeps a subtree in memory, in sync with the server: the
// tutorial's "active objects". It is safe for concurrent use.
type Mirror struct {
	prefix path.Path
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.RWMutex // protects the fields below
	entries map[path.Path]Entry
	err     error
}

// MirrorOptions configure a Mirror.
type MirrorOptions struct {
	// OnChange is called for every change after the initial state is in,
	// in order, from the mirror's goroutine. It may read the mirror, but
	// must not close it. It may block, but changes wait meanwhile in the
	// watch's queue: when more than Config.Queue wait, the mirror stops
	// with ErrOverflow (see Err). For a deletion, e.HasValue is false.
	// After a reconnect (Config.Reconnect) the mirror takes the server's
	// state again: OnChange is called for the entries that changed and,
	// with HasValue false, for those deleted while the client was
	// disconnected.
	OnChange func(e Entry)
	// OnState is called once for every entry of the initial state.
	OnState func(e Entry)
}

// Mirror starts mirroring the subtree at p and returns once the initial
// state is in memory.
func (c *Client) Mirror(ctx context.Context, p path.Path, o MirrorOptions) (*Mirror, error) {
	ctx, cancel := context.WithCancel(ctx)
	m := &Mirror{prefix: p, cancel: cancel, done: make(chan struct{}), entries: map[path.Path]Entry{}}
	ready := make(chan error, 1)
	go func() {
		defer close(m.done)
		upToDate := false
		var seen map[path.Path]bool // during a resync: what the new state holds
		for ev, err := range c.Watch(ctx, p, WatchOptions{Fetch: true, TreeOptions: TreeOptions{Chains: -1}}) {
			if err != nil {
				if ctx.Err() != nil {
					err = ErrClosed
				}
				m.mu.Lock()
				m.err = err
				m.mu.Unlock()
				if !upToDate {
					ready <- err
				}
				return
			}
			if ev.Resync {
				seen = make(map[path.Path]bool)
				continue
			}
			if ev.UpToDate {
				for _, gone := range m.drop(seen) {
					if upToDate && o.OnChange != nil {
						o.OnChange(gone)
					}
				}
				seen = nil
				if !upToDate {
					upToDate = true
					ready <- nil
				}
				continue
			}
			if seen != nil {
				seen[ev.Path] = true
			}
			changed := m.apply(ev.Entry)
			switch {
			case seen != nil && !changed:
				// The new state after a reconnect: nothing new here.
			case !upToDate && o.OnState != nil:
				o.OnState(ev.Entry)
			case upToDate && o.OnChange != nil:
				o.OnChange(ev.Entry)
			}
		}
	}()
	select {
	case err := <-ready:
		if err != nil {
			cancel()
			<-m.done
			return nil, err
		}
		return m, nil
	case <-ctx.Done():
		cancel()
		<-m.done
		return nil, ctx.Err()
	}
}

// apply records e and reports whether it differs from what the mirror had.
func (m *Mirror) apply(e Entry) (changed bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	old, had := m.entries[e.Path]
	if e.HasValue {
		m.entries[e.Path] = e
	} else {
		delete(m.entries, e.Path)
	}
	if !had || !e.HasValue {
		return had || e.HasValue
	}
	return len(old.Chain) == 0 || len(e.Chain) == 0 || old.Chain[0] != e.Chain[0]
}

// drop removes the entries that are not in seen and returns them as
// deletions, in path order. With seen nil (no resync), it does nothing.
func (m *Mirror) drop(seen map[path.Path]bool) []Entry {
	if seen == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var gone []Entry
	for p, e := range m.entries {
		if !seen[p] {
			delete(m.entries, p)
			gone = append(gone, Entry{Path: p, Tock: e.Tock})
		}
	}
	slices.SortFunc(gone, func(a, b Entry) int { return path.Compare(a.Path, b.Path) })
	return gone
}

// Get returns the mirrored entry at p, relative to the mirrored path.
func (m *Mirror) Get(p path.Path) (Entry, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	e, ok := m.entries[p]
	return e, ok
}

// Entries returns the mirrored entries with a value, in path order.
func (m *Mirror) Entries() []Entry {
	m.mu.RLock()
	es := make([]Entry, 0, len(m.entries))
	for _, e := range m.entries {
		es = append(es, e)
	}
	m.mu.RUnlock()
	slices.SortFunc(es, func(a, b Entry) int { return path.Compare(a.Path, b.Path) })
	return es
}

// Range calls fn for each mirrored entry with a value, in no order, until
// fn returns false. The mirror takes no changes meanwhile: fn must be
// quick and must not wait for the mirror.
func (m *Mirror) Range(fn func(Entry) bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, e := range m.entries {
		if !fn(e) {
			return
		}
	}
}

// Len returns the number of mirrored entries with a value.
func (m *Mirror) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.entries)
}

// Err tells why the mirror stopped following the server, if it did.
func (m *Mirror) Err() error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.err
}

// Close stops following the server; the entries stay readable.
func (m *Mirror) Close() error {
	m.cancel()
	<-m.done
	if err := m.Err(); err != nil && !errors.Is(err, ErrClosed) {
		return err
	}
	return nil
}
