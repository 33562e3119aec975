package client

import (
	"context"
	"errors"
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
	// in order, from the mirror's goroutine: it may block (changes wait)
	// and may read the mirror, but must not close it. For a deletion,
	// e.HasValue is false.
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
			if ev.UpToDate {
				upToDate = true
				ready <- nil
				continue
			}
			m.mu.Lock()
			if ev.HasValue {
				m.entries[ev.Path] = ev.Entry
			} else {
				delete(m.entries, ev.Path)
			}
			m.mu.Unlock()
			switch {
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

// Get returns the mirrored entry at p, relative to the mirrored path.
func (m *Mirror) Get(p path.Path) (Entry, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	e, ok := m.entries[p]
	return e, ok
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
