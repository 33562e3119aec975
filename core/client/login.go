package client

import (
	"context"
	"errors"
	"fmt"

	"github.com/distkv-go/distkv/core/auth"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/wire"
)

// AuthRequiredError: the server wants a login and the client has none
// (Config.Auth), or one of another method.
type AuthRequiredError struct {
	Method string // the method the server wants
	Have   string // the method the client has; "" if none
}

func (e *AuthRequiredError) Error() string {
	if e.Have != "" {
		return fmt.Sprintf("You cannot log in using %s; you need to log in using: %s", e.Have, e.Method)
	}
	return "You need to log in using: " + e.Method
}

// Unwrap makes errors.Is(err, wire.ErrAuthRequired) hold.
func (e *AuthRequiredError) Unwrap() error { return wire.ErrAuthRequired }

// methods reads the greeting's "auth": the current method first (nil if
// none), then others.
func methods(raw []byte) (current string, err error) {
	if raw == nil {
		return "", nil
	}
	v, err := pack.Decode(raw)
	if err != nil {
		return "", fmt.Errorf("the greeting's auth: %w", err)
	}
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		return "", nil
	}
	cur, _ := list[0].(string)
	return cur, nil
}

// syncCall sends a request on a connection whose reader has not started
// (during the greeting) and reads its single reply.
func (c *Client) syncCall(cn *conn, action string, args Args) (wire.Reply, error) {
	r, err := newRequest(action, args)
	if err != nil {
		return wire.Reply{}, err
	}
	c.mu.Lock()
	c.seq++
	seq := c.seq
	c.mu.Unlock()
	cn.wmu.Lock()
	err = cn.write(r.header(seq), r.body)
	cn.wmu.Unlock()
	if err != nil {
		return wire.Reply{}, err
	}
	var rep wire.Reply
	msg, err := cn.fr.Next()
	if err == nil {
		err = wire.DecodeReply(msg, &rep)
	}
	if err == nil && rep.Seq != seq {
		err = fmt.Errorf("a message for seq %d instead of the reply", rep.Seq)
	}
	if err == nil {
		err = rep.Err()
	}
	if err != nil {
		return wire.Reply{}, err
	}
	rep.Own()
	return rep, nil
}

// login logs the new connection in, as the greeting asks.
func (c *Client) login(cn *conn, current string) error {
	l := c.cred
	switch {
	case current == "":
		// Logins are off: the connection has root's rights.
		return nil
	case l == nil || l.Method == auth.Root:
		return &AuthRequiredError{Method: current}
	case l.Method != current:
		return &AuthRequiredError{Method: current, Have: l.Method}
	}
	args := Args{{Key: "typ", Value: l.Method}, {Key: "ident", Value: l.Name()}, {Key: "iter", Value: false}}
	if l.Method == auth.Password {
		sealed, err := c.seal(cn, l.Params["password"])
		if err != nil {
			return err
		}
		args = append(args, pack.KV{Key: "password", Value: sealed})
	}
	if _, err := c.syncCall(cn, wire.Auth, args); err != nil {
		return fmt.Errorf("log in as %s: %w", l.Name(), err)
	}
	return nil
}

// seal makes the connection's key (once) and seals a password's digest
// with it, during the greeting.
func (c *Client) seal(cn *conn, password string) ([]byte, error) {
	if cn.dhKey == nil {
		d, err := auth.NewDH(auth.DHLength)
		if err != nil {
			return nil, err
		}
		rep, err := c.syncCall(cn, wire.DiffieHellman, Args{{Key: "pubkey", Value: d.Pub}, {Key: "length", Value: auth.DHLength}})
		if err != nil {
			return nil, fmt.Errorf("key exchange: %w", err)
		}
		if cn.dhKey, err = dhKey(d, &rep); err != nil {
			return nil, err
		}
	}
	return auth.Seal(cn.dhKey, auth.Digest(password))
}

func dhKey(d *auth.DH, rep *wire.Reply) (*[32]byte, error) {
	v, err := pack.Decode(rep.Other["pubkey"])
	pub, ok := v.([]byte)
	if err != nil || !ok {
		return nil, errors.New("key exchange: the server's reply has no pubkey")
	}
	return d.Key(pub)
}

// SealPassword seals a password for a request on the client's current
// connection (auth_set's "password"), making the connection's key
// exchange first if it made none. The password itself is not sent; if the
// connection is replaced before the request goes out, the server refuses
// it (the new connection has another key) and the caller tries again.
func (c *Client) SealPassword(ctx context.Context, password string) ([]byte, error) {
	cn, err := c.current(ctx, wire.DiffieHellman, true)
	if err != nil {
		return nil, err
	}
	cn.dhMu.Lock()
	defer cn.dhMu.Unlock()
	if cn.dhKey == nil {
		d, err := auth.NewDH(auth.DHLength)
		if err != nil {
			return nil, err
		}
		rep, err := c.Request(ctx, wire.DiffieHellman, Args{{Key: "pubkey", Value: d.Pub}, {Key: "length", Value: auth.DHLength}})
		if err != nil {
			return nil, fmt.Errorf("key exchange: %w", err)
		}
		if cn.dhKey, err = dhKey(d, rep); err != nil {
			return nil, err
		}
	}
	return auth.Seal(cn.dhKey, auth.Digest(password))
}
