package config

import (
	"bytes"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the whole configuration of the distkv command. Each yaml tag
// is one element of a dotted key: Server.BindDefault.Port is
// server.bind_default.port. It is a plain value: copy it freely; it is not
// safe to change one copy from several goroutines.
type Config struct {
	// Logging is how much the command logs.
	Logging Logging `yaml:"logging"`
	// Server configures `distkv server`.
	Server Server `yaml:"server"`
	// Connect is how a client reaches a server; servers use it too when
	// they talk to their peers.
	Connect Connect `yaml:"connect"`
	// Runner configures runner daemons (`distkv client run all`); the
	// entry `.distkv config runner` overrides it while they run.
	Runner Runner `yaml:"runner"`
}

// Runner configures runner daemons.
type Runner struct {
	// Timeout is how long a job runs at most unless its entry says
	// (run set --timeout).
	Timeout Duration `yaml:"timeout"`
	// MaxTimeout bounds the time any job may ask for; 0: no bound.
	MaxTimeout Duration `yaml:"max_timeout"`
	// Nodes is the size of a group: jobs see it "complete" with that many
	// runners up; 0: with more than one.
	Nodes int `yaml:"nodes"`
}

// Logging configures log output.
type Logging struct {
	// Level is the least severe message that is logged: debug, info, warn
	// or error.
	Level Level `yaml:"level"`
}

// Server configures a node.
type Server struct {
	// BindDefault is where the server listens for clients.
	BindDefault Bind `yaml:"bind_default"`
	// Root is the network name: servers with different roots never mix,
	// even when they gossip on the same Serf network.
	Root string `yaml:"root"`
	// Change configures the change chains kept with every entry.
	Change Change `yaml:"change"`
	// Log configures the files written by `log dest`.
	Log LogFile `yaml:"log"`
	// Conn configures client connections.
	Conn Conn `yaml:"conn"`
	// Serf configures gossip: membership of the network's servers.
	Serf Serf `yaml:"serf"`
	// Peer configures the server-to-server listener.
	Peer Peer `yaml:"peer"`
	// HTTP configures the web console, metrics and health checks.
	HTTP HTTP `yaml:"http"`
	// SyncTimeout is how long a server that copies its network's data
	// (started without -i, or with -l while its network runs) waits for a
	// server to copy it from; 0 waits for ever.
	SyncTimeout Duration `yaml:"sync_timeout"`
	// Ack is when a server acknowledges a change unless the request says:
	// local (once applied on this server) or peer (once another server
	// has applied it too).
	Ack string `yaml:"ack"`
	// AckTimeout is how long an acknowledgement waits for another server
	// to confirm a change (ack peer) before it becomes an error.
	AckTimeout Duration `yaml:"ack_timeout"`
}

// Serf configures gossip.
type Serf struct {
	// Bind is where the embedded Serf listens ("host:port"; port 0 picks a
	// free one).
	Bind string `yaml:"bind"`
	// Join lists servers to join at start ("host:port" or "host").
	Join []string `yaml:"join,omitempty"`
	// Discover finds the network's other servers on the LAN by mDNS.
	Discover bool `yaml:"discover"`
	// Host, when set, is an external Serf agent's RPC host to use instead
	// of the embedded Serf.
	Host string `yaml:"host"`
	// Port is the external Serf agent's RPC port.
	Port int `yaml:"port"`
	// Key encrypts gossip and guards the peer protocol: base64 of 16, 24
	// or 32 bytes (as `serf keygen` prints); empty: no encryption.
	Key string `yaml:"key"`
	// Keyring, instead of Key, names a Serf keyring file.
	Keyring string `yaml:"keyring"`
	// Profile selects gossip timings: lan, wan or local.
	Profile string `yaml:"profile"`
}

// Peer configures the server-to-server listener.
type Peer struct {
	// Bind is where the peer listener binds ("host:port"); empty: the host
	// of serf.bind with a free port.
	Bind string `yaml:"bind"`
	// Insecure allows logins to be on while the gossip or peer port is
	// reachable beyond loopback without server.serf.key. Without it such a
	// server refuses to switch logins on and to start while they are on:
	// anyone who reaches the ports could join as a server and copy all
	// data, logins or not.
	Insecure bool `yaml:"insecure"`
	// SSL makes the peer listener speak TLS with this certificate, and
	// the server's dialer present it to its peers and verify theirs
	// against SSL.CA; empty: plain TCP.
	SSL ServerSSL `yaml:"ssl,omitempty"`
}

// HTTP configures the server's HTTP listener: the web console, /metrics,
// /healthz and /readyz.
type HTTP struct {
	// Bind is where it listens ("host:port"; port 0 picks a free one);
	// empty turns it off.
	Bind string `yaml:"bind"`
	// SSL makes it speak TLS (HTTPS), in the shape of the client port's.
	SSL ServerSSL `yaml:"ssl,omitempty"`
}

// DefaultHTTP is where the HTTP listener binds by default.
const DefaultHTTP = "localhost:27587"

// Bind is a listener address.
type Bind struct {
	// Host is the address to listen on.
	Host string `yaml:"host"`
	// Port is the TCP port to listen on; 0 picks any free port.
	Port int `yaml:"port"`
	// SSL makes the listener speak TLS; empty: plain TCP.
	SSL ServerSSL `yaml:"ssl,omitempty"`
}

// ServerSSL is the TLS side of a listener, in the shape of the original's
// ssl setting ({cert, key}). An empty Cert means plain TCP.
type ServerSSL struct {
	// Cert is the PEM file of the certificate (its chain may follow).
	Cert string `yaml:"cert"`
	// Key is the PEM file of the certificate's private key.
	Key string `yaml:"key"`
	// CA, if set, is a PEM file of CA certificates: then the other side
	// must present a certificate signed by one of them.
	CA string `yaml:"ca"`
}

// On says whether TLS is configured.
func (s ServerSSL) On() bool { return s != ServerSSL{} }

// ClientSSL is the TLS side of a client. It is on when any field is set.
type ClientSSL struct {
	// CA is a PEM file of the CA certificates that may sign the server's
	// certificate; empty: the system's roots.
	CA string `yaml:"ca"`
	// Cert is a client certificate (PEM file), for a server that
	// requires one.
	Cert string `yaml:"cert"`
	// Key is the client certificate's private key (PEM file).
	Key string `yaml:"key"`
	// ServerName is the name the server's certificate must carry; empty:
	// the host connected to.
	ServerName string `yaml:"server_name"`
}

// On says whether TLS is configured.
func (s ClientSSL) On() bool { return s != ClientSSL{} }

// Change configures change chains.
type Change struct {
	// Length is how many links a change chain keeps (1..100).
	Length int `yaml:"length"`
}

// LogFile configures the change log files of `log dest`.
type LogFile struct {
	// Sync is when the log file is fsynced: always, interval or never.
	Sync Sync `yaml:"sync"`
	// Interval is how often the "interval" policy fsyncs.
	Interval Duration `yaml:"interval"`
	// Dir, when set, is the directory below which `log dest` and `log
	// save` requests may write; empty: anywhere the server may.
	Dir string `yaml:"dir"`
}

// Conn configures client connections of a server.
type Conn struct {
	// Queue is how many messages a connection may have waiting to be sent
	// before the server acts on the slow client (at least 10).
	Queue int `yaml:"queue"`
	// MaxMessage is the largest request a client may send (64KiB to
	// 255MiB: a change must fit in a message to a peer).
	MaxMessage Size `yaml:"max_message"`
	// InputBudget is the memory that requests and peer messages not yet
	// received whole may take, all client and peer connections together
	// (at least 1MiB); past it, connections wait before they read more.
	InputBudget Size `yaml:"input_budget"`
}

// Connect configures a client.
type Connect struct {
	// Host is the server to connect to.
	Host string `yaml:"host"`
	// Port is the server's client port.
	Port int `yaml:"port"`
	// Auth is the login, a method and its parameters, e.g. "_test name=joe";
	// empty logs in as nobody in particular.
	Auth string `yaml:"auth"`
	// Timeout bounds connecting and waiting for the server's greeting.
	Timeout Duration `yaml:"timeout"`
	// SSL makes the client speak TLS; empty: plain TCP.
	SSL ClientSSL `yaml:"ssl,omitempty"`
}

// DefaultPort is the client port of the original DistKV.
const DefaultPort = 27586

// Default returns the built-in configuration, the base that files and
// overrides change. It is valid.
func Default() Config {
	return Config{
		Logging: Logging{Level: LevelInfo},
		Server: Server{
			BindDefault: Bind{Host: "localhost", Port: DefaultPort},
			Root:        ":distkv",
			Change:      Change{Length: 5},
			Log:         LogFile{Sync: SyncInterval, Interval: Duration(100 * time.Millisecond)},
			Conn:        Conn{Queue: 1000, MaxMessage: 64 * MiB, InputBudget: 256 * MiB},
			Serf:        Serf{Bind: "0.0.0.0:7946", Port: 7373, Profile: "lan", Discover: true},
			HTTP:        HTTP{Bind: DefaultHTTP},
			Ack:         "local",
			AckTimeout:  Duration(5 * time.Second),
		},
		Connect: Connect{
			Host:    "localhost",
			Port:    DefaultPort,
			Timeout: Duration(10 * time.Second),
		},
		Runner: Runner{Timeout: Duration(10 * time.Minute)},
	}
}

// YAML returns c as a YAML document that Load reads back to c.
func (c Config) YAML() string {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		// Every field type marshals; failing here is a bug in this package.
		panic("config: marshal: " + err.Error())
	}
	if err := enc.Close(); err != nil {
		panic("config: marshal: " + err.Error())
	}
	return b.String()
}
