package debian

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"debug/buildinfo"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/distkv-go/distkv/internal/unitcheck"
)

// The architectures scripts/build makes by default: its name, Go's and
// the level of it (the build setting and its value), the ELF machine,
// Debian's.
var archs = []struct {
	name, goarch string
	level        [2]string
	machine      elf.Machine
	deb          string
}{
	{"amd64", "amd64", [2]string{"GOAMD64", "v1"}, elf.EM_X86_64, "amd64"},
	{"arm64", "arm64", [2]string{"GOARM64", "v8.0"}, elf.EM_AARCH64, "arm64"},
	{"armv7", "arm", [2]string{"GOARM", "7"}, elf.EM_ARM, "armhf"},
}

// outDir is where the one build of this test binary goes.
var outDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "distkv-build-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	outDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// artifacts is what scripts/build made.
type artifacts struct {
	version, debVersion string
	bins, debs          map[string]string // by architecture name: the file
	out                 string            // its output
}

var built struct {
	once sync.Once
	a    *artifacts
	err  error
}

// mustBuild runs scripts/build once for every test: a cross build takes
// long on a small machine.
func mustBuild(t *testing.T) *artifacts {
	t.Helper()
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("dpkg-deb is not installed: the packages are not built (scripts/test needs it)")
	}
	built.once.Do(func() { built.a, built.err = build() })
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.a
}

func build() (*artifacts, error) {
	desc, err := exec.Command("git", "describe", "--tags", "--always", "--dirty").Output()
	if err != nil {
		return nil, fmt.Errorf("git describe: %w", err)
	}
	out, err := exec.Command("../build", "--print-version").Output()
	if err != nil {
		return nil, fmt.Errorf("scripts/build --print-version: %w", err)
	}
	a := &artifacts{bins: map[string]string{}, debs: map[string]string{}}
	if _, err := fmt.Sscan(string(out), &a.version, &a.debVersion); err != nil {
		return nil, fmt.Errorf("scripts/build --print-version printed %q: %w", out, err)
	}
	if want := strings.TrimSpace(string(desc)); a.version != want {
		return nil, fmt.Errorf("scripts/build's version is %q, git describe's %q", a.version, want)
	}
	b, err := exec.Command("../build", "--out", outDir).CombinedOutput()
	a.out = string(b)
	if err != nil {
		return nil, fmt.Errorf("scripts/build: %w\n%s", err, b)
	}
	for _, arch := range archs {
		a.bins[arch.name] = filepath.Join(outDir, "distkv-"+a.version+"-linux-"+arch.name)
		a.debs[arch.name] = filepath.Join(outDir, "distkv_"+a.debVersion+"_"+arch.deb+".deb")
	}
	return a, nil
}

// TestBuildUsage: --help, and the mistakes the script refuses before it
// builds anything.
func TestBuildUsage(t *testing.T) {
	out, err := exec.Command("../build", "--help").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "Usage: scripts/build") {
		t.Errorf("scripts/build --help: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--no-such-flag"}, 2, "Usage: scripts/build"},
		{[]string{"--arch"}, 2, "Usage: scripts/build"},
		{[]string{"--arch", "sparc", "--out", t.TempDir()}, 1, "unknown architecture 'sparc'"},
	} {
		out, err := exec.Command("../build", tc.args...).CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != tc.code || !strings.Contains(string(out), tc.want) {
			t.Errorf("scripts/build %v: %v, want exit %d and %q\n%s", tc.args, err, tc.code, tc.want, out)
		}
	}
}

// TestDebVersion: git describe's versions become Debian versions that
// sort as the releases do.
func TestDebVersion(t *testing.T) {
	for _, tc := range []struct{ version, want string }{
		{"v0.3.0", "0.3.0"},
		{"v0.3.0-12-gabc1234", "0.3.0+12.gabc1234"},
		{"v0.3.0-12-gabc1234-dirty", "0.3.0+12.gabc1234.dirty"},
		{"v0.4.0-rc1", "0.4.0~rc1"},
		{"v0.4.0-rc1-3-g0123abc", "0.4.0~rc1+3.g0123abc"},
		{"54ce5fb", "0.0.0+git.54ce5fb"},
		{"54ce5fb-dirty", "0.0.0+git.54ce5fb.dirty"},
		{"release-1", ""},
		{"v1 2", ""},
	} {
		cmd := exec.Command("../build", "--print-version")
		cmd.Env = append(os.Environ(), "DISTKV_VERSION="+tc.version)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if tc.want == "" {
			if err == nil || !strings.Contains(stderr.String(), "version '"+tc.version+"'") {
				t.Errorf("version %q: %v, want an error naming it\n%s%s", tc.version, err, &stdout, &stderr)
			}
			continue
		}
		if got := strings.TrimSpace(stdout.String()); err != nil || got != tc.version+" "+tc.want {
			t.Errorf("version %q: %v, printed %q, want %q\n%s", tc.version, err, got, tc.version+" "+tc.want, &stderr)
		}
	}
	// Each sorts after the one before, as dpkg compares them.
	if _, err := exec.LookPath("dpkg"); err != nil {
		t.Skip("no dpkg to compare versions")
	}
	order := []string{"0.0.0+git.54ce5fb", "0.3.0", "0.3.0+12.gabc1234", "0.4.0~rc1", "0.4.0~rc1+3.g0123abc", "0.4.0"}
	for i := 1; i < len(order); i++ {
		if err := exec.Command("dpkg", "--compare-versions", order[i-1], "lt", order[i]).Run(); err != nil {
			t.Errorf("dpkg: %s is not before %s", order[i-1], order[i])
		}
	}
}

// TestBinaries: one static binary for each architecture, built as
// scripts/build says, stamped with the version; the one of this machine
// prints it.
func TestBinaries(t *testing.T) {
	a := mustBuild(t)
	for _, arch := range archs {
		name := a.bins[arch.name]
		if !strings.Contains(a.out, "built "+name+"\n") {
			t.Errorf("scripts/build did not say it built %s:\n%s", name, a.out)
		}
		f, err := elf.Open(name)
		if err != nil {
			t.Errorf("%s: %v", arch.name, err)
			continue
		}
		if f.Machine != arch.machine {
			t.Errorf("%s: machine %v, want %v", name, f.Machine, arch.machine)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
				t.Errorf("%s has a %v program header: not static", name, p.Type)
			}
		}
		f.Close()
		info, err := buildinfo.ReadFile(name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		want := map[string]string{"GOOS": "linux", "GOARCH": arch.goarch, arch.level[0]: arch.level[1],
			"CGO_ENABLED": "0", "-trimpath": "true"}
		for _, s := range info.Settings {
			if w, ok := want[s.Key]; ok {
				if s.Value != w {
					t.Errorf("%s: %s=%s, want %s", name, s.Key, s.Value, w)
				}
				delete(want, s.Key)
			}
			if s.Key == "-ldflags" && !strings.Contains(s.Value, "-X main.version="+a.version) {
				t.Errorf("%s: -ldflags %q without the version stamp", name, s.Value)
			}
		}
		if len(want) > 0 {
			t.Errorf("%s: built without %v", name, want)
		}
	}
	// A binary of another architecture runs where qemu-user is installed;
	// this machine's anywhere.
	for _, arch := range archs {
		args := []string{a.bins[arch.name], "--version"}
		if arch.goarch != nativeArch(t) {
			q, err := exec.LookPath("qemu-" + map[string]string{"arm64": "aarch64", "arm": "arm"}[arch.goarch])
			if err != nil {
				t.Logf("%s: not run (no qemu-user)", arch.name)
				continue
			}
			args = append([]string{q}, args...)
		}
		out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
		if got, want := string(out), "distkv "+a.version+"\n"; err != nil || got != want {
			t.Errorf("%s --version: %v, printed %q, want %q", arch.name, err, got, want)
		}
	}
}

// nativeArch is the GOARCH of this machine's binaries.
func nativeArch(t *testing.T) string {
	out, err := exec.Command("go", "env", "GOHOSTARCH").Output()
	if err != nil {
		t.Fatalf("go env GOHOSTARCH: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// TestChecksums: SHA256SUMS holds every file of the build, and right.
func TestChecksums(t *testing.T) {
	a := mustBuild(t)
	f, err := os.Open(filepath.Join(outDir, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var listed []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			t.Fatalf("SHA256SUMS: line %q", sc.Text())
		}
		b, err := os.ReadFile(filepath.Join(outDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if h := sha256.Sum256(b); hex.EncodeToString(h[:]) != sum {
			t.Errorf("SHA256SUMS: %s has another sum", name)
		}
		listed = append(listed, name)
	}
	for _, arch := range archs {
		for _, name := range []string{a.bins[arch.name], a.debs[arch.name]} {
			if !slices.Contains(listed, filepath.Base(name)) {
				t.Errorf("SHA256SUMS lacks %s: %v", filepath.Base(name), listed)
			}
		}
	}
}

// installed lists what the package must hold: path and mode as
// dpkg-deb --contents prints them, and the file of the repository it
// must be a copy of ("" for the binary).
func installed(t *testing.T) map[string]struct{ mode, src string } {
	want := map[string]struct{ mode, src string }{
		"/usr/bin/distkv":                 {"-rwxr-xr-x", ""},
		"/usr/lib/sysusers.d/distkv.conf": {"-rw-r--r--", "../service/distkv.sysusers"},
		"/etc/default/distkv":             {"-rw-r--r--", "../service/distkv.default"},
		"/etc/distkv/distkv.cfg":          {"-rw-r-----", "distkv.cfg"},
		"/usr/lib/distkv/distkv-start":    {"-rwxr-xr-x", "../service/distkv-start"},
		"/usr/lib/distkv/distkv-rotate":   {"-rwxr-xr-x", "../service/distkv-rotate"},
		"/usr/lib/distkv/distkv-recover":  {"-rwxr-xr-x", "../service/distkv-recover"},
	}
	for _, u := range units(t) {
		want["/usr/lib/systemd/system/"+filepath.Base(u)] = struct{ mode, src string }{"-rw-r--r--", u}
	}
	return want
}

// units are the unit files of scripts/service.
func units(t *testing.T) []string {
	s, err := filepath.Glob("../service/*.service")
	if err != nil {
		t.Fatal(err)
	}
	timers, _ := filepath.Glob("../service/*.timer")
	s = append(s, timers...)
	if len(s) < 6 {
		t.Fatalf("units of scripts/service: %v", s)
	}
	return s
}

// TestPackageFields: the control fields of every package.
func TestPackageFields(t *testing.T) {
	a := mustBuild(t)
	for _, arch := range archs {
		deb := a.debs[arch.name]
		if !strings.Contains(a.out, "built "+deb+"\n") {
			t.Errorf("scripts/build did not say it built %s:\n%s", deb, a.out)
		}
		want := map[string]string{
			"Package": "distkv", "Version": a.debVersion, "Architecture": arch.deb,
			"Depends": "adduser | systemd", "Section": "database", "Priority": "optional",
		}
		for field, w := range want {
			out, err := exec.Command("dpkg-deb", "--field", deb, field).CombinedOutput()
			if got := strings.TrimSpace(string(out)); err != nil || got != w {
				t.Errorf("%s: %s: %q (%v), want %q", filepath.Base(deb), field, got, err, w)
			}
		}
		for _, field := range []string{"Maintainer", "Installed-Size", "Description", "Homepage"} {
			if out, err := exec.Command("dpkg-deb", "--field", deb, field).CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) == 0 {
				t.Errorf("%s: no %s: %v %s", filepath.Base(deb), field, err, out)
			}
		}
		out, err := exec.Command("dpkg-deb", "--info", deb, "conffiles").CombinedOutput()
		if got := string(out); err != nil || got != "/etc/default/distkv\n/etc/distkv/distkv.cfg\n" {
			t.Errorf("%s: conffiles %q (%v)", filepath.Base(deb), got, err)
		}
		for _, script := range []string{"postinst", "prerm", "postrm"} {
			if out, err := exec.Command("dpkg-deb", "--info", deb, script).CombinedOutput(); err != nil || !bytes.HasPrefix(out, []byte("#!/bin/sh\n")) {
				t.Errorf("%s: %s: %v\n%s", filepath.Base(deb), script, err, out)
			}
		}
	}
}

// TestPackageContents: every package holds the binary of its
// architecture, the units, scripts and config, owned by root, with the
// right modes, as they are in the repository; installed, the units
// verify and the binary reads the config.
func TestPackageContents(t *testing.T) {
	a := mustBuild(t)
	want := installed(t)
	line := regexp.MustCompile(`^([-dlrwxs]{10}) (\S+)/(\S+) +\d+ \S+ \S+ \.(/\S*)$`)
	for _, arch := range archs {
		deb := a.debs[arch.name]
		out, err := exec.Command("dpkg-deb", "--contents", deb).CombinedOutput()
		if err != nil {
			t.Fatalf("dpkg-deb --contents %s: %v\n%s", deb, err, out)
		}
		seen := map[string]bool{}
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			m := line.FindStringSubmatch(l)
			if m == nil {
				t.Errorf("%s: dpkg-deb --contents line %q", arch.deb, l)
				continue
			}
			mode, owner, group, path := m[1], m[2], m[3], strings.TrimSuffix(m[4], "/")
			if owner != "root" || group != "root" {
				t.Errorf("%s: %s owned by %s/%s", arch.deb, path, owner, group)
			}
			if mode[0] == 'd' {
				if mode != "drwxr-xr-x" {
					t.Errorf("%s: directory %s has mode %s", arch.deb, path, mode)
				}
				continue
			}
			w, ok := want[path]
			if !ok {
				t.Errorf("%s holds %s, which it should not", arch.deb, path)
				continue
			}
			seen[path] = true
			if mode != w.mode {
				t.Errorf("%s: %s has mode %s, want %s", arch.deb, path, mode, w.mode)
			}
		}
		for path := range want {
			if !seen[path] {
				t.Errorf("%s lacks %s", arch.deb, path)
			}
		}
	}

	// Unpacked: the same files as the repository's, the binary of its
	// build, and units that verify with their commands in place.
	root := t.TempDir()
	if out, err := exec.Command("dpkg-deb", "-x", a.debs["amd64"], root).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -x: %v\n%s", err, out)
	}
	for path, w := range want {
		src := w.src
		if src == "" {
			src = a.bins["amd64"]
		}
		if !sameFile(t, filepath.Join(root, path), src) {
			t.Errorf("the package's %s is not %s", path, src)
		}
	}
	bin := filepath.Join(root, "usr/bin/distkv")
	if out, err := exec.Command(bin, "-c", filepath.Join(root, "etc/distkv/distkv.cfg"), "keygen").CombinedOutput(); err != nil {
		t.Errorf("distkv -c /etc/distkv/distkv.cfg keygen: %v\n%s", err, out)
	}
	var unitFiles []string
	for _, u := range units(t) {
		unitFiles = append(unitFiles, filepath.Join(root, "usr/lib/systemd/system", filepath.Base(u)))
	}
	unitcheck.Verify(t, unitFiles, strings.NewReplacer(
		"/usr/lib/distkv/", filepath.Join(root, "usr/lib/distkv")+"/",
		"/usr/bin/distkv", bin))
}

// TestMaintainerScripts: the maintainer scripts are POSIX sh.
func TestMaintainerScripts(t *testing.T) {
	for _, name := range []string{"postinst", "prerm", "postrm"} {
		if out, err := exec.Command("sh", "-n", name).CombinedOutput(); err != nil {
			t.Errorf("sh -n %s: %v\n%s", name, err, out)
		}
	}
}

func sameFile(t *testing.T, a, b string) bool {
	t.Helper()
	x, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Equal(x, y)
}
