package gossip

import (
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/serf/serf"
)

// Config configures an embedded Serf node (NewSerf). The zero value of each
// field means its documented default; DefaultConfig shows them all.
type Config struct {
	// NodeName is this node's unique name in the network. Default: the
	// host name.
	NodeName string

	// BindAddr is the "host:port" the gossip listeners (UDP and TCP) bind
	// to. Default "0.0.0.0:7946"; port 0 picks any free port (Serf.Addr
	// reports the one chosen).
	BindAddr string

	// Advertise is the "host[:port]" other members reach this node at.
	// Default: the bound address, or a private IP of this host when bound
	// to 0.0.0.0.
	Advertise string

	// Join lists members to join at start ("host:port", or "host" for
	// DefaultPort). A failed initial join is not fatal: it is logged and
	// retried every JoinRetry until one succeeds, the node has found other
	// members some other way, or it is closed.
	Join []string

	// JoinRetry is the interval between attempts of the initial join.
	// Default: 30 s, or 1 s with the "local" profile. Negative: try once.
	JoinRetry time.Duration

	// BindWait is how long NewSerf waits for BindAddr's port while another
	// socket holds it, as a server's predecessor does for a moment when the
	// server is restarted at once. Default 5 s; negative: not at all.
	BindWait time.Duration

	// LeaveTimeout bounds the leave of Close: a leave the others have not
	// heard by then is given up (they see the node fail instead). Default
	// 1 s. SetTags waits about two fifths of it at most.
	LeaveTimeout time.Duration

	// Root is the network name. Nodes of different roots never mix: the
	// root labels every gossip packet (memberlist's Label), is a member tag
	// (RootTag) that is checked on every member, and prefixes user event
	// names on the wire. Default DefaultRoot.
	Root string

	// Tags are this node's initial tags; RootTag is reserved.
	Tags map[string]string

	// Key, when set, encrypts and authenticates all gossip (AES-GCM) with
	// this 16, 24 or 32 byte key; nodes without the same key cannot join.
	// ParseKey decodes the base64 form that `serf keygen` prints.
	Key []byte

	// KeyringFile, instead of Key, names a keyring file in Serf's format: a
	// JSON list of base64 keys, the first one is used to encrypt, all are
	// accepted when decrypting. Key rotations made through Serf's key
	// queries are written back to it.
	KeyringFile string

	// Discover advertises this node by mDNS and joins the other nodes of
	// the same Root found on the LAN, as Serf's agent does with -discover.
	// Off by default: it multicasts on the local network.
	Discover bool

	// Profile selects the gossip timings: "lan" (default, memberlist's LAN
	// timings), "wan", or "local" for tests on one host: memberlist's local
	// timings with five times faster probes, so that on loopback a failure
	// is noticed in one to two seconds and a heal in under one.
	Profile string

	// UserEventSizeLimit bounds a user event's wire name plus payload plus
	// Serf's encoding overhead (see Gossip.MaxPayload). Default 512, at
	// most 9216 (Serf's limit). All nodes should use the same value:
	// larger events received are dropped.
	UserEventSizeLimit int

	// EventBuffer is the capacity of the Events channel. Default 1024.
	EventBuffer int

	// Logger receives this package's logs and those of Serf, memberlist
	// and mDNS. Default slog.Default().
	Logger *slog.Logger

	// WrapTransport, for tests, wraps the UDP/TCP transport that NewSerf
	// creates on BindAddr, for example with Switch.Wrap to cut links.
	WrapTransport func(memberlist.NodeAwareTransport) memberlist.NodeAwareTransport

	// label overrides the memberlist label derived from Root (tests only).
	label string
}

// Profiles accepted in Config.Profile.
const (
	ProfileLAN   = "lan"
	ProfileWAN   = "wan"
	ProfileLocal = "local"
)

// DefaultConfig returns the configuration that NewSerf uses for zero fields.
func DefaultConfig() Config {
	return Config{}.withDefaults()
}

func (c Config) withDefaults() Config {
	if c.NodeName == "" {
		c.NodeName = hostname()
	}
	if c.BindAddr == "" {
		c.BindAddr = net.JoinHostPort("0.0.0.0", strconv.Itoa(DefaultPort))
	}
	if c.Root == "" {
		c.Root = DefaultRoot
	}
	if c.Profile == "" {
		c.Profile = ProfileLAN
	}
	if c.JoinRetry == 0 {
		c.JoinRetry = 30 * time.Second
		if c.Profile == ProfileLocal {
			c.JoinRetry = time.Second
		}
	}
	if c.BindWait == 0 {
		c.BindWait = 5 * time.Second
	}
	if c.LeaveTimeout == 0 {
		c.LeaveTimeout = time.Second
	}
	if c.UserEventSizeLimit == 0 {
		c.UserEventSizeLimit = defaultEventLimit
	}
	if c.EventBuffer == 0 {
		c.EventBuffer = defaultEventBuffer
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports the first invalid field, wrapping ErrConfig. It applies
// the defaults first, so zero fields are fine.
func (c Config) Validate() error {
	c = c.withDefaults()
	if _, _, err := splitBind(c.BindAddr); err != nil {
		return fmt.Errorf("%w: bind address: %v", ErrConfig, err)
	}
	if c.Advertise != "" {
		if _, _, err := splitAdvertise(c.Advertise); err != nil {
			return fmt.Errorf("%w: advertise address: %v", ErrConfig, err)
		}
	}
	if err := checkRoot(c.Root); err != nil {
		return err
	}
	if err := checkTags(c.Tags, c.Root); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if len(c.Key) > 0 && c.KeyringFile != "" {
		return fmt.Errorf("%w: set either a key or a keyring file, not both", ErrConfig)
	}
	if len(c.Key) > 0 {
		if err := checkKey(c.Key); err != nil {
			return err
		}
	}
	switch c.Profile {
	case ProfileLAN, ProfileWAN, ProfileLocal:
	default:
		return fmt.Errorf("%w: profile %q: want lan, wan or local", ErrConfig, c.Profile)
	}
	if err := checkEventLimit(c.UserEventSizeLimit); err != nil {
		return err
	}
	if c.EventBuffer < 0 {
		return fmt.Errorf("%w: event buffer %d < 0", ErrConfig, c.EventBuffer)
	}
	if c.LeaveTimeout < 0 {
		return fmt.Errorf("%w: leave timeout %v < 0", ErrConfig, c.LeaveTimeout)
	}
	return nil
}

const (
	defaultEventLimit  = 512
	defaultEventBuffer = 1024
	maxRootLen         = 200 // the memberlist label holds at most 255 bytes
)

func checkRoot(root string) error {
	if root == "" || len(root) > maxRootLen {
		return fmt.Errorf("%w: root %q: want 1 to %d bytes", ErrConfig, root, maxRootLen)
	}
	return nil
}

func checkEventLimit(n int) error {
	if n < eventOverhead+len(DefaultRoot)+2 || n > serf.UserEventSizeLimit {
		return fmt.Errorf("%w: user event size limit %d: want %d to %d", ErrConfig, n, eventOverhead+len(DefaultRoot)+2, serf.UserEventSizeLimit)
	}
	return nil
}

// label is the memberlist label of a network: packets with another label
// are dropped before they are decoded.
func label(root string) string { return "distkv" + root }

// splitBind parses a bind address "host:port"; the port may be 0.
func splitBind(addr string) (string, int, error) {
	host, ps, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(ps)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("port %q: want 0 to 65535", ps)
	}
	if host == "" {
		host = "0.0.0.0"
	}
	if net.ParseIP(host) == nil {
		return "", 0, fmt.Errorf("host %q: want an IP address", host)
	}
	return host, port, nil
}

// splitAdvertise parses "ip" or "ip:port"; port 0 means the bound port.
func splitAdvertise(addr string) (string, int, error) {
	if net.ParseIP(addr) != nil {
		return addr, 0, nil
	}
	host, port, err := splitBind(addr)
	if err == nil && net.ParseIP(host).IsUnspecified() {
		err = fmt.Errorf("host %q: want a reachable IP address", host)
	}
	return host, port, err
}
