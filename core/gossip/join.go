package gossip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// normalizeAddr returns addr as "host:port", adding DefaultPort when it has
// none. Bare IPv6 addresses are accepted with or without brackets.
func normalizeAddr(addr string) (string, error) {
	addr = strings.TrimSpace(addr)
	if addr == "" {
		return "", errors.New("empty address")
	}
	if strings.ContainsFunc(addr, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return "", fmt.Errorf("address %q: contains spaces or control characters", addr)
	}
	if host, ps, err := net.SplitHostPort(addr); err == nil {
		port, err := strconv.Atoi(ps)
		if err != nil || port < 1 || port > 65535 {
			return "", fmt.Errorf("address %q: port %q: want 1 to 65535", addr, ps)
		}
		if host == "" || strings.ContainsAny(host, "[]/") {
			return "", fmt.Errorf("address %q: want host:port or host", addr)
		}
		return net.JoinHostPort(host, ps), nil
	}
	host := addr
	if inner, ok := strings.CutPrefix(addr, "["); ok {
		if host, ok = strings.CutSuffix(inner, "]"); !ok {
			return "", fmt.Errorf("address %q: want host:port or host", addr)
		}
	}
	if strings.Contains(host, ":") {
		// netip takes any zone ("::%/"), but a host with these characters
		// is refused above once it has a port: refuse it here too.
		if _, err := netip.ParseAddr(host); err != nil || strings.ContainsAny(host, "[]/") {
			return "", fmt.Errorf("address %q: want host:port or host", addr)
		}
	} else if host != addr || host == "" || strings.ContainsAny(host, "[]/") {
		return "", fmt.Errorf("address %q: want host:port or host", addr)
	}
	return net.JoinHostPort(host, strconv.Itoa(DefaultPort)), nil
}

// join normalizes addrs and calls do with the valid ones. The error wraps
// ErrNoJoin when no member could be contacted.
func join(addrs []string, do func([]string) (int, error)) (int, error) {
	var valid []string
	var errs []error
	for _, a := range addrs {
		n, err := normalizeAddr(a)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		valid = append(valid, n)
	}
	n := 0
	if len(valid) > 0 {
		var err error
		n, err = do(valid)
		if err != nil {
			errs = append(errs, err)
		}
	}
	if n > 0 {
		return n, nil
	}
	if len(errs) == 0 {
		errs = append(errs, errors.New("no address given"))
	}
	return 0, fmt.Errorf("join %s: %w: %w", strings.Join(addrs, ", "), ErrNoJoin, errors.Join(errs...))
}

// retryJoin repeats join every interval until one succeeds, joined reports
// that the node has found others some other way, or ctx ends.
func retryJoin(ctx context.Context, log *slog.Logger, addrs []string, interval time.Duration, do func([]string) (int, error), joined func() bool) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if joined() {
			return
		}
		n, err := join(addrs, do)
		if n > 0 {
			log.Info("gossip: joined", "members", n)
			return
		}
		log.Warn("gossip: join failed, will retry", "err", err, "in", interval)
	}
}
