package config_test

import (
	"fmt"
	"os"

	"github.com/distkv-go/distkv/core/config"
)

func ExampleLoad() {
	cfg, src, err := config.Load(config.Options{
		Files:     []string{os.DevNull}, // -c /dev/null: no config file
		Overrides: []string{"connect.auth=_test name=joe", "connect.timeout=0.5"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(src)
	fmt.Printf("%q %s %s\n", cfg.Connect.Auth, cfg.Connect.Timeout, cfg.Server.Conn.MaxMessage)
	// Output:
	// config from /dev/null
	// "_test name=joe" 500ms 64MiB
}

func ExampleLoad_error() {
	_, _, err := config.Load(config.Options{
		Files:     []string{os.DevNull},
		Overrides: []string{"server.bind_defualt.port=1234"},
	})
	fmt.Println(err)
	// Output:
	// -C "server.bind_defualt.port=1234": server.bind_defualt.port: unknown key; did you mean server.bind_default.port?
}

func ExampleConfig_YAML() {
	cfg := config.Default()
	cfg.Connect.Auth = "_test name=joe"
	fmt.Print(cfg.YAML())
	// Output:
	// logging:
	//   level: info
	// server:
	//   bind_default:
	//     host: localhost
	//     port: 27586
	//   root: :distkv
	//   change:
	//     length: 5
	//   log:
	//     sync: interval
	//     interval: 100ms
	//     dir: ""
	//   conn:
	//     queue: 1000
	//     max_message: 64MiB
	//     input_budget: 256MiB
	//   serf:
	//     bind: 0.0.0.0:7946
	//     discover: true
	//     host: ""
	//     port: 7373
	//     key: ""
	//     keyring: ""
	//     profile: lan
	//   peer:
	//     bind: ""
	//     insecure: false
	//   http:
	//     bind: localhost:27587
	//   sync_timeout: 0s
	//   ack: local
	//   ack_timeout: 5s
	// connect:
	//   host: localhost
	//   port: 27586
	//   auth: _test name=joe
	//   timeout: 10s
	// runner:
	//   timeout: 10m
	//   max_timeout: 0s
	//   nodes: 0
}
