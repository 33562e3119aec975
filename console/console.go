package console

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/distkv-go/distkv/core/client"
)

// Config is what the console needs from the server that serves it.
type Config struct {
	// Open opens a client connection to this server, logged in as name
	// with password; with logins off (LoginsOn false) name and password
	// are empty and it opens one without a login. It may block for as
	// long as ctx allows.
	Open func(ctx context.Context, name, password string) (*client.Client, error)
	// LoginsOn tells whether the server wants logins now. It must not
	// block.
	LoginsOn func() bool
	Node     string // this server's name, for the title
	// Links, if set, lists the other live servers and whether this one
	// is connected to them, for the network page (shown to users who may
	// see the rest of that page).
	Links  func() []Link
	Secure bool // served over HTTPS: cookies get Secure
	Log    *slog.Logger

	// MaxSessions bounds the sessions held at once; a new one drops the
	// one idle longest. [DefaultMaxSessions]
	MaxSessions int
	// IdleTimeout ends a session unused this long. [DefaultIdleTimeout]
	IdleTimeout time.Duration
}

// Defaults of Config.
const (
	DefaultMaxSessions = 100
	DefaultIdleTimeout = 30 * time.Minute
)

// Limits of requests.
const (
	maxBody      = 1 << 20 // a JSON body
	maxPage      = 500     // children per page
	defaultPage  = 100
	requestLimit = 30 * time.Second // a request to the server, the watch aside
)

//go:embed static
var static embed.FS

// Console serves the web console: its pages and its JSON API. It is safe
// for concurrent use.
type Console struct {
	cfg    Config
	mux    *http.ServeMux
	files  http.Handler
	index  []byte
	etags  map[string]string // by file name below static/
	ctx    context.Context   // ends at Close: ends watches and the janitor
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex // protects the fields below
	sessions map[string]*session
	closed   bool
}

// New returns a console; Close ends its sessions.
func New(cfg Config) *Console {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = DefaultMaxSessions
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.LoginsOn == nil {
		cfg.LoginsOn = func() bool { return false }
	}
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	index, err := fs.ReadFile(sub, "index.html")
	if err != nil {
		panic(err)
	}
	c := &Console{cfg: cfg, mux: http.NewServeMux(), files: http.FileServerFS(sub), index: index, etags: etags(sub), sessions: map[string]*session{}}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.routes()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.janitor()
	}()
	return c
}

func (c *Console) routes() {
	m := c.mux
	m.HandleFunc("GET /{$}", c.page)
	m.Handle("GET /static/", http.StripPrefix("/static/", http.HandlerFunc(c.static)))
	m.HandleFunc("GET /api/session", c.getSession)
	m.HandleFunc("POST /api/login", c.login)
	m.HandleFunc("POST /api/logout", c.logout)
	m.HandleFunc("GET /api/tree", c.withSession(c.tree))
	m.HandleFunc("GET /api/entry", c.withSession(c.getEntry))
	m.HandleFunc("PUT /api/entry", c.withSession(c.setEntry))
	m.HandleFunc("DELETE /api/entry", c.withSession(c.deleteEntry))
	m.HandleFunc("GET /api/watch", c.withSession(c.watch))
	m.HandleFunc("GET /api/errors", c.withSession(c.errors))
	m.HandleFunc("POST /api/errors/resolve", c.withSession(c.resolve))
	m.HandleFunc("GET /api/runners", c.withSession(c.runners))
	m.HandleFunc("GET /api/network", c.withSession(c.network))
	m.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		fail(w, http.StatusNotFound, "no such API: "+r.Method+" "+r.URL.Path)
	})
}

// ServeHTTP serves the console; mount it at "/".
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	if !c.cfg.LoginsOn() && !directHost(r.Host) {
		// DNS rebinding: a site whose name its owner points at this
		// machine is, to the browser, the same origin as the console. With
		// logins on it would still need a login; with them off it would
		// be root.
		fail(w, http.StatusForbidden, "with logins off the console answers only to an IP address, localhost or this machine's name, not to "+r.Host+": another site could reach it under that name (DNS rebinding); switch logins on to use other names")
		return
	}
	if strings.HasPrefix(r.URL.Path, "/api/") {
		h.Set("Cache-Control", "no-store")
		if p := r.URL.Path; path.Clean(p) != strings.TrimSuffix(p, "/") {
			// The mux would redirect to the clean path: no page asks
			// for one, and an API answers JSON.
			fail(w, http.StatusNotFound, "no such API: "+r.Method+" "+p)
			return
		}
		if err := checkCSRF(r); err != nil {
			fail(w, http.StatusForbidden, err.Error())
			return
		}
	}
	c.mux.ServeHTTP(w, r)
}

func (c *Console) page(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	c.revalidate(w, "index.html")
	http.ServeContent(w, r, "index.html", time.Time{}, bytes.NewReader(c.index))
}

// static serves the embedded files.
func (c *Console) static(w http.ResponseWriter, r *http.Request) {
	c.revalidate(w, r.URL.Path)
	c.files.ServeHTTP(w, r)
}

// revalidate lets the browser keep a file and ask whether it changed:
// embedded files have no time, so their ETag is a hash of the content,
// and a reload of an unchanged file answers 304 without a body.
func (c *Console) revalidate(w http.ResponseWriter, name string) {
	w.Header().Set("Cache-Control", "no-cache")
	if tag, ok := c.etags[name]; ok {
		w.Header().Set("ETag", tag)
	}
}

// etags hashes every embedded file.
func etags(files fs.FS) map[string]string {
	tags := map[string]string{}
	fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(files, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		tags[name] = `"` + hex.EncodeToString(sum[:12]) + `"`
		return nil
	})
	return tags
}

// directHost tells whether a request's Host names this machine directly:
// an IP address, localhost (or a name below it), or the machine's own
// name, which no other site's owner controls.
func directHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if _, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return true
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	name, err := os.Hostname()
	return err == nil && host != "" && (host == strings.ToLower(name) || strings.HasPrefix(strings.ToLower(name), host+"."))
}

// csrfHeader is the header the page sets on every request that changes
// something. A form or a link of another site cannot set it, and a
// script of another origin that tries needs a CORS preflight, which the
// console never answers.
const csrfHeader = "X-DistKV"

// checkCSRF refuses a state-changing request that lacks the header or a
// JSON body, or that comes from another origin.
func checkCSRF(r *http.Request) error {
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return errors.New("request from another origin (" + o + ") refused")
		}
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		return nil
	}
	if r.Header.Get(csrfHeader) != "1" {
		return errors.New("missing header " + csrfHeader + ": 1 (requests that change something come from the console's page)")
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return errors.New("the body must be JSON (Content-Type: application/json)")
	}
	return nil
}

// Close ends every session (and closes its client) and every watch. It
// is safe to call more than once; requests after it fail.
func (c *Console) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	all := c.sessions
	c.sessions = map[string]*session{}
	c.mu.Unlock()
	c.cancel()
	for _, s := range all {
		s.close()
	}
	c.wg.Wait()
}

// reply writes v as JSON.
func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	enc.Encode(v)
}

// errorReply is the body of every failed request.
type errorReply struct {
	Error    string     `json:"error"`
	Conflict bool       `json:"conflict,omitempty"`
	Current  *entryJSON `json:"current,omitempty"` // with Conflict: the entry as it is now
	Login    bool       `json:"login,omitempty"`   // log in (again)
}

func fail(w http.ResponseWriter, status int, msg string) {
	reply(w, status, errorReply{Error: msg})
}

// mergeCancel returns a context that ends with a or b.
func mergeCancel(a, b context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(a)
	stop := context.AfterFunc(b, cancel)
	return ctx, func() {
		stop()
		cancel()
	}
}
