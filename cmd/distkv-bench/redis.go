package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// redisServer is a redis-server the tool started for comparison.
type redisServer struct {
	port  int
	bench string // redis-benchmark
	cmd   *exec.Cmd
	done  chan struct{}
}

// errNoRedis means redis-server or redis-benchmark is not installed.
var errNoRedis = errors.New("redis-server and redis-benchmark are needed for --redis (apt-get install redis-server redis-tools)")

// startRedis starts redis-server on a free port, without persistence.
func startRedis(ctx context.Context, dir string) (*redisServer, error) {
	srv, err1 := exec.LookPath("redis-server")
	bench, err2 := exec.LookPath("redis-benchmark")
	if err1 != nil || err2 != nil {
		return nil, errNoRedis
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(srv, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no", "--loglevel", "warning")
	stderr := &tailBuffer{max: 4 << 10}
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start redis-server: %w", err)
	}
	r := &redisServer{port: port, bench: bench, cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(r.done) }()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for deadline := time.Now().Add(10 * time.Second); ; {
		nc, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			nc.Close()
			return r, nil
		}
		select {
		case <-r.done:
			return nil, fmt.Errorf("redis-server exited: %s", bytes.TrimSpace(stderr.Bytes()))
		case <-ctx.Done():
			r.close()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			r.close()
			return nil, fmt.Errorf("redis-server does not accept connections on %s", addr)
		}
	}
}

func (r *redisServer) close() {
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(5 * time.Second):
		r.cmd.Process.Kill()
		<-r.done
	}
}

// RedisResult is redis-benchmark's figures for one run.
type RedisResult struct {
	Command   string  `json:"command"`
	GetPerSec float64 `json:"get_per_sec"`
	GetP50ms  float64 `json:"get_p50_ms"`
	SetPerSec float64 `json:"set_per_sec"`
	SetP50ms  float64 `json:"set_p50_ms"`
	Ratio     float64 `json:"ratio,omitempty"` // DistKV's rate / Redis's, for get and set

	BenchCores  float64 `json:"bench_cores,omitempty"`  // CPU of redis-benchmark, in cores
	ServerCores float64 `json:"server_cores,omitempty"` // and of redis-server
}

// run runs redis-benchmark -q -t get,set -c C -P P -n N -d 16.
func (r *redisServer) run(ctx context.Context, conns, pipeline int, n int64) (*RedisResult, error) {
	args := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(r.port), "-q", "-t", "get,set",
		"-c", strconv.Itoa(conns), "-P", strconv.Itoa(pipeline), "-n", strconv.FormatInt(n, 10), "-d", "16"}
	cmd := exec.CommandContext(ctx, r.bench, args...)
	before := sampleCPU(r.cmd.Process.Pid)
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("redis-benchmark: %w", err)
	}
	after := sampleCPU(r.cmd.Process.Pid)
	res, err := parseRedisBench(out)
	if err != nil {
		return nil, err
	}
	wall := after.wall.Sub(before.wall).Seconds()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && wall > 0 {
		res.BenchCores = float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9 / wall
	}
	_, res.ServerCores = cores(before, after)
	res.Command = "redis-benchmark " + strings.Join(args[4:], " ")
	return res, nil
}

var redisLine = regexp.MustCompile(`^(GET|SET): ([0-9.]+) requests per second(?:, p50=([0-9.]+) msec)?`)

// parseRedisBench reads the final lines of redis-benchmark -q (the
// progress before them is separated by carriage returns).
func parseRedisBench(out []byte) (*RedisResult, error) {
	var res RedisResult
	found := 0
	for _, line := range strings.FieldsFunc(string(out), func(r rune) bool { return r == '\r' || r == '\n' }) {
		m := redisLine.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		rate, _ := strconv.ParseFloat(m[2], 64)
		p50, _ := strconv.ParseFloat(m[3], 64)
		if m[1] == "GET" {
			res.GetPerSec, res.GetP50ms = rate, p50
		} else {
			res.SetPerSec, res.SetP50ms = rate, p50
		}
		found++
	}
	if found == 0 {
		return nil, fmt.Errorf("no results in the output of redis-benchmark: %q", out)
	}
	return &res, nil
}
