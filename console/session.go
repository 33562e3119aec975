package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/distkv-go/distkv/core/client"
	"github.com/distkv-go/distkv/core/wire"
)

// cookieName is the session cookie.
const cookieName = "distkv_session"

// session is one browser's login: its own client connection, logged in
// as its user, through which every request of the browser goes.
type session struct {
	key    string // sha256 of the token: the map key, so the token is not kept
	user   string // "" with logins off
	client *client.Client
	noAuth bool // opened while logins were off

	mu      sync.Mutex // protects the fields below
	used    time.Time
	done    bool
	watches int // running
}

// maxWatches bounds the watches of a session: a page runs one, a browser
// holds a few pages open.
const maxWatches = 8

var errTooManyWatches = fmt.Errorf("too many live views (more than %d) in this session: close some", maxWatches)

// startWatch counts a watch in, unless the session has maxWatches.
func (s *session) startWatch() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.watches >= maxWatches {
		return false
	}
	s.watches++
	return true
}

func (s *session) endWatch() {
	s.mu.Lock()
	s.watches--
	s.mu.Unlock()
}

func (s *session) touch(now time.Time) {
	s.mu.Lock()
	s.used = now
	s.mu.Unlock()
}

func (s *session) lastUsed() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.used
}

// close closes the session's client, once.
func (s *session) close() {
	s.mu.Lock()
	done := s.done
	s.done = true
	s.mu.Unlock()
	if !done {
		s.client.Close()
	}
}

func newToken() string {
	var b [32]byte // 256 bits
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func tokenKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// lookup returns the request's live session, or nil.
func (c *Console) lookup(r *http.Request) *session {
	ck, err := r.Cookie(cookieName)
	if err != nil || ck.Value == "" {
		return nil
	}
	key := tokenKey(ck.Value)
	now := time.Now()
	c.mu.Lock()
	s := c.sessions[key]
	expired := s != nil && (now.Sub(s.lastUsed()) > c.cfg.IdleTimeout || s.noAuth && c.cfg.LoginsOn())
	if expired {
		delete(c.sessions, key)
	}
	c.mu.Unlock()
	if s == nil {
		return nil
	}
	if expired {
		s.close()
		return nil
	}
	s.touch(now)
	return s
}

// add keeps s under a new token and sets the cookie; beyond
// MaxSessions it drops the session idle longest.
func (c *Console) add(w http.ResponseWriter, s *session) (token string, err error) {
	token = newToken()
	s.key = tokenKey(token)
	s.touch(time.Now())
	var dropped *session
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		s.close()
		return "", errors.New("the console is shut down")
	}
	if len(c.sessions) >= c.cfg.MaxSessions {
		for _, o := range c.sessions {
			if dropped == nil || o.lastUsed().Before(dropped.lastUsed()) {
				dropped = o
			}
		}
		delete(c.sessions, dropped.key)
	}
	c.sessions[s.key] = s
	c.mu.Unlock()
	if dropped != nil {
		c.cfg.Log.Info("console: too many sessions, dropped the one idle longest", "user", dropped.user, "max", c.cfg.MaxSessions)
		dropped.close()
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: token, Path: "/", HttpOnly: true, Secure: c.cfg.Secure, SameSite: http.SameSiteStrictMode})
	return token, nil
}

// remove ends the request's session, if any, and with clear clears the
// cookie.
func (c *Console) remove(w http.ResponseWriter, r *http.Request, clear bool) {
	if ck, err := r.Cookie(cookieName); err == nil {
		key := tokenKey(ck.Value)
		c.mu.Lock()
		s := c.sessions[key]
		delete(c.sessions, key)
		c.mu.Unlock()
		if s != nil {
			s.close()
		}
	}
	if !clear {
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: c.cfg.Secure, SameSite: http.SameSiteStrictMode})
}

// janitor ends idle sessions, so that their connections do not linger
// until the browser comes back.
func (c *Console) janitor() {
	t := time.NewTicker(min(time.Minute, c.cfg.IdleTimeout/2+time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case now := <-t.C:
			var idle []*session
			c.mu.Lock()
			for k, s := range c.sessions {
				if now.Sub(s.lastUsed()) > c.cfg.IdleTimeout {
					delete(c.sessions, k)
					idle = append(idle, s)
				}
			}
			c.mu.Unlock()
			for _, s := range idle {
				s.close()
			}
		}
	}
}

// sessionJSON tells the page who it is.
type sessionJSON struct {
	Node     string `json:"node"`
	LoginsOn bool   `json:"loginsOn"`
	LoggedIn bool   `json:"loggedIn"`
	User     string `json:"user,omitempty"`
}

// getSession reports the session; with logins off it opens one, as
// there is nothing to log in with.
func (c *Console) getSession(w http.ResponseWriter, r *http.Request) {
	on := c.cfg.LoginsOn()
	out := sessionJSON{Node: c.cfg.Node, LoginsOn: on}
	if s := c.lookup(r); s != nil {
		out.LoggedIn, out.User = true, s.user
		reply(w, http.StatusOK, out)
		return
	}
	if !on {
		if err := c.open(w, r, "", ""); err != nil {
			failErr(w, err)
			return
		}
		out.LoggedIn = true
	}
	reply(w, http.StatusOK, out)
}

type loginJSON struct {
	Name     string `json:"name"`
	Password string `json:"password"`
}

func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	var in loginJSON
	if err := readJSON(r, &in); err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	on := c.cfg.LoginsOn()
	if on && strings.TrimSpace(in.Name) == "" {
		fail(w, http.StatusBadRequest, "login: a name is needed")
		return
	}
	if !on {
		in = loginJSON{}
	}
	c.remove(w, r, false)
	if err := c.open(w, r, in.Name, in.Password); err != nil {
		failErr(w, err)
		return
	}
	reply(w, http.StatusOK, sessionJSON{Node: c.cfg.Node, LoginsOn: on, LoggedIn: true, User: in.Name})
}

// open opens a client for a new session, and makes it the request's
// (for lookup) too.
func (c *Console) open(w http.ResponseWriter, r *http.Request, name, password string) error {
	ctx, cancel := context.WithTimeout(r.Context(), requestLimit)
	defer cancel()
	cl, err := c.cfg.Open(ctx, name, password)
	if err != nil {
		c.cfg.Log.Info("console: login failed", "user", name, "err", err)
		return err
	}
	token, err := c.add(w, &session{user: name, client: cl, noAuth: name == ""})
	if err != nil {
		return err
	}
	r.AddCookie(&http.Cookie{Name: cookieName, Value: token})
	return nil
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	c.remove(w, r, true)
	reply(w, http.StatusOK, struct{}{})
}

// withSession runs h with the request's session, or answers 401. An
// error of h becomes the reply; one that says the session's connection
// ended ends the session too.
func (c *Console) withSession(h func(http.ResponseWriter, *http.Request, *session) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s := c.lookup(r)
		if s == nil && !c.cfg.LoginsOn() {
			// Nothing to log in with: a session of its own, as the page
			// gets from /api/session.
			if err := c.open(w, r, "", ""); err != nil {
				failErr(w, err)
				return
			}
			s = c.lookup(r)
		}
		if s == nil {
			reply(w, http.StatusUnauthorized, errorReply{Error: "not logged in (or the session ended): log in", Login: true})
			return
		}
		err := h(w, r, s)
		switch {
		case err == nil:
		case errors.Is(err, client.ErrClosed):
			c.drop(s)
			reply(w, http.StatusUnauthorized, errorReply{Error: "the connection to the server ended: " + err.Error(), Login: true})
		default:
			failErr(w, err)
		}
	}
}

// drop forgets a session whose connection ended.
func (c *Console) drop(s *session) {
	c.mu.Lock()
	if c.sessions[s.key] == s {
		delete(c.sessions, s.key)
	}
	c.mu.Unlock()
	s.close()
}

// failErr answers with err's message and a status that fits it.
func failErr(w http.ResponseWriter, err error) {
	status := http.StatusBadGateway
	var ie *inputError
	switch {
	case errors.As(err, &ie):
		status = http.StatusBadRequest
	case errors.Is(err, errTooManyWatches):
		status = http.StatusTooManyRequests
	case errors.Is(err, wire.ErrAccess):
		status = http.StatusForbidden
	case errors.Is(err, wire.ErrAuthRequired), errors.Is(err, wire.ErrLogin):
		status = http.StatusUnauthorized
	case errors.Is(err, wire.ErrNoData):
		status = http.StatusNotFound
	case errors.Is(err, wire.ErrBadValue), errors.Is(err, wire.ErrBadRequest), errors.Is(err, wire.ErrTooBig):
		status = http.StatusBadRequest
	case errors.Is(err, context.DeadlineExceeded):
		status = http.StatusGatewayTimeout
	}
	reply(w, status, errorReply{Error: err.Error()})
}
