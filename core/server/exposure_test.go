package server

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"testing"

	"github.com/distkv-go/distkv/core/gossip"
)

func TestExposureWarning(t *testing.T) {
	for _, tc := range []struct {
		name         string
		keyed        bool
		gossip, peer string
		warnsOfPorts []string // nil: no warning
	}{
		{"loopback", false, "127.0.0.1:7946", "127.0.0.1:40000", nil},
		{"loopback v6 and 127/8", false, "[::1]:7946", "127.0.0.2:40000", nil},
		{"mapped loopback", false, "[::ffff:127.0.0.1]:7946", "localhost:40000", nil},
		{"gossip unknown", false, "", "127.0.0.1:40000", nil},
		{"the default: every address", false, "192.168.1.5:7946", "0.0.0.0:40000", []string{"7946", "40000"}},
		{"every v6 address", false, "127.0.0.1:7946", "[::]:40000", []string{"40000"}},
		{"a LAN address", false, "10.0.0.1:7946", "127.0.0.1:40000", []string{"7946"}},
		{"a host name", false, "127.0.0.1:7946", "db.example:40000", []string{"40000"}},
		{"no port", false, "127.0.0.1:7946", "10.0.0.1", []string{"10.0.0.1"}},
		{"a key", true, "192.168.1.5:7946", "0.0.0.0:40000", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := exposureWarning(tc.keyed, tc.gossip, tc.peer)
			if tc.warnsOfPorts == nil {
				if w != "" {
					t.Fatalf("warned: %s", w)
				}
				return
			}
			want := "anyone who reaches port " + strings.Join(tc.warnsOfPorts, " or ") + " of this host can read and change all data"
			if !strings.Contains(w, want) || !strings.Contains(w, "distkv keygen") || !strings.Contains(w, "server.serf.key") {
				t.Fatalf("warning %q, want the risk (%q) and the fix", w, want)
			}
		})
	}
}

// localOnly is gossip that knows only this node, at addr.
type localOnly struct {
	gossip.Gossip
	addr netip.AddrPort
}

func (g localOnly) LocalName() string { return "me" }
func (g localOnly) Members() []gossip.Member {
	return []gossip.Member{{Name: "other", Addr: netip.MustParseAddrPort("10.0.0.2:7946")}, {Name: "me", Addr: g.addr}}
}

// TestWarnExposure: the warning takes the gossip address from this
// node's own member entry, and goes to the server's log.
func TestWarnExposure(t *testing.T) {
	for _, tc := range []struct {
		addr string
		key  []byte
		want string // in the log; "" for no warning
	}{
		{"10.0.0.1:7000", nil, "port 7000 of this host"},
		{"127.0.0.1:7000", nil, ""},
		{"10.0.0.1:7000", []byte("k"), ""},
	} {
		var buf bytes.Buffer
		s := &Server{log: slog.New(slog.NewTextHandler(&buf, nil))}
		s.warnExposure(&Cluster{Gossip: localOnly{addr: netip.MustParseAddrPort(tc.addr)}, Key: tc.key}, "127.0.0.1:40000")
		if got := buf.String(); tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
			t.Errorf("gossip at %s, key %q: logged %q, want %q", tc.addr, tc.key, got, tc.want)
		}
	}
}

// TestExposedRefusesLogins: a server whose gossip port is reachable
// beyond loopback without a key may not have logins on, unless the
// cluster is Insecure.
func TestExposedRefusesLogins(t *testing.T) {
	for _, tc := range []struct {
		addr     string
		key      []byte
		insecure bool
		refused  bool
	}{
		{"10.0.0.1:7000", nil, false, true},
		{"10.0.0.1:7000", nil, true, false},
		{"10.0.0.1:7000", []byte("k"), false, false},
		{"127.0.0.1:7000", nil, false, false},
	} {
		s := &Server{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		s.warnExposure(&Cluster{Gossip: localOnly{addr: netip.MustParseAddrPort(tc.addr)}, Key: tc.key, Insecure: tc.insecure}, "127.0.0.1:40000")
		err := s.loginsAllowed()
		if tc.refused != (err != nil) || err != nil && !errors.Is(err, ErrExposed) {
			t.Errorf("%+v: loginsAllowed = %v", tc, err)
		}
	}
}
