// Package gossip is membership and small notices among the servers of one
// DistKV network, over Serf.
//
// # Basics
//
// Gossip is the interface; it has three implementations:
//
//   - Serf (NewSerf): github.com/hashicorp/serf embedded in the process, the
//     default. Config says where to bind, whom to join, the network name
//     (Root), the encryption key, mDNS discovery and the timing profile.
//   - Agent (NewAgent): an external `serf agent` reached over its RPC port.
//   - Node (Network.Node): an in-memory fake for tests, whose Network cuts
//     and heals links (Partitioner). Switch does the same for embedded Serf
//     nodes of one test process, through Config.WrapTransport.
//
// Servers find each other, learn each other's tags (which carry the address
// of their peer listener: data never travels over gossip), and hear of
// joins, leaves, failures and user events on Events:
//
//	g, err := gossip.NewSerf(gossip.Config{NodeName: "one", Root: ":distkv",
//		Join: []string{"two.example:7946"}, Tags: map[string]string{"peer": addr}})
//	...
//	defer g.Close()
//	for ev := range g.Events() { ... }
//
// # Networks never mix
//
// A network is named by its root. Embedded nodes label every gossip packet
// with "distkv"+root (memberlist's Label: packets with another label are
// dropped unread) and carry the root in the member tag RootTag; a member
// with another root tag is refused when Serf would merge it, and filtered
// out of Members and Events everywhere (the only guard with an external
// agent, whose cluster may be shared). User events are named
//
//	<root> ":" <name>
//
// on the wire; events without our prefix are dropped with a debug log line.
// With a key (Config.Key or Config.KeyringFile) all gossip is encrypted and
// authenticated with AES-GCM: a node without the key, or with another one,
// cannot join.
//
// # Names
//
// A node's name is unique in its network. A node at another address that
// claims the name of a live member is not let in (memberlist refuses it),
// and each of the two sees the claim: NameConflict returns a
// *ConflictError naming the other's address. A left member of the name is
// a predecessor, no claim: a server stopped and started again under its
// name joins at once. Serf's own resolution is off: it would stop the
// running node too when nobody else can vote. Instead an embedded node
// asks the other members whom they know by its name (Serf's conflict
// query); when most of those that answer name another node, it gives the
// name up: it stops gossiping and NameLost is closed. A vote nobody
// answers keeps the name. A node whose name is in dispute stops without a
// leave, which could speak for the other node too.
//
// # Caveats
//
// Gossip carries hints, never data. User events are small (Serf's default
// limit of 512 bytes for name, payload and encoding, at most 9 KiB; see
// MaxPayload), go out a few packets per gossip interval, and can be dropped
// (queue overflow, a slow consumer of Events: see Dropped), duplicated (a
// rejoin) and reordered. Correctness must never rest on one arriving.
//
// Member events come one member per event. A failed member that comes back
// produces a MemberJoin; one that changes its root tag away from ours, a
// MemberLeave. Serf reports this node's own join, and delivers user events
// to their sender too; the fake does the same.
//
// Serf's callbacks and event channel are never blocked: one goroutine per
// node copies each event into the buffered Events channel or drops it.
//
// Discovery (Config.Discover) multicasts on the LAN (mDNS, service
// "_distkv-<root>._tcp"); it is off by default.
package gossip
