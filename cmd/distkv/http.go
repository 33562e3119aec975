package main

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/distkv-go/distkv/console"
	"github.com/distkv-go/distkv/core/accept"
	"github.com/distkv-go/distkv/core/auth"
	"github.com/distkv-go/distkv/core/client"
	"github.com/distkv-go/distkv/core/server"
	"github.com/distkv-go/distkv/core/wire"
	"github.com/distkv-go/distkv/httpd"
	"github.com/distkv-go/distkv/luart"
	"github.com/distkv-go/distkv/metrics"
)

// readiness is what /readyz reports: `distkv server` moves it along as it
// loads, copies the network's data, serves and stops.
type readiness struct {
	mu    sync.Mutex
	state httpd.State
	why   func() string // if set, the reason, asked for when /readyz is
}

func newReadiness() *readiness {
	return &readiness{state: httpd.State{Phase: "starting", Reason: "the server is starting"}}
}

// set moves to phase; the server is ready in phase "running" only.
func (r *readiness) set(phase, reason string, why func() string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.state = httpd.State{Ready: phase == "running", Phase: phase, Reason: reason}
	r.why = why
}

func (r *readiness) get() httpd.State {
	r.mu.Lock()
	st, why := r.state, r.why
	r.mu.Unlock()
	if why != nil {
		st.Reason = why()
	}
	return st
}

// httpBindWait is how long the HTTP listener waits for a port another
// socket holds, as the client and peer listeners do.
const httpBindWait = 5 * time.Second

// serveHTTP starts the HTTP listener of server.http.bind, with the
// console and metrics; nil when it is off. lua is the runtime of the
// server's types and codecs.
func serveHTTP(ctx context.Context, g *globals, srv *server.Server, ready *readiness, lua *luart.Runtime) (*webServer, error) {
	hc := g.cfg.Server.HTTP
	if hc.Bind == "" {
		return nil, nil
	}
	tlsCfg, _, err := serverTLS("server.http.ssl", hc.SSL)
	if err != nil {
		return nil, err
	}
	ln, err := accept.Listen(ctx, hc.Bind, "HTTP", httpBindWait, g.log)
	if err != nil {
		return nil, fmt.Errorf("server.http.bind: %w", err)
	}
	m := metrics.New(metrics.Sources{Server: srv, Lua: lua, Version: versionString()})
	con := console.New(console.Config{
		Open:     consoleLogin(srv),
		LoginsOn: func() bool { return srv.AuthMethod() != "" },
		Node:     srv.Node(),
		Links: func() []console.Link {
			var links []console.Link
			for _, l := range srv.Links() {
				links = append(links, console.Link{Name: l.Name, Addr: l.Addr, Connected: l.Connected})
			}
			return links
		},
		Secure: tlsCfg != nil,
		Log:    g.log,
	})
	web := httpd.Serve(ln, httpd.Config{TLS: tlsCfg, Ready: ready.get, Metrics: m.Handler(), Console: con, Log: g.log})
	// The URL keeps the configured host (a name stays a name) with the
	// port the listener got.
	host, _, _ := net.SplitHostPort(hc.Bind)
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	u := url.URL{Scheme: "http", Host: net.JoinHostPort(host, port), Path: "/"}
	if tlsCfg != nil {
		u.Scheme = "https"
	}
	srv.SetHTTP(u.String())
	g.log.Info("HTTP listening", "node", srv.Node(), "url", u.String())
	return &webServer{Server: web, console: con, url: u.String(), open: !loopback(host)}, nil
}

// webServer is the HTTP listener with the console it serves.
type webServer struct {
	*httpd.Server
	console *console.Console
	url     string
	open    bool // reachable beyond loopback
}

// warnOpen warns when the console is reachable beyond loopback while
// logins are off. The server calls it once it serves: only then does it
// know whether its data (loaded, or copied from the network) has logins
// on.
func (w *webServer) warnOpen(g *globals, srv *server.Server) {
	if w != nil && w.open && srv.AuthMethod() == "" {
		g.log.Warn("the web console is reachable beyond loopback while logins are off: whoever reaches it is root (its API answers only to an IP address, localhost or this machine's name)", "url", w.url)
	}
}

// Close ends the console's sessions and their event streams, then stops
// the listener.
func (w *webServer) Close() error {
	w.console.Close()
	return w.Server.Close()
}

// consoleLogin opens the console's client connections: in-process
// (server.Pipe), so that they pass the gate as every client does, logged
// in with the server's current method.
func consoleLogin(srv *server.Server) func(ctx context.Context, name, password string) (*client.Client, error) {
	return func(ctx context.Context, name, password string) (*client.Client, error) {
		cfg := client.Config{Host: "console", Dial: func(context.Context) (net.Conn, error) { return srv.Pipe() }}
		if name != "" {
			// A login is words of key=value; the password is asked for
			// (Prompt), so it may hold anything.
			if strings.ContainsAny(name, " \t\r\n=") {
				return nil, fmt.Errorf("%w: a user name has no spaces and no '='", wire.ErrLogin)
			}
			switch m := srv.AuthMethod(); m {
			case auth.Password:
				cfg.Auth = "password name=" + name + " password?=Password"
				cfg.Prompt = func(string) (string, error) { return password, nil }
			case "":
			default:
				cfg.Auth = m + " name=" + name
			}
		}
		return client.Open(ctx, cfg)
	}
}
