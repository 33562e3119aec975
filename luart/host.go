package luart

import (
	"context"
	"errors"
	"sort"

	lua "github.com/yuin/gopher-lua"
)

// Func is a function of the host that a script can call: a runner job's
// dkv.get, dkv.sleep. It gets the context of the call (ended when the call
// is stopped or its time is up) and the arguments in the pack value model,
// and returns results in that model (a Func among them becomes a Lua
// function: an iterator, say). An error becomes a Lua error with its
// message, which pcall can catch; one that comes from the call's context
// ending stops the call like any broken limit. A Func may block.
//
// A call that calls a Func is not pure (see CallPure).
type Func func(ctx context.Context, args []any) ([]any, error)

// Module is a table of host functions, given to a script as a variable:
// vars []Var{{"dkv", Module{"get": get}}} lets it call dkv.get(p).
type Module map[string]Func

// module makes a fresh table of m's functions for one call.
func (st *state) module(m Module) *lua.LTable {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names) // the table's order does not depend on Go's map order
	t := st.L.CreateTable(0, len(m))
	for _, k := range names {
		t.RawSetString(k, st.L.NewFunction(st.hostFunc(m[k])))
	}
	return t
}

func (st *state) hostFunc(f Func) lua.LGFunction {
	return func(L *lua.LState) int {
		st.impure = true
		n := L.GetTop()
		args := make([]any, n)
		for i := range n {
			v, err := st.fromLua(L.Get(i+1), 0)
			if err != nil {
				L.ArgError(i+1, err.Error())
			}
			args[i] = v
		}
		ctx := st.ctx.host()
		res, err := f(ctx, args)
		if e := st.ctx.stopCause(); e != nil {
			// The call ended while the host worked: the call stops, whatever
			// the function made of it.
			st.ctx.fail(e)
			L.RaiseError("%s", st.ctx.Err().Error())
		}
		if err != nil {
			L.RaiseError("%s", clip(err.Error()))
		}
		L.SetTop(0)
		for i, r := range res {
			lv, err := st.toLua(r, 0)
			if err != nil {
				L.RaiseError("result %d of a host function: %s", i+1, err.Error())
			}
			L.Push(lv)
		}
		return len(res)
	}
}

// host returns the context host functions get: the caller's, ended with
// the call (at its deadline, when a limit breaks). Made at the first use
// in a call, released when the call ends (release).
func (c *callCtx) host() context.Context {
	if c.hostCtx != nil {
		return c.hostCtx
	}
	if !c.watched {
		c.poll() // sets the deadline
	}
	ctx, cancel := context.WithDeadline(c.parent, c.deadline)
	c.hostCtx = ctx
	c.hostCancel.Store(&cancel)
	if c.stopped.Load() { // failed before the context existed
		cancel()
	}
	return ctx
}

// stopCause says why the call must stop after a host function returned:
// a limit broke meanwhile, the caller's context ended, or the deadline
// passed; nil if none.
func (c *callCtx) stopCause() error {
	if err := c.Err(); err != nil {
		return err
	}
	if err := c.parent.Err(); err != nil {
		return err
	}
	if c.hostCtx != nil && errors.Is(c.hostCtx.Err(), context.DeadlineExceeded) {
		return &LimitError{Limit: LimitTimeout, Detail: "call ran longer than " + c.lim.Timeout.String()}
	}
	return nil
}

// release ends the host context of the call, if it has one.
func (c *callCtx) release() {
	if p := c.hostCancel.Swap(nil); p != nil {
		(*p)()
	}
	c.hostCtx = nil
}
