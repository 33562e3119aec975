package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/distkv-go/distkv/core/auth"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/wire"
)

// Lua types and codecs in a run (issue 14).
//
// --types: before the run, as root, the tool stores the tutorial's types
// int and int.percent (the records `type set` writes) and a match
// PREFIX.# → int.percent, which covers every key of the workload; the
// workload's values are the integers key % 101, so every set runs both
// scripts and passes.
//
// --codec: as root, the tutorial's codec float.str, a convert list
// codecList mapping PREFIX.# to it, a _test user aclName bound to the list
// (aux {codec: codecList}, beside {acl: …} with --acl) and a _test user
// root; logins on. The prefill (as root) writes the floats key + 0.25;
// every connection of the workload logs in as aclName, so a get reads the
// value through encode (the string "42.25") and a set of mixed sends such
// a string, which decode stores as the float.
//
// -w memtypes: N types and N codecs, each with its own code and
// examples, stored in a fresh server; the server's RSS before and after.

// codecList is the convert list of --codec.
const codecList = "bench"

// The tutorial's records (cmd/distkv/testdata/tutorial.txt, Verification
// and Data mangling), as `type set` and `codec set` write them.
var (
	intType = pack.Map{
		{Key: "code", Value: `if type(value) ~= "number" or value ~= math.floor(value) then error("not an integer") end`},
		{Key: "good", Value: []any{0, -2, 123}},
		{Key: "bad", Value: []any{1.2, "Hello"}},
	}
	percentType = pack.Map{
		{Key: "code", Value: `if value < 0 or value > 100 then error("not a percentage") end`},
		{Key: "good", Value: []any{0, 99, 100}},
		{Key: "bad", Value: []any{-1, 101}},
	}
	floatStrCodec = pack.Map{
		{Key: "encode", Value: "return tostring(value)\n"},
		{Key: "decode", Value: "return tonumber(value)\n"},
		{Key: "in", Value: []any{[]any{"12.5", 12.5}}},
		{Key: "out", Value: []any{[]any{13.25, "13.25"}}},
	}
	percentName  = path.Must("int", "percent")
	floatStrName = path.Must("float", "str")
)

// readyTimeout bounds the wait for a server to compile what the setup
// stored (it does so asynchronously, within a second).
const readyTimeout = 30 * time.Second

// asRoot runs fn on a new connection to addr, logged in as the _test user
// rootUser if logins are on already; flag names the setup in errors.
func asRoot(ctx context.Context, addr, flag string, fn func(c *ctlConn) error) error {
	c, err := dialCtl(ctx, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if cur, err := c.hello(ctx); err != nil {
		return err
	} else if cur != "" {
		if cur != auth.Test {
			return fmt.Errorf("%s: the server at %s has logins on using %s; the tool sets up _test users (use a fresh server)", flag, addr, cur)
		}
		if err := c.testLogin(ctx, rootUser); err != nil {
			return fmt.Errorf("%s: %w", flag, err)
		}
	}
	if err := fn(c); err != nil {
		return fmt.Errorf("%s: %w", flag, err)
	}
	return nil
}

// setInternal sets a system entry.
func (c *ctlConn) setInternal(ctx context.Context, p path.Path, v any) error {
	_, err := c.call(ctx, wire.SetInternal, func(m *wire.Msg) {
		m.Path("path", p)
		m.Key("value")
		m.B, _ = pack.Append(m.B, v)
	})
	return err
}

// retry calls fn until it succeeds or readyTimeout passes: what the
// server compiles from the system tree lags the stores by a moment.
func retry(ctx context.Context, fn func() error) error {
	deadline := time.Now().Add(readyTimeout)
	for {
		err := fn()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// probeKey is a path below the prefix that no workload key is (keys are
// keyDigits digits).
func probeKey(prefix path.Path) path.Path { return prefix.Child(path.Str("probe")) }

// setupTypes stores int, int.percent and the match PREFIX.# → int.percent
// as root, and returns once a set below the prefix is checked.
func setupTypes(ctx context.Context, addr string, prefix path.Path) error {
	return asRoot(ctx, addr, "--types", func(c *ctlConn) error {
		if err := c.setInternal(ctx, path.Must("type", "int"), intType); err != nil {
			return fmt.Errorf("type int: %w", err)
		}
		// Its examples are checked against int, once the server has
		// compiled int.
		if err := retry(ctx, func() error {
			return c.setInternal(ctx, path.Must("type").Join(percentName), percentType)
		}); err != nil {
			return fmt.Errorf("type int.percent: %w", err)
		}
		match := path.Must("match").Join(prefix).Child(path.Str("#"))
		if err := retry(ctx, func() error {
			return c.setInternal(ctx, match, pack.Map{{Key: "type", Value: percentName}})
		}); err != nil {
			return fmt.Errorf("match %v.#: %w", prefix, err)
		}
		// A value that is no percentage must be refused: then the match
		// holds.
		return retry(ctx, func() error {
			err := c.setValueAny(ctx, probeKey(prefix), 123)
			switch {
			case err == nil:
				return errors.New("the server stored 123 at a path that int.percent checks: are types wired in? (--in-process has none)")
			case strings.Contains(err.Error(), "not a percentage"):
				return nil
			}
			return err
		})
	})
}

// setValueAny sets the value v (anything core/pack encodes) at p.
func (c *ctlConn) setValueAny(ctx context.Context, p path.Path, v any) error {
	_, err := c.call(ctx, wire.SetValue, func(m *wire.Msg) {
		m.Path("path", p)
		m.Key("value")
		m.B, _ = pack.Append(m.B, v)
	})
	return err
}

// setupCodec stores float.str and the convert list codecList as root.
// The user bound to it is set up by setupLogins.
func setupCodec(ctx context.Context, addr string, prefix path.Path) error {
	return asRoot(ctx, addr, "--codec", func(c *ctlConn) error {
		if err := c.setInternal(ctx, path.Must("codec").Join(floatStrName), floatStrCodec); err != nil {
			return fmt.Errorf("codec float.str: %w", err)
		}
		conv := path.Must("conv", codecList).Join(prefix).Child(path.Str("#"))
		if err := retry(ctx, func() error {
			return c.setInternal(ctx, conv, pack.Map{{Key: "codec", Value: floatStrName}})
		}); err != nil {
			return fmt.Errorf("convert list %s: %w", codecList, err)
		}
		return nil
	})
}

// waitCodec returns once the user aclName reads a float below the prefix
// as a string: the codec, the list and the binding are compiled.
func waitCodec(ctx context.Context, addr string, prefix path.Path) error {
	probe := probeKey(prefix)
	if err := asRoot(ctx, addr, "--codec", func(c *ctlConn) error {
		return c.setValueAny(ctx, probe, 1.25)
	}); err != nil {
		return err
	}
	c, err := dialCtl(ctx, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.hello(ctx); err != nil {
		return err
	}
	if err := c.testLogin(ctx, aclName); err != nil {
		return fmt.Errorf("--codec: %w", err)
	}
	return retry(ctx, func() error {
		v, err := c.value(ctx, probe)
		switch {
		case err != nil:
			return fmt.Errorf("--codec: %w", err)
		case string(v) != "1.25":
			return fmt.Errorf("--codec: user %s reads the float 1.25 at %v not as the string \"1.25\": are codecs wired in? (--in-process has none)", aclName, probe)
		}
		return nil
	})
}

// defaultMemTypes is -n of -w memtypes.
const defaultMemTypes = 10_000

// memType is type number i of -w memtypes: int.mI, a subtype of the
// tutorial's int, with code and examples of its own (each script text
// differs, so none shares another's compiled prototype).
func memType(i int) (path.Path, pack.Map) {
	top := i + 1
	return path.Must("int", fmt.Sprintf("m%d", i)), pack.Map{
		{Key: "code", Value: fmt.Sprintf("if value < 0 or value > %d then error(\"not in 0…%d\") end", top, top)},
		{Key: "good", Value: []any{0, top}},
		{Key: "bad", Value: []any{-1, top + 1}},
	}
}

// memCodec is codec number i of -w memtypes: bench.cI scales by i+1.
func memCodec(i int) (path.Path, pack.Map) {
	k := i + 1
	return path.Must("bench", fmt.Sprintf("c%d", i)), pack.Map{
		{Key: "encode", Value: fmt.Sprintf("return tostring(value * %d)\n", k)},
		{Key: "decode", Value: fmt.Sprintf("return tonumber(value) / %d\n", k)},
		{Key: "in", Value: []any{[]any{fmt.Sprint(2 * k), 2}}},
		{Key: "out", Value: []any{[]any{3, fmt.Sprint(3 * k)}}},
	}
}

// memTypes runs -w memtypes: a fresh server's RSS, then N types and N
// codecs stored one after another (each refused unless its examples
// hold), and its RSS once it has compiled them all.
func (b *bench) memTypes(ctx context.Context, res *Result) error {
	n := int(b.cli.Requests)
	if n <= 0 {
		n = defaultMemTypes
	}
	t, err := b.target(ctx)
	if err != nil {
		return err
	}
	defer t.close()
	if t.pid == 0 {
		return errors.New("memtypes reports the server's RSS: give --pid of the --host server")
	}
	empty, err := readMemory(t.pid)
	if err != nil {
		return fmt.Errorf("server memory: %w", err)
	}
	t0 := time.Now()
	err = asRoot(ctx, t.addr, "memtypes", func(c *ctlConn) error {
		if err := c.setInternal(ctx, path.Must("type", "int"), intType); err != nil {
			return fmt.Errorf("type int: %w", err)
		}
		for i := range n {
			name, rec := memType(i)
			set := func() error { return c.setInternal(ctx, path.Must("type").Join(name), rec) }
			var err error
			if i == 0 {
				// Its examples are checked against int, once the server
				// has compiled int.
				err = retry(ctx, set)
			} else {
				err = set()
			}
			if err != nil {
				return fmt.Errorf("type %v: %w", name, err)
			}
			name, rec = memCodec(i)
			if err := c.setInternal(ctx, path.Must("codec").Join(name), rec); err != nil {
				return fmt.Errorf("codec %v: %w", name, err)
			}
		}
		// The last of each is compiled once a match and a conversion
		// may name it; then every one before it is.
		lastType, _ := memType(n - 1)
		lastCodec, _ := memCodec(n - 1)
		return retry(ctx, func() error {
			if err := c.setInternal(ctx, path.Must("match", "memtypes", "#"), pack.Map{{Key: "type", Value: lastType}}); err != nil {
				return err
			}
			return c.setInternal(ctx, path.Must("conv", "memtypes", "memtypes", "#"), pack.Map{{Key: "codec", Value: lastCodec}})
		})
	})
	if err != nil {
		return err
	}
	res.StoreSeconds = time.Since(t0).Seconds()
	// The server compiles its tables in the background after each
	// change: wait until it has been idle for a second.
	if err := waitIdle(ctx, t.pid); err != nil {
		return err
	}
	mem, err := readMemory(t.pid)
	if err != nil {
		return fmt.Errorf("server memory: %w", err)
	}
	res.Ops, res.Seconds = int64(n), res.StoreSeconds
	res.EmptyRSSBytes, res.RSSBytes, res.PeakRSSBytes = empty.RSS, mem.RSS, mem.Peak
	return nil
}

// waitIdle waits until the process pid used under 2 % of a core for a
// second (or readyTimeout passes).
func waitIdle(ctx context.Context, pid int) error {
	deadline := time.Now().Add(readyTimeout)
	prev, _ := procCPU(pid)
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
		cur, err := procCPU(pid)
		if err != nil {
			return err
		}
		if cur-prev < 20*time.Millisecond {
			return nil
		}
		prev = cur
	}
	return nil
}
