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
	"github.com/distkv-go/distkv/core/persist"
	"github.com/distkv-go/distkv/core/server"
)

// target is the server under test.
type target struct {
	addr  string
	pid   int          // its process, for RSS; 0: unknown
	close func() error // stops it when the tool started it; safe to call twice
}

// A launcher starts fresh servers: a distkv binary or one in this process.
type launcher interface {
	// start starts a server that first loads file (if not ""), and says
	// how long it took from start to serving.
	start(ctx context.Context, file string) (*target, time.Duration, error)
}

// procLauncher runs `distkv server` processes.
type procLauncher struct {
	bin  string
	sets []string // -C overrides
	dir  string   // working directory
}

// startTimeout bounds a server's start, loading included.
const startTimeout = 5 * time.Minute

func (l *procLauncher) start(ctx context.Context, file string) (*target, time.Duration, error) {
	port, err := freePort()
	if err != nil {
		return nil, 0, err
	}
	// A network of its own: gossip and peer listener on loopback, free ports.
	args := []string{"-c", "/dev/null",
		"-C", "server.bind_default.host=127.0.0.1",
		"-C", "server.bind_default.port=" + strconv.Itoa(port),
		"-C", "server.serf.bind=127.0.0.1:0", "-C", "server.peer.bind=127.0.0.1:0"}
	for _, s := range l.sets {
		args = append(args, "-C", s)
	}
	args = append(args, "server")
	if file != "" {
		args = append(args, "-l", file)
	} else {
		args = append(args, "-i", "bench")
	}
	args = append(args, "bench")
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
		return &target{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), pid: cmd.Process.Pid, close: stop}, took, nil
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
type inprocLauncher struct {
	cfg server.Config
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
	return &inprocLauncher{cfg: server.Config{
		Node:        "bench",
		Listen:      "127.0.0.1:0",
		ChainLength: sc.Change.Length,
		Queue:       sc.Conn.Queue,
		MaxMessage:  int(sc.Conn.MaxMessage),
		LogSync:     sync,
		LogInterval: sc.Log.Interval.D(),
		Logger:      slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}}, nil
}

func (l *inprocLauncher) start(ctx context.Context, file string) (*target, time.Duration, error) {
	t0 := time.Now()
	s, err := server.New(l.cfg)
	if err != nil {
		return nil, 0, err
	}
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return nil, 0, err
		}
		_, err = s.Load(f, file)
		f.Close()
		if err != nil {
			return nil, 0, err
		}
	}
	if err := s.Start(); err != nil {
		return nil, 0, err
	}
	took := time.Since(t0)
	return &target{addr: s.Addr().String(), pid: os.Getpid(), close: s.Close}, took, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

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
