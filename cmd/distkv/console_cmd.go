package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
)

// ConsoleCmd is `distkv client console`.
type ConsoleCmd struct{}

func (ConsoleCmd) Help() string {
	return `Prints the URL of the web console of the server this client talks to
(its server.http.bind). Open it in a browser and log in as a user of the
network, as with -a; the console shows and changes what that user may.

A console bound to loopback (the default, localhost:27587) is reachable on
the server's machine only: from elsewhere, forward the port, e.g.
  ssh -L 27587:localhost:27587 SERVERHOST
and open http://localhost:27587/ here.`
}

func (c *ConsoleCmd) Run(ctx context.Context, k *connector, g *globals) error {
	cl, err := k.get(ctx)
	if err != nil {
		return err
	}
	gr := cl.Greeting()
	if gr.HTTP == "" {
		return fmt.Errorf("server %s serves no web console: its server.http.bind is empty", gr.Node)
	}
	u, note, err := consoleURL(gr.HTTP, k.host())
	if err != nil {
		return fmt.Errorf("server %s: %w", gr.Node, err)
	}
	fmt.Fprintln(g.stdout, u)
	if note != "" {
		g.log.Warn(note, "server", gr.Node)
	}
	return nil
}

// consoleURL is the URL a browser on this machine reaches the console by,
// given the URL the server tells (with its bind host) and the host this
// client reached the server at. A console bound to every address is
// reached at that host; one bound to loopback, from another machine, not
// at all: note says so.
func consoleURL(told, host string) (string, string, error) {
	u, err := url.Parse(told)
	if err != nil || u.Host == "" {
		return "", "", fmt.Errorf("its console URL %q is not one", told)
	}
	h, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		return "", "", fmt.Errorf("its console URL %q has no port", told)
	}
	switch {
	case unspecified(h):
		u.Host = net.JoinHostPort(host, port)
	case loopback(h) && !loopback(host):
		return u.String(), fmt.Sprintf("the console listens on loopback of %s only: reach it through ssh -L %s:localhost:%s %s", host, port, port, host), nil
	}
	return u.String(), "", nil
}

func unspecified(h string) bool {
	a, err := netip.ParseAddr(h)
	return h == "" || err == nil && a.IsUnspecified()
}

func loopback(h string) bool {
	a, err := netip.ParseAddr(h)
	return h == "localhost" || err == nil && a.IsLoopback()
}
