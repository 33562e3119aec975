package gossip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/serf/client"
)

// AgentConfig configures a connection to an external Serf agent (NewAgent).
// The zero value of each field means its documented default.
type AgentConfig struct {
	// Addr is the agent's RPC address. Default "127.0.0.1:7373".
	Addr string

	// AuthKey is the agent's RPC auth key, if it has one.
	AuthKey string

	// Root is the network name (see Config.Root). The agent's Serf cluster
	// may be shared by several networks: the root tag and the user event
	// prefix keep them apart. Default DefaultRoot.
	Root string

	// Tags are set on the agent's node at start, with RootTag; they are
	// removed again by Close.
	Tags map[string]string

	// Join lists members for the agent to join at start; a failure is
	// logged, not fatal.
	Join []string

	// UserEventSizeLimit must be the agent's own limit (Serf's default 512).
	UserEventSizeLimit int

	// EventBuffer is the capacity of the Events channel. Default 1024.
	EventBuffer int

	// Timeout bounds connecting, the stream's setup and the sending of each
	// request. Default 10 s. (Serf's client waits for answers without a
	// deadline: a hung agent blocks the call.)
	Timeout time.Duration

	// Reconnect is the pause between attempts to reach the agent again
	// after the connection is lost. Default 1 s.
	Reconnect time.Duration

	// Logger receives this package's logs. Default slog.Default().
	Logger *slog.Logger
}

// DefaultAgentAddr is the Serf agent's default RPC address.
const DefaultAgentAddr = "127.0.0.1:7373"

func (c AgentConfig) withDefaults() AgentConfig {
	if c.Addr == "" {
		c.Addr = DefaultAgentAddr
	}
	if c.Root == "" {
		c.Root = DefaultRoot
	}
	if c.UserEventSizeLimit == 0 {
		c.UserEventSizeLimit = defaultEventLimit
	}
	if c.EventBuffer == 0 {
		c.EventBuffer = defaultEventBuffer
	}
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	if c.Reconnect == 0 {
		c.Reconnect = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports the first invalid field, wrapping ErrConfig.
func (c AgentConfig) Validate() error {
	c = c.withDefaults()
	if _, err := normalizeAddr(c.Addr); err != nil {
		return fmt.Errorf("%w: agent address: %v", ErrConfig, err)
	}
	if err := checkRoot(c.Root); err != nil {
		return err
	}
	if err := checkTags(c.Tags, c.Root); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if err := checkEventLimit(c.UserEventSizeLimit); err != nil {
		return err
	}
	if c.EventBuffer < 0 || c.Timeout < 0 || c.Reconnect < 0 {
		return fmt.Errorf("%w: negative buffer or duration", ErrConfig)
	}
	return nil
}

// Agent is a Gossip backed by an external Serf agent, reached over its RPC
// port. It reconnects when the agent goes away and comes back. Close does
// not make the agent leave its cluster: it removes our tags, so the other
// servers get a MemberLeave and stop listing this one (rather than list it
// as left). Safe for concurrent use.
type Agent struct {
	cfg    AgentConfig
	log    *slog.Logger
	events *sink
	filter *rootFilter // pump's

	mu      sync.Mutex // protects the fields below
	ctl     *client.RPCClient
	stream  *eventStream
	name    string
	tags    map[string]string // ours, without RootTag
	members []Member          // the last answer, for when the agent is away

	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	closing atomic.Bool
	once    sync.Once
	err     error
}

var _ Gossip = (*Agent)(nil)

// agentEvents is the stream filter: every event but queries.
const agentEvents = "member-join,member-leave,member-failed,member-update,member-reap,user"

// NewAgent connects to the agent, sets our tags on its node, subscribes to
// its events and joins cfg.Join. Errors wrap ErrAgent or ErrConfig.
func NewAgent(cfg AgentConfig) (*Agent, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a := &Agent{
		cfg:    cfg,
		log:    cfg.Logger.With("agent", cfg.Addr),
		events: newSink(cfg.EventBuffer, cfg.Logger),
		tags:   withoutRoot(cfg.Tags),
	}
	a.filter = newRootFilter(cfg.Root, a.log)
	a.ctx, a.cancel = context.WithCancel(context.Background())
	if err := a.connect(); err != nil {
		return nil, err
	}
	a.log.Info("gossip: connected to the serf agent", "node", a.name, "root", cfg.Root)
	a.wg.Add(1)
	go a.pump()
	if len(cfg.Join) > 0 {
		if n, err := a.Join(cfg.Join); err != nil {
			a.log.Warn("gossip: initial join failed", "err", err)
		} else {
			a.log.Info("gossip: joined", "members", n)
		}
	}
	return a, nil
}

// connect opens both connections, learns the node name, (re)sets our tags
// and starts the event stream.
func (a *Agent) connect() error {
	ctl, err := client.ClientFromConfig(&client.Config{Addr: a.cfg.Addr, AuthKey: a.cfg.AuthKey, Timeout: a.cfg.Timeout})
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrAgent, a.cfg.Addr, err)
	}
	fail := func(what string, err error) error {
		ctl.Close()
		return fmt.Errorf("%w: %s: %s: %v", ErrAgent, a.cfg.Addr, what, err)
	}
	stats, err := ctl.Stats()
	if err != nil {
		return fail("stats", err)
	}
	name := stats["agent"]["name"]
	if name == "" {
		return fail("stats", errors.New("no node name"))
	}
	a.mu.Lock()
	tags := withRoot(a.tags, a.cfg.Root)
	a.mu.Unlock()
	if err := ctl.UpdateTags(tags, nil); err != nil {
		return fail("set tags", err)
	}
	stream, err := openEventStream(a.cfg.Addr, a.cfg.AuthKey, agentEvents, a.cfg.Timeout)
	if err != nil {
		return fail("event stream", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closing.Load() {
		stream.close()
		ctl.Close()
		return ErrClosed
	}
	a.ctl, a.stream, a.name = ctl, stream, name
	return nil
}

// control returns the RPC client for requests.
func (a *Agent) control() (*client.RPCClient, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closing.Load() {
		return nil, ErrClosed
	}
	if a.ctl == nil {
		return nil, fmt.Errorf("%w: %s: not connected", ErrAgent, a.cfg.Addr)
	}
	return a.ctl, nil
}

// pump reads the event stream until Close; when the agent goes away it
// reconnects every Reconnect. It is the stream's only reader.
func (a *Agent) pump() {
	defer a.wg.Done()
	for {
		a.mu.Lock()
		stream := a.stream
		a.mu.Unlock()
		for {
			rec, err := stream.next()
			if err != nil {
				break
			}
			a.handle(rec)
		}
		a.mu.Lock()
		if a.closing.Load() {
			a.mu.Unlock()
			return
		}
		a.ctl.Close()
		a.stream.close()
		a.ctl, a.stream = nil, nil
		a.mu.Unlock()
		a.log.Warn("gossip: lost the serf agent, reconnecting")
		for {
			select {
			case <-a.ctx.Done():
				return
			case <-time.After(a.cfg.Reconnect):
			}
			err := a.connect()
			if err == nil {
				a.log.Info("gossip: reconnected to the serf agent", "node", a.LocalName())
				break
			}
			a.log.Debug("gossip: serf agent still unreachable", "err", err)
		}
	}
}

// handle converts one record of the agent's event stream. Records are
// decoded loosely (msgpack strings may arrive as bytes, maps with any
// keys); a malformed one is logged and dropped.
func (a *Agent) handle(rec map[string]any) {
	kind := asString(rec["Event"])
	if kind == "user" {
		payload, _ := asBytes(rec["Payload"])
		ltime, _ := asUint(rec["LTime"])
		if ev, ok := userEvent(a.log, a.cfg.Root, a.cfg.UserEventSizeLimit, asString(rec["Name"]), payload, ltime); ok {
			a.events.deliver(ev)
		}
		return
	}
	k, ok := map[string]Kind{
		"member-join": MemberJoin, "member-leave": MemberLeave, "member-failed": MemberFailed,
		"member-update": MemberUpdate, "member-reap": MemberReap,
	}[kind]
	list, isList := rec["Members"].([]any)
	if !ok || !isList {
		a.log.Warn("gossip: dropping a malformed event from the serf agent", "event", kind)
		return
	}
	raw := make([]rawMember, 0, len(list))
	for _, m := range list {
		r, err := agentMember(asMap(m))
		if err != nil {
			a.log.Warn("gossip: dropping a malformed member from the serf agent", "event", kind, "err", err)
			continue
		}
		raw = append(raw, r)
	}
	for _, ev := range a.filter.apply(k, raw) {
		a.events.deliver(ev)
	}
}

// agentMember decodes a member of the agent's RPC protocol.
func agentMember(m map[string]any) (rawMember, error) {
	name := asString(m["Name"])
	if name == "" {
		return rawMember{}, errors.New("no name")
	}
	ipb, _ := asBytes(m["Addr"])
	ip, ok := netip.AddrFromSlice(ipb)
	if !ok {
		return rawMember{}, fmt.Errorf("member %s: bad address %v", name, m["Addr"])
	}
	port, ok := asUint(m["Port"])
	if !ok || port > 65535 {
		return rawMember{}, fmt.Errorf("member %s: bad port %v", name, m["Port"])
	}
	tags := map[string]string{}
	for k, v := range asMap(m["Tags"]) {
		tags[k] = asString(v)
	}
	var st Status
	switch asString(m["Status"]) {
	case "alive":
		st, ok = Alive, true
	case "leaving":
		st, ok = Leaving, true
	case "left":
		st, ok = Left, true
	case "failed":
		st, ok = Failed, true
	default:
		ok = false
	}
	return rawMember{Member: Member{Name: name, Addr: netip.AddrPortFrom(ip.Unmap(), uint16(port)), Tags: tags, Status: st}, ok: ok}, nil
}

func asString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []byte:
		return string(v)
	}
	return ""
}

func asBytes(v any) ([]byte, bool) {
	switch v := v.(type) {
	case []byte:
		return v, true
	case string:
		return []byte(v), true
	case nil:
		return nil, true
	}
	return nil, false
}

func asUint(v any) (uint64, bool) {
	switch v := v.(type) {
	case uint64:
		return v, true
	case uint32:
		return uint64(v), true
	case uint16:
		return uint64(v), true
	case uint8:
		return uint64(v), true
	case uint:
		return uint64(v), true
	case int64:
		return uint64(v), v >= 0
	case int32:
		return uint64(v), v >= 0
	case int16:
		return uint64(v), v >= 0
	case int8:
		return uint64(v), v >= 0
	case int:
		return uint64(v), v >= 0
	}
	return 0, false
}

func asMap(v any) map[string]any {
	switch v := v.(type) {
	case map[string]any:
		return v
	case map[any]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			if s := asString(k); s != "" {
				out[s] = x
			}
		}
		return out
	case map[string]string:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = x
		}
		return out
	}
	return nil
}

// NameConflict is always nil: the agent's own Serf settles conflicts over
// its node name, and logs them.
func (a *Agent) NameConflict() error { return nil }

// NameLost is nil: the agent gives up its name, if ever, by itself.
func (a *Agent) NameLost() <-chan struct{} { return nil }

// LocalName returns the agent's node name.
func (a *Agent) LocalName() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.name
}

// Members asks the agent for the members of our network; while the agent
// cannot be reached it returns the last answer.
func (a *Agent) Members() []Member {
	ctl, err := a.control()
	var ms []client.Member
	if err == nil {
		ms, err = ctl.Members()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		a.log.Debug("gossip: members from the serf agent", "err", err)
	} else {
		a.members = a.members[:0:0]
		for _, m := range ms {
			addr, _ := netip.AddrFromSlice(m.Addr)
			st, ok := statusFromString(m.Status)
			if ok && m.Tags[RootTag] == a.cfg.Root {
				a.members = append(a.members, Member{Name: m.Name, Addr: netip.AddrPortFrom(addr.Unmap(), m.Port), Tags: withoutRoot(m.Tags), Status: st})
			}
		}
		sortMembers(a.members)
	}
	out := make([]Member, len(a.members))
	for i, m := range a.members {
		out[i] = m.Clone()
	}
	return out
}

func statusFromString(s string) (Status, bool) {
	all := []Status{Alive, Leaving, Failed, Left}
	i := slices.IndexFunc(all, func(st Status) bool { return st.String() == s })
	if i < 0 {
		return 0, false
	}
	return all[i], true
}

// Events returns the event channel (see Gossip).
func (a *Agent) Events() <-chan Event { return a.events.ch }

// Dropped returns the number of events dropped for a slow consumer (here;
// the agent drops events of its own when this client is slow).
func (a *Agent) Dropped() uint64 { return a.events.dropped.Load() }

// MaxPayload returns the largest payload Broadcast accepts for name.
func (a *Agent) MaxPayload(name string) int {
	return maxPayload(a.cfg.Root, name, a.cfg.UserEventSizeLimit)
}

// Broadcast asks the agent to send a user event named Root+":"+name.
func (a *Agent) Broadcast(name string, payload []byte) error {
	if max := a.MaxPayload(name); len(payload) > max {
		return fmt.Errorf("broadcast %q: %d bytes, at most %d: %w", name, len(payload), max, ErrTooLarge)
	}
	ctl, err := a.control()
	if err != nil {
		return err
	}
	if err := ctl.UserEvent(wireName(a.cfg.Root, name), payload, false); err != nil {
		return fmt.Errorf("broadcast %q: %w: %v", name, ErrAgent, err)
	}
	return nil
}

// Join asks the agent to join the members at addrs (without replaying
// their old user events).
func (a *Agent) Join(addrs []string) (int, error) {
	ctl, err := a.control()
	if err != nil {
		return 0, err
	}
	return join(addrs, func(addrs []string) (int, error) { return ctl.Join(addrs, false) })
}

// SetTags replaces our tags on the agent's node: tags of the node that are
// not in tags are removed, RootTag is kept.
func (a *Agent) SetTags(tags map[string]string) error {
	if err := checkTags(tags, a.cfg.Root); err != nil {
		return err
	}
	ctl, err := a.control()
	if err != nil {
		return err
	}
	ms, err := ctl.MembersFiltered(nil, "", regexp.QuoteMeta(a.LocalName()))
	if err != nil {
		return fmt.Errorf("set tags: %w: %v", ErrAgent, err)
	}
	var del []string
	for _, m := range ms {
		for k := range m.Tags {
			if _, keep := tags[k]; !keep && k != RootTag {
				del = append(del, k)
			}
		}
	}
	if err := ctl.UpdateTags(withRoot(tags, a.cfg.Root), del); err != nil {
		return fmt.Errorf("set tags: %w: %v", ErrAgent, err)
	}
	a.mu.Lock()
	a.tags = withoutRoot(tags)
	a.mu.Unlock()
	return nil
}

// Close stops the event stream, removes our tags from the agent's node (so
// the others see this server leave the network) and disconnects; the agent
// itself keeps running. Idempotent.
func (a *Agent) Close() error {
	a.once.Do(func() {
		a.mu.Lock()
		a.closing.Store(true)
		a.cancel()
		stream, ctl := a.stream, a.ctl
		del := []string{RootTag}
		for k := range a.tags {
			del = append(del, k)
		}
		a.mu.Unlock()
		// The stream goes first: its records stop before our tag change
		// makes one.
		if stream != nil {
			stream.close()
		}
		a.wg.Wait()
		if ctl != nil {
			if err := ctl.UpdateTags(nil, del); err != nil {
				a.err = fmt.Errorf("remove tags: %w: %v", ErrAgent, err)
			}
			ctl.Close()
		}
		close(a.events.ch)
	})
	return a.err
}
