// Package httpd is a server's HTTP listener (server.http.bind): it answers
// the health checks itself and hands /metrics and everything else (the web
// console) to the handlers it is given.
//
// /healthz says that the process serves HTTP: 200 whenever it answers at
// all. /readyz says whether the DistKV server serves its clients: 200 once
// it has its data and is in its network (or is the first one), the moment
// `distkv server` prints "Running.", and 503 before (while it loads files
// or copies the network's data) and after it stopped serving. Both answer
// with a small JSON body that says why.
package httpd

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Config configures a Server. Zero fields take the defaults in brackets.
type Config struct {
	TLS *tls.Config // nil: plain HTTP
	// Ready tells whether the server serves its clients (see the package
	// doc) and, if not, why. [always ready]
	Ready func() State
	// Metrics serves /metrics. [404]
	Metrics http.Handler
	// Console serves every other path. [404]
	Console http.Handler
	Log     *slog.Logger // [slog.Default()]
}

// State is the readiness /readyz reports.
type State struct {
	Ready bool `json:"ready"`
	// Phase is a word for where the server is: "loading", "syncing",
	// "running", "stopped".
	Phase string `json:"phase"`
	// Reason says why it is not ready; empty when it is.
	Reason string `json:"reason,omitempty"`
}

// Server is a running HTTP listener.
type Server struct {
	ln   net.Listener
	http *http.Server
	done chan struct{}
}

// Serve serves on ln in the background until Close.
func Serve(ln net.Listener, cfg Config) *Server {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.TLS != nil {
		ln = tls.NewListener(ln, cfg.TLS)
	}
	s := &Server{ln: ln, done: make(chan struct{})}
	s.http = &http.Server{
		Handler:           Handler(cfg),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(cfg.Log.Handler(), slog.LevelDebug),
	}
	go func() {
		defer close(s.done)
		if err := s.http.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			cfg.Log.Error("the HTTP listener stopped", "addr", ln.Addr().String(), "err", err)
		}
	}()
	return s
}

// Addr is where the listener listens.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Close stops listening and ends every connection, event streams
// included.
func (s *Server) Close() error {
	err := s.http.Close()
	<-s.done
	return err
}

// Handler routes the paths of the package doc; Serve serves it.
func Handler(cfg Config) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		st := State{Ready: true, Phase: "running"}
		if cfg.Ready != nil {
			st = cfg.Ready()
		}
		code := http.StatusOK
		if !st.Ready {
			code = http.StatusServiceUnavailable
		}
		writeJSON(w, code, st)
	})
	if cfg.Metrics != nil {
		mux.Handle("GET /metrics", cfg.Metrics)
	}
	if cfg.Console != nil {
		mux.Handle("/", cfg.Console)
	}
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}
