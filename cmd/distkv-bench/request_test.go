package main

import (
	"strings"
	"testing"
	"time"

	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/wire"
)

func TestTemplate(t *testing.T) {
	set := newTemplate("set_value", path.P("a.b"), true)
	var buf []byte
	buf = set.appendTo(buf, 1<<40+7, 42)
	stampValue(buf[set.valOff:set.valOff+valueLen], 123456789, 0xbeef)
	buf = set.appendTo(buf, 9, 9999999999)

	var req wire.Request
	r := pack.NewReader(buf)
	if err := r.Skip(); err != nil {
		t.Fatal(err)
	}
	first, second := buf[:r.Pos()], buf[r.Pos():]
	if err := wire.DecodeRequest(first, &req); err != nil {
		t.Fatal(err)
	}
	if req.Seq != 1<<40+7 || req.Action != "set_value" || !req.Path.HasPrefix(path.P("a.b")) ||
		req.Path.Last().String() != "0000000042" {
		t.Errorf("first: seq %d action %q path %v", req.Seq, req.Action, req.Path)
	}
	v, err := pack.Decode(req.Value)
	if err != nil || v != "0000075bcd15beef" {
		t.Errorf("value %q, %v", v, err)
	}
	if ns, ok := stampOf([]byte(v.(string))); !ok || ns != 123456789 {
		t.Errorf("stamp %d %v", ns, ok)
	}
	if err := wire.DecodeRequest(second, &req); err != nil {
		t.Fatal(err)
	}
	if req.Seq != 9 || req.Path.Last().String() != "9999999999" {
		t.Errorf("second: seq %d path %v", req.Seq, req.Path)
	}
	if v, _ := pack.Decode(req.Value); v != strings.Repeat("v", valueLen) {
		t.Errorf("second value %q: the template changed", v)
	}

	get := newTemplate("get_value", path.P("bench"), false)
	if err := wire.DecodeRequest(get.appendTo(nil, 5, 1), &req); err != nil || req.HasValue || req.Action != "get_value" {
		t.Errorf("get: %+v %v", req, err)
	}
}

func TestScanReply(t *testing.T) {
	var r pack.Reader
	var rep reply
	m := wire.Begin(nil)
	m.Uint("seq", 77)
	m.Key("chain")
	m.B = append(m.B, 0x81, 0xa1, 'x', 0x92, 1, 2) // nested values are skipped
	m.Str("value", "hello")
	m.Uint("tock", 3)
	if err := scanReply(&r, m.End(), true, &rep); err != nil || rep.seq != 77 || rep.failed || string(rep.value) != "hello" {
		t.Errorf("%+v %v", rep, err)
	}

	m = wire.Begin(nil)
	m.Uint("seq", 8)
	m.Str("error", "no such thing")
	m.Str("etype", "no_data")
	if err := scanReply(&r, m.End(), false, &rep); err != nil || rep.seq != 8 || !rep.failed || rep.errorText() != "no such thing" || rep.value != nil {
		t.Errorf("%+v %v", rep, err)
	}
	if err := scanReply(&r, []byte{0x93, 1, 2, 3}, false, &rep); err == nil {
		t.Error("an array is no reply")
	}
	if err := scanReply(&r, []byte{0x81, 0xa3, 's', 'e', 'q'}, false, &rep); err == nil {
		t.Error("a truncated map is no reply")
	}
}

func TestHistogram(t *testing.T) {
	var h histogram
	if h.quantile(0.5) != 0 {
		t.Error("empty histogram")
	}
	for i := 1; i <= 1000; i++ {
		h.record(int64(i) * int64(time.Microsecond))
	}
	h.record(-5) // clamps to 0
	check := func(q float64, want time.Duration) {
		t.Helper()
		got := h.quantile(q)
		if d := float64(got-want) / float64(want); d < -0.02 || d > 0.02 {
			t.Errorf("q%v = %v, want %v ± 2%%", q, got, want)
		}
	}
	check(0.5, 500*time.Microsecond)
	check(0.99, 990*time.Microsecond)
	check(0.999, 999*time.Microsecond)

	var big histogram
	big.record(1<<63 - 1)
	big.merge(&h)
	if big.n != h.n+1 || big.quantile(1) < time.Duration(1<<62) {
		t.Errorf("merge: n %d, max %v", big.n, big.quantile(1))
	}
	for v := uint64(0); v < 1<<20; v = v*9/8 + 1 {
		i := histIndex(v)
		if lo, hi := histLower(i), histLower(i+1); v < lo || v >= hi {
			t.Fatalf("%d in bucket %d [%d, %d)", v, i, lo, hi)
		}
	}
}

func TestParseRedisBench(t *testing.T) {
	out := "SET: rps=0.0 (overall: -nan) avg_msec=-nan (overall: -nan)\r                \r" +
		"SET: 81234.57 requests per second, p50=0.183 msec                    \n" +
		"GET: rps=41234.0 (overall: 40000.0) avg_msec=0.2 (overall: 0.2)\r     \r" +
		"GET: 79365.08 requests per second, p50=0.175 msec                    \n\n"
	res, err := parseRedisBench([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if res.SetPerSec != 81234.57 || res.SetP50ms != 0.183 || res.GetPerSec != 79365.08 || res.GetP50ms != 0.175 {
		t.Errorf("%+v", res)
	}
	if _, err := parseRedisBench([]byte("Could not connect to Redis")); err == nil {
		t.Error("want an error without results")
	}
}

func TestParseStatus(t *testing.T) {
	m, err := parseStatus(strings.NewReader("Name:\tdistkv\nVmHWM:\t  190000 kB\nVmRSS:\t  180000 kB\nThreads:\t5\n"))
	if err != nil || m.RSS != 180000<<10 || m.Peak != 190000<<10 {
		t.Errorf("%+v %v", m, err)
	}
	if _, err := parseStatus(strings.NewReader("Name:\tx\n")); err == nil {
		t.Error("want an error without VmRSS")
	}
}

func TestMedian(t *testing.T) {
	rs := []Result{{PerSec: 3, Errors: 1, FirstError: "x"}, {PerSec: 1}, {PerSec: 2, Redis: &RedisResult{}}}
	rs[0].Redis = &RedisResult{GetPerSec: 10}
	rs[1].Redis = &RedisResult{GetPerSec: 30}
	rs[2].Redis.GetPerSec = 20
	m := median(rs)
	if m.PerSec != 2 || m.Run != 0 || m.Runs != 3 || m.Errors != 1 || m.FirstError != "x" || m.Redis.GetPerSec != 20 {
		t.Errorf("%+v", m)
	}
	if m := median(rs[:2]); m.PerSec != 2 {
		t.Errorf("even: %v", m.PerSec)
	}
}

func TestParseStat(t *testing.T) {
	stat := "1234 (dist kv) S 1 1234 1234 0 -1 4194560 2962 0 0 0 150 25 0 0 20 0 7 0 4460 1750880256 3343 18446744073709551615\n"
	d, err := parseStat([]byte(stat))
	if err != nil || d != 175*clockTick {
		t.Errorf("%v %v", d, err)
	}
	if _, err := parseStat([]byte("1234 (x) S 1")); err == nil {
		t.Error("want an error for a short line")
	}
}
