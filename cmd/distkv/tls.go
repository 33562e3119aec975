package main

import (
	"crypto/tls"

	"github.com/distkv-go/distkv/core/config"
	"github.com/distkv-go/distkv/core/tlsconf"
)

// serverTLS reads the files of a listener's ssl setting; nil: plain TCP.
func serverTLS(setting string, ssl config.ServerSSL) (*tls.Config, tlsconf.Files, error) {
	if !ssl.On() {
		return nil, tlsconf.Files{}, nil
	}
	f := tlsconf.Files{Setting: setting, Cert: ssl.Cert, Key: ssl.Key, CA: ssl.CA}
	cfg, err := tlsconf.Server(f)
	return cfg, f, err
}

// peerTLS reads server.peer.ssl's files; nil, nil: plain TCP.
func peerTLS(ssl config.ServerSSL) (listen, dial *tls.Config, f tlsconf.Files, err error) {
	if !ssl.On() {
		return nil, nil, tlsconf.Files{}, nil
	}
	f = tlsconf.Files{Setting: "server.peer.ssl", Cert: ssl.Cert, Key: ssl.Key, CA: ssl.CA}
	listen, dial, err = tlsconf.Peer(f)
	return listen, dial, f, err
}
