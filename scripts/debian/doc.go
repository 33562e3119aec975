// Package debian holds what scripts/build puts into the Debian package
// beside the files of scripts/service: the default config distkv.cfg
// (installed as /etc/distkv/distkv.cfg, every key commented out with its
// default) and the maintainer scripts postinst, prerm and postrm. It has
// no Go code of its own, only the tests that run scripts/build and check
// what it made: static binaries of every architecture, the packages'
// fields and contents, the units as installed (systemd-analyze verify),
// and that the config loads.
//
// The maintainer scripts create the system user distkv (systemd-sysusers,
// else adduser) and /var/lib/distkv, give the config the group distkv
// (dpkg-statoverride), stop the units on removal and reload systemd; they
// enable and start nothing. README.md, "Installing", is the user's side.
package debian
