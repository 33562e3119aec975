// Package service holds the systemd units of DistKV's server and runner
// daemons and the POSIX sh scripts they call (distkv-start, distkv-rotate,
// distkv-recover); it has no Go code of its own, only the tests that run
// the scripts against the real binary and verify the units.
//
// The Debian package of scripts/build installs the scripts as
// /usr/lib/distkv/*, the units in /usr/lib/systemd/system,
// distkv.sysusers as /usr/lib/sysusers.d/distkv.conf and distkv.default
// as /etc/default/distkv; README.md, "Running as a service", tells how
// they are used.
package service
