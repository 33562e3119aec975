package gossip

import (
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/serf/serf"
)

// serfConfig returns Serf's configuration for a profile.
func serfConfig(profile string) *serf.Config {
	sc := serf.DefaultConfig()
	// Serf's resolution loses the name where no third node can vote; our
	// nameGuard resolves instead.
	sc.EnableNameConflictResolution = false
	switch profile {
	case ProfileWAN:
		sc.MemberlistConfig = memberlist.DefaultWANConfig()
	case ProfileLocal:
		// memberlist's local timings still take 3 s or more to suspect a
		// node (3 probe intervals of 1 s); probing five times as often
		// brings a failure down to about a second on loopback. Serf's
		// reconnect attempts to failed members are what heals a split once
		// the dead ones are no longer gossiped to: make them frequent too.
		ml := memberlist.DefaultLocalConfig()
		ml.ProbeInterval = 200 * time.Millisecond
		ml.ProbeTimeout = 100 * time.Millisecond
		ml.SuspicionMaxTimeoutMult = 2 // an isolated node hears no confirmations
		ml.GossipInterval = 50 * time.Millisecond
		ml.PushPullInterval = 2 * time.Second
		ml.GossipToTheDeadTime = 2 * time.Second
		sc.MemberlistConfig = ml
		sc.ReconnectInterval = 500 * time.Millisecond
		sc.BroadcastTimeout = time.Second
		sc.LeavePropagateDelay = 100 * time.Millisecond
	default:
		sc.MemberlistConfig = memberlist.DefaultLANConfig()
	}
	return sc
}
