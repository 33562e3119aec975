package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestTypesAcrossServers: a type and a match, and a codec with its
// convert list, set on one server hold on the other within moments, with
// no restart.
func TestTypesAcrossServers(t *testing.T) {
	bin := buildBinary(t)
	p1, p2, g1 := freePort(t), freePort(t), freePort(t)
	cli := func(port int, stdin string, args ...string) (string, error) {
		c := exec.Command(bin, append([]string{"-c", "/dev/null", "-C", "connect.host=127.0.0.1", "-C", "connect.port=" + strconv.Itoa(port), "client"}, args...)...)
		c.Stdin = strings.NewReader(stdin)
		out, err := c.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	must := func(port int, stdin string, args ...string) {
		t.Helper()
		if out, err := cli(port, stdin, args...); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	login := "connect.auth=_test name=root" // for the codec part, which needs logins
	startServerProc(t, bin, p1, "-C", "server.serf.bind=127.0.0.1:"+strconv.Itoa(g1), "-C", login, "server", "-i", "Testing", "one")
	startServerProc(t, bin, p2, "-C", login, "server", "--join", "127.0.0.1:"+strconv.Itoa(g1), "two")
	must(p1, `if type(value) ~= "number" or value ~= math.floor(value) then error("not an integer") end`,
		"type", "set", "-g", "0", "-g", "-2", "-g", "123", "-b", "1.2", "-b", `"Hello"`, "int")
	must(p1, `if value < 0 or value > 100 then error("not a percentage") end`,
		"type", "set", "-g", "0", "-g", "99", "-g", "100", "-b", "-1", "-b", "101", "int.percent")
	must(p1, "", "type", "match", "-t", "int.percent", "stats.#.quota")
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, err := cli(p2, "", "data", "set", "-ev", "123", "stats.foo.bar.quota")
		if err != nil && strings.Contains(out, "not a percentage") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("two does not check the type set on one: %q, %v", out, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	must(p2, "", "data", "set", "-ev", "12", "stats.foo.bar.quota")

	dir := t.TempDir()
	enc, dec := filepath.Join(dir, "enc.lua"), filepath.Join(dir, "dec.lua")
	os.WriteFile(enc, []byte("return tostring(value)"), 0o644)
	os.WriteFile(dec, []byte("return tonumber(value)"), 0o644)
	must(p1, "", "codec", "set", "-i", `"12.5"`, "12.5", "-o", "13.25", `"13.25"`, "-e", enc, "-d", dec, "float.str")
	must(p1, "", "codec", "convert", "-c", "float.str", "floatval", "monitor.#.value")
	must(p1, "", "auth", "-m", "_test", "user", "add", "name=joe")
	must(p1, "", "auth", "-m", "_test", "user", "add", "name=root")
	must(p1, "", "auth", "-m", "_test", "user", "modify", "--aux", "codec=floatval", "name=joe")
	must(p1, "", "auth", "-m", "_test", "init")
	must(p1, "", "-a", "_test name=root", "data", "set", "-ev", "99.5", "monitor.a.value")
	deadline = time.Now().Add(20 * time.Second)
	for {
		out, err := cli(p2, "", "-a", "_test name=joe", "data", "get", "monitor.a.value")
		if err == nil && out == `"99.5"` {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("two does not encode with the codec set on one: %q, %v", out, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
