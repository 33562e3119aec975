package server

import (
	"runtime/debug"
	"time"
)

// The Go runtime gives freed memory back to the operating system slowly
// (a few MiB a second, and only after a collection, which an idle server
// may not run for two minutes): after a burst of large messages, such as
// many connections that each held most of a 63 MiB request, the server
// would keep a gigabyte for minutes after they closed. So when the input
// budget was used much and is mostly free again, the server collects and
// gives the memory back at once.
const (
	memoryCheck    = 5 * time.Second // how often to look
	memoryReturnAt = 16 << 20        // the input that must have been used since the last look
)

// returnMemory runs until the server closes.
func (s *Server) returnMemory() {
	t := time.NewTicker(memoryCheck)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		if peak := s.input.TakePeak(); peak >= memoryReturnAt && s.input.Used() <= peak/4 {
			debug.FreeOSMemory()
		}
	}
}
