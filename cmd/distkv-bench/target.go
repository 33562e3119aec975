package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/distkv-go/distkv/core/config"
	"github.com/distkv-go/distkv/core/gossip"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/persist"
	"github.com/distkv-go/distkv/core/server"
	"github.com/distkv-go/distkv/internal/freeport"
)

// target is the server under test.
type target struct {
	name   string       // its node name
	addr   string       // its client listener
	gossip string       // where others join its network (process: gossip address; in process: name)
	http   string       // its HTTP listener (startOpts.http, --scrape); "": none
	pid    int          // its process, for RSS; 0: unknown
	close  func() error // stops it when the tool started it; safe to call twice
}

// startOpts says how to start a server.
type startOpts struct {
	file string // load this save file first; "": none
	name string // node name; "": "bench"
	// join is the gossip address of a server whose network to join (the
	// new server copies its data before it serves); "": a new network
	// (-i, unless file is given).
	join string
	// network: the server is one of several (in process, servers on their
	// own have no gossip; processes always have).
	network bool
	// http: the server gets an HTTP listener (console, metrics) on a free
	// port (a process only); --scrape gives one too.
	http bool
}

func (o startOpts) node() string {
	if o.name == "" {
		return "bench"
	}
	return o.name
}

// A launcher starts fresh servers: distkv processes or servers in this
// process. Not safe for concurrent use.
type launcher interface {
	// start starts a server and says how long it took from start to
	// serving (for a joining server: until it holds the network's data).
	start(ctx context.Context, o startOpts) (*target, time.Duration, error)
}

// procLauncher runs `distkv server` processes.
type procLauncher struct {
	bin  string
	sets []string // -C overrides
	dir  string   // working directory
	// scrape: the server gets an HTTP listener, and its /metrics is
	// fetched this often while it runs; 0: no HTTP listener.
	scrape time.Duration
	log    func(format string, args ...any)
}

// startTimeout bounds a server's start, loading included.
const startTimeout = 5 * time.Minute

func (l *procLauncher) start(ctx context.Context, o startOpts) (*target, time.Duration, error) {
	port, err := freePort()
	if err != nil {
		return nil, 0, err
	}
	gport, err := freePort()
	if err != nil {
		return nil, 0, err
	}
	gossip := net.JoinHostPort("127.0.0.1", strconv.Itoa(gport))
	// Client, gossip and peer listener on loopback, free ports.
	args := []string{"-c", "/dev/null",
		"-C", "server.bind_default.host=127.0.0.1",
		"-C", "server.bind_default.port=" + strconv.Itoa(port),
		"-C", "server.serf.bind=" + gossip, "-C", "server.peer.bind=127.0.0.1:0", "-C", "server.serf.discover=false",
		"-C", "server.http.bind="} // off unless --scrape or -S turn it on
	httpAddr := ""
	if l.scrape > 0 || o.http {
		hport, err := freePort()
		if err != nil {
			return nil, 0, err
		}
		httpAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(hport))
		args = append(args, "-C", "server.http.bind="+httpAddr)
	}
	for _, s := range l.sets {
		args = append(args, "-C", s)
	}
	args = append(args, "server")
	switch {
	case o.file != "":
		args = append(args, "-l", o.file)
	case o.join == "":
		args = append(args, "-i", "bench")
	}
	if o.join != "" {
		args = append(args, "--join", o.join)
	}
	args = append(args, o.node())
	cmd := exec.Command(l.bin, args...)
	cmd.Dir = l.dir
	stderr := &tailBuffer{max: 8 << 10}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, 0, err
	}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, 0, fmt.Errorf("start %s: %w", l.bin, err)
	}
	ready := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		signalled := false
		for sc.Scan() { // drain to the end, so the server never blocks on stdout
			if !signalled && sc.Text() == "Running." {
				signalled = true
				close(ready)
			}
		}
	}()
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()

	var once sync.Once
	var closeErr error
	stop := func() error {
		once.Do(func() {
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-exited
				closeErr = errors.New("the server did not stop on SIGTERM; killed")
			}
		})
		return closeErr
	}
	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case <-ready:
		took := time.Since(t0)
		if l.scrape > 0 {
			sc := startScraper("http://"+httpAddr+"/metrics", l.scrape)
			serverStop := stop
			stop = func() error {
				said, err := sc.stop()
				if said != "" && l.log != nil {
					l.log("%s", said)
				}
				return errors.Join(err, serverStop())
			}
		}
		return &target{name: o.node(), addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), gossip: gossip, http: httpAddr,
			pid: cmd.Process.Pid, close: stop}, took, nil
	case <-exited:
		return nil, 0, fmt.Errorf("the server exited before it ran (%v): %s", waitErr, bytes.TrimSpace(stderr.Bytes()))
	case <-timer.C:
		stop()
		return nil, 0, fmt.Errorf("the server did not print Running. within %v: %s", startTimeout, bytes.TrimSpace(stderr.Bytes()))
	case <-ctx.Done():
		stop()
		return nil, 0, ctx.Err()
	}
}

// inprocLauncher runs servers in this process (for tests and profiles).
// Networks of servers talk over gossip's in-memory network and loopback
// TCP, one network at a time.
type inprocLauncher struct {
	cfg  server.Config
	root string          // the network name
	gn   *gossip.Network // the current network's gossip
}

func newInprocLauncher(sets []string) (*inprocLauncher, error) {
	cfg, _, err := config.Load(config.Options{Files: []string{os.DevNull}, Overrides: sets})
	if err != nil {
		return nil, err
	}
	sc := cfg.Server
	sync, err := persist.ParseSyncPolicy(string(sc.Log.Sync))
	if err != nil {
		return nil, err
	}
	return &inprocLauncher{root: sc.Root, cfg: server.Config{
		Node:        "bench",
		Listen:      "127.0.0.1:0",
		ChainLength: sc.Change.Length,
		Queue:       sc.Conn.Queue,
		MaxMessage:  int(sc.Conn.MaxMessage),
		InputBudget: int64(sc.Conn.InputBudget),
		LogSync:     sync,
		LogInterval: sc.Log.Interval.D(),
		Logger:      slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}}, nil
}

func (l *inprocLauncher) start(ctx context.Context, o startOpts) (*target, time.Duration, error) {
	t0 := time.Now()
	cfg := l.cfg
	cfg.Node = o.node()
	if o.network {
		if o.join == "" || l.gn == nil {
			l.gn = gossip.NewNetwork(gossip.NetworkLogger(cfg.Logger))
		}
		g := l.gn.Node(cfg.Node, nil)
		if o.join != "" {
			if _, err := g.Join([]string{o.join}); err != nil {
				g.Close()
				return nil, 0, err
			}
		}
		cfg.Cluster = &server.Cluster{Gossip: g, Root: l.root, PeerListen: "127.0.0.1:0"}
	}
	s, err := server.New(cfg)
	if err != nil {
		if cfg.Cluster != nil {
			cfg.Cluster.Gossip.Close()
		}
		return nil, 0, err
	}
	if o.file != "" {
		f, err := os.Open(o.file)
		if err != nil {
			return nil, 0, err
		}
		_, err = s.Load(f, o.file)
		f.Close()
		if err != nil {
			return nil, 0, err
		}
	} else if o.join == "" {
		if err := s.Init(pack.AppendString(nil, "bench")); err != nil {
			return nil, 0, err
		}
	}
	if err := s.Start(); err != nil {
		s.Close()
		return nil, 0, err
	}
	if o.join != "" && o.file == "" {
		// As `distkv server` does: copy the network's data, then serve.
		sctx, cancel := context.WithTimeout(ctx, startTimeout)
		err := s.Sync(sctx)
		cancel()
		if err != nil {
			s.Close()
			return nil, 0, err
		}
	}
	took := time.Since(t0)
	return &target{name: cfg.Node, addr: s.Addr().String(), gossip: cfg.Node, pid: os.Getpid(), close: s.Close}, took, nil
}

// freePort finds a loopback port free for TCP and UDP.
func freePort() (int, error) { return freeport.Loopback() }

// tailBuffer keeps the last max bytes written to it. Safe for concurrent use.
type tailBuffer struct {
	mu  sync.Mutex // protects b
	b   []byte
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) Bytes() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]byte(nil), t.b...)
}

// memory is a process's resident set from /proc/PID/status.
type memory struct {
	RSS, Peak int64 // bytes: VmRSS, VmHWM
}

func readMemory(pid int) (memory, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memory{}, err
	}
	defer f.Close()
	return parseStatus(f)
}

func parseStatus(r io.Reader) (memory, error) {
	var m memory
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		var kb int64
		line := sc.Text()
		if n, _ := fmt.Sscanf(line, "VmRSS: %d kB", &kb); n == 1 {
			m.RSS = kb << 10
		} else if n, _ := fmt.Sscanf(line, "VmHWM: %d kB", &kb); n == 1 {
			m.Peak = kb << 10
		}
	}
	if m.RSS == 0 {
		return m, errors.New("no VmRSS in /proc/PID/status")
	}
	return m, sc.Err()
}

// cpuSample is the CPU time used so far by this process and by the
// server's, to tell how much of the machine each took during a run.
type cpuSample struct {
	wall   time.Time
	self   time.Duration
	server time.Duration // 0 when unknown (or in this process)
}

// clockTick is the unit of /proc/PID/stat times (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

func sampleCPU(serverPID int) cpuSample {
	s := cpuSample{wall: time.Now()}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if serverPID != 0 && serverPID != os.Getpid() {
		s.server, _ = procCPU(serverPID)
	}
	return s
}

// cores returns the CPU used between a and b in cores (1 = one core busy).
func cores(a, b cpuSample) (self, server float64) {
	wall := b.wall.Sub(a.wall).Seconds()
	if wall <= 0 {
		return 0, 0
	}
	return (b.self - a.self).Seconds() / wall, (b.server - a.server).Seconds() / wall
}

// machineCPU reads the time all CPUs of the machine were busy so far
// (the first line of /proc/stat: all but idle and iowait), to tell how
// much of the machine other work took during a run.
func machineCPU() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	return parseMachineStat(b)
}

func parseMachineStat(b []byte) (time.Duration, error) {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 5 || string(f[0]) != "cpu" {
		return 0, errors.New("malformed /proc/stat")
	}
	var busy int64
	// user nice system idle iowait irq softirq steal (guest time is in
	// user already).
	for i, v := range f[1:min(len(f), 9)] {
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			return 0, errors.New("malformed /proc/stat")
		}
		if i != 3 && i != 4 {
			busy += n
		}
	}
	return time.Duration(busy) * clockTick, nil
}

// procCPU reads utime + stime of a process from /proc/PID/stat.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStat(b)
}

func parseStat(b []byte) (time.Duration, error) {
	// The command name may hold spaces: fields count from its ")".
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc/PID/stat")
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, errors.New("short /proc/PID/stat")
	}
	u, err1 := strconv.ParseInt(string(f[11]), 10, 64)
	s, err2 := strconv.ParseInt(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("malformed /proc/PID/stat times")
	}
	return time.Duration(u+s) * clockTick, nil
}
