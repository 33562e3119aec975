package server_test

import (
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/distkv-go/distkv/core/gossip"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/server"
	"github.com/distkv-go/distkv/core/tlsconf"
	"github.com/distkv-go/distkv/internal/testcert"
)

// tlsNode is one server of a network whose peers speak TLS.
type tlsNode struct {
	name string
	leaf testcert.Leaf // its peer certificate
	ca   string        // the CA file it checks its peers with
}

// startTLSCluster runs servers whose peer connections speak TLS, each with
// its own certificate, and returns them with their log buffers.
func startTLSCluster(t *testing.T, nodes ...tlsNode) ([]*server.Server, []*logBuffer) {
	t.Helper()
	gn := gossip.NewNetwork(gossip.NetworkLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	var srvs []*server.Server
	var logs []*logBuffer
	for i, n := range nodes {
		g := gn.Node(n.name, nil)
		if i > 0 {
			if _, err := g.Join([]string{nodes[0].name}); err != nil {
				t.Fatal(err)
			}
		}
		f := tlsconf.Files{Setting: "server.peer.ssl", Cert: n.leaf.CertFile, Key: n.leaf.KeyFile, CA: n.ca}
		listen, dial, err := tlsconf.Peer(f)
		if err != nil {
			t.Fatal(err)
		}
		log := &logBuffer{}
		s := startServer(t, server.Config{Node: n.name, Logger: slog.New(slog.NewTextHandler(log, nil)), Cluster: &server.Cluster{
			Gossip: g, Root: ":test", Announce: 50 * time.Millisecond, Check: 50 * time.Millisecond,
			TLS: listen, DialTLS: dial, TLSFiles: f}})
		srvs = append(srvs, s)
		logs = append(logs, log)
	}
	return srvs, logs
}

// waitLog waits until the log holds want.
func waitLog(t *testing.T, log *logBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(log.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("the log never said %q; it holds:\n%s", want, log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestPeerTLS(t *testing.T) {
	ca := testcert.NewCA(t, "net")
	srvs, _ := startTLSCluster(t,
		tlsNode{"a", ca.Leaf(t, "a"), ca.File},
		tlsNode{"b", ca.Leaf(t, "b"), ca.File})
	ctx := ctxT(t)
	ca1, cb := connect(t, srvs[0]), connect(t, srvs[1])
	if _, err := ca1.Set(ctx, path.P("from.a"), "one"); err != nil {
		t.Fatal(err)
	}
	if _, err := cb.Set(ctx, path.P("from.b"), "two"); err != nil {
		t.Fatal(err)
	}
	waitValue(t, cb, path.P("from.a"), "one")
	waitValue(t, ca1, path.P("from.b"), "two")
}

func TestPeerTLSRefused(t *testing.T) {
	ca := testcert.NewCA(t, "net")
	stranger := testcert.NewCA(t, "stranger")
	a := ca.Leaf(t, "a")
	tests := []struct {
		name         string
		b            tlsNode
		aSays, bSays []string // in a's and b's log
	}{
		{"another CA", tlsNode{"b", stranger.Leaf(t, "b"), ca.File},
			[]string{"TLS: the peer's certificate is not signed by a CA of server.peer.ssl.ca"},
			[]string{"TLS: peer \\\"a\\\" refuses the certificate of this side (server.peer.ssl.cert)"}},
		{"another server's certificate", tlsNode{"b", a, ca.File},
			[]string{`peer \"b\" presented a certificate for another name`, `TLS: peer \"b\"'s certificate is not for \"b\" (it names a)`},
			[]string{"TLS: the peer refuses the certificate of this side"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srvs, logs := startTLSCluster(t, tlsNode{"a", a, ca.File}, tt.b)
			ctx := ctxT(t)
			if _, err := connect(t, srvs[0]).Set(ctx, path.P("secret"), "s"); err != nil {
				t.Fatal(err)
			}
			for _, want := range tt.aSays {
				waitLog(t, logs[0], want)
			}
			for _, want := range tt.bSays {
				waitLog(t, logs[1], want)
			}
			if e, err := connect(t, srvs[1]).Get(ctx, path.P("secret")); err != nil || e.HasValue {
				t.Fatalf("b has a's value: %+v, %v", e, err)
			}
		})
	}
}

// TestPeerTLSAgainstPlain: a server whose peers speak TLS and one whose
// peers do not cannot talk, and the TLS side says why.
func TestPeerTLSAgainstPlain(t *testing.T) {
	ca := testcert.NewCA(t, "net")
	gn := gossip.NewNetwork(gossip.NetworkLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	leaf := ca.Leaf(t, "a")
	f := tlsconf.Files{Setting: "server.peer.ssl", Cert: leaf.CertFile, Key: leaf.KeyFile, CA: ca.File}
	listen, dial, err := tlsconf.Peer(f)
	if err != nil {
		t.Fatal(err)
	}
	logA, logB := &logBuffer{}, &logBuffer{}
	a := startServer(t, server.Config{Node: "a", Logger: slog.New(slog.NewTextHandler(logA, nil)), Cluster: &server.Cluster{
		Gossip: gn.Node("a", nil), Root: ":test", Announce: 50 * time.Millisecond, Check: 50 * time.Millisecond,
		TLS: listen, DialTLS: dial, TLSFiles: f}})
	gb := gn.Node("b", nil)
	if _, err := gb.Join([]string{"a"}); err != nil {
		t.Fatal(err)
	}
	b := startServer(t, server.Config{Node: "b", Logger: slog.New(slog.NewTextHandler(logB, nil)), Cluster: &server.Cluster{
		Gossip: gb, Root: ":test", Announce: 50 * time.Millisecond, Check: 50 * time.Millisecond}})
	waitLog(t, logA, `TLS: peer \"b\" does not speak TLS: set server.peer.ssl there, or leave server.peer.ssl empty here`)
	waitLog(t, logA, "TLS: the peer does not speak TLS; server.peer.ssl needs it")
	waitLog(t, logB, "this server's peer listener speaks TLS: set server.peer.ssl")
	ctx := ctxT(t)
	if _, err := connect(t, a).Set(ctx, path.P("secret"), "s"); err != nil {
		t.Fatal(err)
	}
	if e, err := connect(t, b).Get(ctx, path.P("secret")); err != nil || e.HasValue {
		t.Fatalf("b has a's value: %+v, %v", e, err)
	}
}
