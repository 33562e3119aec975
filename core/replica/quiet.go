package replica

import (
	"net"
)

// warn logs a failure with a peer at warning level once a minute at most
// for the same (what, peer, err): a peer that keeps being refused (a wrong
// key, no login) is retried every Check (see core/quietlog).
func (r *Replica) warn(what, peer string, err error, args ...any) {
	args = append(args, "err", err)
	r.quiet.Warn(r.log, what+"\x00"+peer+"\x00"+err.Error(), what, args...)
}

// hostOf is a remote address without its port: a peer that dials again
// comes from another port.
func hostOf(a net.Addr) string {
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}
