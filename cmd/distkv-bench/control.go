package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/wire"
)

// request sends one request (args adds the pairs after action) on a
// connection of its own and waits for its reply; an error reply becomes
// the error. For the few control requests of a run: log, save.
func request(ctx context.Context, addr, action string, args func(m *wire.Msg)) error {
	c, err := dialCtl(ctx, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.call(ctx, action, args)
	return err
}

// startLog turns on the server's change log into file (`log dest`).
func startLog(ctx context.Context, addr, file string) error {
	return request(ctx, addr, "log", func(m *wire.Msg) { m.Str("path", file) })
}

// save makes the server write a save file (`log save`).
func save(ctx context.Context, addr, file string) error {
	return request(ctx, addr, "save", func(m *wire.Msg) { m.Str("path", file) })
}

// hasValue tells whether the entry at p holds a (string) value.
func hasValue(ctx context.Context, addr string, p path.Path) (bool, error) {
	c, err := dialCtl(ctx, addr)
	if err != nil {
		return false, err
	}
	defer c.Close()
	v, err := c.value(ctx, p)
	return v != nil, err
}

// ctlConn is a connection for control requests, one at a time: the
// polls and checks of the cluster workloads. Not safe for concurrent use.
type ctlConn struct {
	addr string
	nc   net.Conn
	fr   *wire.Framer
	seq  uint64
	r    pack.Reader
}

func dialCtl(ctx context.Context, addr string) (*ctlConn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", addr, err)
	}
	return &ctlConn{addr: addr, nc: nc, fr: wire.NewFramer(nc, 256<<20)}, nil
}

func (c *ctlConn) Close() error { return c.nc.Close() }

// call sends a request and returns its reply (of a stream, the last),
// which is valid until the next call; an error reply becomes the error.
func (c *ctlConn) call(ctx context.Context, action string, args func(m *wire.Msg)) ([]byte, error) {
	stop := context.AfterFunc(ctx, func() { c.nc.SetDeadline(time.Now()) })
	defer stop()
	c.seq++
	m := wire.Begin(nil)
	m.Uint("seq", c.seq)
	m.Str("action", action)
	if args != nil {
		args(&m)
	}
	if _, err := c.nc.Write(m.End()); err != nil {
		return nil, fmt.Errorf("%s on %s: %w", action, c.addr, err)
	}
	var rep reply
	for {
		msg, err := c.fr.Next()
		if err != nil {
			return nil, fmt.Errorf("%s on %s: %w", action, c.addr, err)
		}
		if err := scanReply(&c.r, msg, false, &rep); err != nil {
			return nil, fmt.Errorf("%s on %s: %w", action, c.addr, err)
		}
		if rep.seq != c.seq {
			continue // the greeting
		}
		if rep.failed {
			return nil, fmt.Errorf("%s on %s: %w", action, c.addr, errors.New(rep.errorText()))
		}
		if rep.state != nil && string(rep.state) != "end" {
			continue // a stream goes on
		}
		return msg, nil
	}
}

// nodeTicks is what get_state says of one origin node's changes.
type nodeTicks struct {
	top     uint64 // the highest tick of the origin known here
	missing bool   // some tick up to top has not been seen here
}

// ticksOf asks the server about the changes of origin: how far it knows
// of them and whether any is missing (get_state nodes, missing).
func (c *ctlConn) ticksOf(ctx context.Context, origin string) (nodeTicks, error) {
	msg, err := c.call(ctx, "get_state", func(m *wire.Msg) {
		m.Bool("nodes", true)
		m.Bool("missing", true)
	})
	if err != nil {
		return nodeTicks{}, err
	}
	var nt nodeTicks
	err = scanMap(&c.r, msg, func(k []byte) error {
		switch string(k) {
		case "nodes":
			return scanMap(&c.r, nil, func(node []byte) error {
				tick, err := c.r.ReadUint()
				if string(node) == origin {
					nt.top = tick
				}
				return err
			})
		case "missing":
			return scanMap(&c.r, nil, func(node []byte) error {
				if string(node) == origin {
					nt.missing = true
				}
				return c.r.Skip()
			})
		}
		return c.r.Skip()
	})
	if err != nil {
		return nt, fmt.Errorf("get_state on %s: %w", c.addr, err)
	}
	return nt, nil
}

// count returns how many children of p hold a value (enum).
func (c *ctlConn) count(ctx context.Context, p path.Path) (int, error) {
	msg, err := c.call(ctx, "enum", func(m *wire.Msg) { m.Path("path", p) })
	if err != nil {
		return 0, err
	}
	n := -1
	err = scanMap(&c.r, msg, func(k []byte) error {
		if string(k) != "result" {
			return c.r.Skip()
		}
		var err error
		n, err = c.r.ReadArrayHeader()
		for i := 0; err == nil && i < n; i++ {
			err = c.r.Skip()
		}
		return err
	})
	if err == nil && n < 0 {
		err = errors.New("no result")
	}
	if err != nil {
		return 0, fmt.Errorf("enum on %s: %w", c.addr, err)
	}
	return n, nil
}

// scanMap reads a map of string keys with r (from msg, unless msg is nil:
// then at r's position) and calls each with its key; each must read or
// skip the value.
func scanMap(r *pack.Reader, msg []byte, each func(k []byte) error) error {
	if msg != nil {
		r.Reset(msg)
	}
	return r.ReadMap(each)
}

// value returns the string value at p (nil: none, or not a string).
func (c *ctlConn) value(ctx context.Context, p path.Path) ([]byte, error) {
	msg, err := c.call(ctx, "get_value", func(m *wire.Msg) { m.Path("path", p) })
	if err != nil {
		return nil, err
	}
	var rep reply
	if err := scanReply(&c.r, msg, true, &rep); err != nil {
		return nil, err
	}
	return rep.value, nil
}

// setValue sets the string value at p.
func (c *ctlConn) setValue(ctx context.Context, p path.Path, v string) error {
	_, err := c.call(ctx, "set_value", func(m *wire.Msg) {
		m.Path("path", p)
		m.Key("value")
		m.B = pack.AppendString(m.B, v)
	})
	return err
}
