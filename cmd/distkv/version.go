package main

import (
	"runtime/debug"
)

// version is the release this binary was built from, stamped by
// scripts/build from `git describe --tags --always --dirty`:
//
//	go build -ldflags "-X main.version=v0.3.0-12-gabc1234" ./cmd/distkv
//
// Without the stamp it is empty and versionString falls back to what the
// Go toolchain recorded.
var version string

// versionString is what `distkv --version` prints after "distkv ": the
// stamp; else "devel" and the commit the go command recorded ("devel
// abc1234", "-dirty" with uncommitted changes); else "devel" alone (go
// test, or a build outside a git checkout).
func versionString() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	return develVersion(info.Settings)
}

// develVersion makes "devel COMMIT[-dirty]" of a build's vcs settings.
func develVersion(settings []debug.BuildSetting) string {
	var rev string
	var dirty bool
	for _, s := range settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "devel"
	}
	// As git describe abbreviates it.
	rev = rev[:min(len(rev), 7)]
	if dirty {
		rev += "-dirty"
	}
	return "devel " + rev
}
