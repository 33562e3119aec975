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

// request sends one request (seq 1; args adds the pairs after action) on
// a connection of its own and waits for its reply; an error reply becomes
// the error. For the few control requests of a run: log, save.
func request(ctx context.Context, addr, action string, args func(m *wire.Msg)) error {
	_, err := requestValue(ctx, addr, action, args)
	return err
}

// requestValue is request that also says whether the reply had a value
// (a string, as the benchmark writes them).
func requestValue(ctx context.Context, addr, action string, args func(m *wire.Msg)) (bool, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false, fmt.Errorf("connect to %s: %w", addr, err)
	}
	defer nc.Close()
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Now()) })
	defer stop()
	m := wire.Begin(nil)
	m.Uint("seq", 1)
	m.Str("action", action)
	if args != nil {
		args(&m)
	}
	if _, err := nc.Write(m.End()); err != nil {
		return false, fmt.Errorf("%s: %w", action, err)
	}
	fr := wire.NewFramer(nc, 64<<20)
	var r pack.Reader
	var rep reply
	for {
		msg, err := fr.Next()
		if err != nil {
			return false, fmt.Errorf("%s: %w", action, err)
		}
		if err := scanReply(&r, msg, true, &rep); err != nil {
			return false, fmt.Errorf("%s: %w", action, err)
		}
		if rep.seq != 1 {
			continue
		}
		if rep.failed {
			return false, fmt.Errorf("%s: %w", action, errors.New(rep.errorText()))
		}
		if rep.state == nil || string(rep.state) == "end" {
			return rep.value != nil, nil
		}
	}
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
	return requestValue(ctx, addr, "get_value", func(m *wire.Msg) { m.Path("path", p) })
}
