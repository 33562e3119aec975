package persist

import (
	"sync/atomic"

	"github.com/distkv-go/distkv/core/latency"
)

// Stats counts what Writers did, for monitoring. Writers given the same
// Stats (Options.Stats) add to it, so a server that moves its change log
// to another file keeps counting. The zero value is ready; it is safe for
// concurrent use.
type Stats struct {
	Records atomic.Uint64     // records appended
	Bytes   atomic.Uint64     // bytes written to files, framing included
	Fsyncs  latency.Histogram // how long each fsync took
}
