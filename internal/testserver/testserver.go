// Package testserver runs in-process servers and their clients for the
// tests of the packages above core (runner, errlog, cmd/distkv).
package testserver

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/distkv-go/distkv/core/client"
	"github.com/distkv-go/distkv/core/server"
)

// Start runs a server on a free loopback port until the test ends. cfg's
// Node defaults to "t", its Logger to one that discards; Listen is set.
func Start(t testing.TB, cfg server.Config) *server.Server {
	t.Helper()
	if cfg.Node == "" {
		cfg.Node = "t"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	cfg.Listen = "127.0.0.1:0"
	s, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Connect opens a client of s (logged in with login, if not empty) until
// the test ends.
func Connect(t testing.TB, s *server.Server, login string) *client.Client {
	t.Helper()
	c, err := client.Open(context.Background(), client.Config{Host: "127.0.0.1", Port: s.Addr().(*net.TCPAddr).Port, Auth: login})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// WaitFor polls ok until it holds, and fails the test after 30 seconds.
func WaitFor(t testing.TB, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Eventually polls f until it returns nil, and fails the test with f's
// last error after 30 seconds.
func Eventually(t testing.TB, f func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
