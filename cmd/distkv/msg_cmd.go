package main

import (
	"bufio"
	"context"
	"errors"

	"github.com/distkv-go/distkv/core/client"
	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/value"
)

// MsgCmd is `distkv client msg`: pass-through messages between the
// clients of a network's servers (over gossip: small, fast, lossy).
type MsgCmd struct {
	Send    MsgSendCmd    `cmd:"" help:"Send a message to every client that monitors TOPIC, on any server of the network."`
	Monitor MsgMonitorCmd `cmd:"" help:"Print the messages sent to TOPIC as they arrive."`
}

// MsgSendCmd is `msg send`.
type MsgSendCmd struct {
	Value *string `short:"v" name:"value" placeholder:"VALUE" help:"The message: a string, or with -e a literal."`
	Eval  bool    `short:"e" name:"eval" help:"Read VALUE as a literal."`
	Topic pathArg `arg:"" help:"The topic, a path. ${path_help}"`
}

func (MsgSendCmd) Help() string {
	return `Messages travel by gossip: they are small (about 400 bytes with the
default Serf settings) and may be lost. Use them for hints, not data.

Example:
  distkv client msg send -ev '{"leader": "one"}' runners.default`
}

func (c *MsgSendCmd) Run(ctx context.Context, k *connector) error {
	if c.Value == nil {
		return errors.New("give the message with -v VALUE")
	}
	topic, cl, err := k.at(ctx, c.Topic)
	if err != nil {
		return err
	}
	raw, err := parseValue(*c.Value, c.Eval)
	if err != nil {
		return err
	}
	_, err = cl.Request(ctx, "msg_send", client.Args{{Key: "topic", Value: topic}, {Key: "data", Value: client.Raw(raw)}})
	return err
}

// MsgMonitorCmd is `msg monitor`.
type MsgMonitorCmd struct {
	Topic pathArg `arg:"" help:"The topic, a path. ${path_help}"`
}

func (MsgMonitorCmd) Help() string {
	return `Prints each message as a YAML document (topic, data) until Ctrl-C.

Example:
  distkv client msg monitor runners.default`
}

func (c *MsgMonitorCmd) Run(ctx context.Context, k *connector, g *globals) error {
	topic, cl, err := k.at(ctx, c.Topic)
	if err != nil {
		return err
	}
	s, err := cl.Stream(ctx, "msg_monitor", client.Args{{Key: "topic", Value: topic}})
	if err != nil {
		return err
	}
	defer s.Stop()
	w := bufio.NewWriter(g.stdout)
	defer w.Flush()
	for {
		rep, ok, err := s.Next()
		if !ok {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		m := pack.Map{{Key: "topic", Value: topic.String()}}
		if d := rep.Other["data"]; d != nil {
			v, err := value.Decode(d)
			if err != nil {
				return err
			}
			m = append(m, pack.KV{Key: "data", Value: v})
		} else if r := rep.Other["raw"]; r != nil {
			v, _ := value.Decode(r)
			m = append(m, pack.KV{Key: "raw", Value: v})
		}
		w.WriteString("---\n")
		if err := printYAML(w, m); err != nil {
			return err
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
}
