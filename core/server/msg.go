package server

import (
	"errors"
	"fmt"
	"sync"

	"github.com/distkv-go/distkv/core/pack"
	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/core/value"
	"github.com/distkv-go/distkv/core/wire"
)

// Pass-through messages: a client's msg_send goes out as a gossip user
// event to every server of the network, which hands it to its clients'
// msg_monitor streams of the same topic. Gossip is lossy and small (see
// core/gossip): this is for coordination hints, not data.

// msgSubs are the msg_monitor streams of a server.
type msgSubs struct {
	mu   sync.Mutex // protects subs
	subs map[*msgSub]struct{}
}

type msgSub struct {
	topic path.Path
	ch    chan []byte // payloads; full: the message is dropped for this stream
}

var errNoCluster = errors.New("this server is not part of a network (no gossip)")

// deliverMsg hands a received message to the monitors of its topic. It
// runs on the gossip pump: it must not block.
func (s *Server) deliverMsg(payload []byte) {
	topic, _, _, err := decodeMsg(payload)
	if err != nil {
		s.log.Debug("dropped a malformed message", "err", err)
		return
	}
	s.msgs.mu.Lock()
	defer s.msgs.mu.Unlock()
	for sub := range s.msgs.subs {
		if sub.topic == topic {
			select {
			case sub.ch <- payload:
			default:
			}
		}
	}
}

// decodeMsg reads {topic, data | raw}.
func decodeMsg(payload []byte) (topic path.Path, data []byte, isRaw bool, err error) {
	r := pack.NewReader(payload)
	n, err := r.ReadMapHeader()
	if err != nil {
		return topic, nil, false, err
	}
	hasTopic := false
	for range n {
		k, err := r.ReadStrBytes()
		if err != nil {
			return topic, nil, false, err
		}
		switch string(k) {
		case "topic":
			topic, err = path.Read(r)
			hasTopic = true
		case "data":
			data, err = r.Raw()
		case "raw":
			data, err = r.ReadBin()
			isRaw = true
		default:
			err = r.Skip()
		}
		if err != nil {
			return topic, nil, false, err
		}
	}
	if !hasTopic || data == nil {
		return topic, nil, false, errors.New("a message needs a topic and data or raw")
	}
	return topic, data, isRaw, nil
}

// msgRequest checks what msg_send and msg_monitor both need: a network
// and a topic.
func (c *conn) msgRequest(req *wire.Request) error {
	if c.s.cfg.Cluster == nil {
		return fmt.Errorf("%w: %w", wire.ErrBadRequest, errNoCluster)
	}
	if !req.HasTopic {
		return fmt.Errorf("%w: %s needs a topic", wire.ErrBadRequest, req.Action)
	}
	return nil
}

// msgSend broadcasts {topic, data | raw} to the network.
func (c *conn) msgSend(r *call) error {
	req := r.Request
	if err := c.msgRequest(req); err != nil {
		return err
	}
	m := wire.Begin(nil)
	m.Path("topic", req.Topic)
	switch {
	case req.HasData:
		if err := value.Validate(req.Data); err != nil {
			return fmt.Errorf("%w: %v", wire.ErrBadValue, err)
		}
		m.Key("data")
		m.B = append(m.B, req.Data...)
	case req.Raw != nil:
		m.Key("raw")
		m.B = pack.AppendBytes(m.B, req.Raw)
	default:
		return fmt.Errorf("%w: msg_send needs data or raw", wire.ErrBadRequest)
	}
	if err := c.s.cfg.Cluster.Gossip.Broadcast(msgEvent, m.End()); err != nil {
		return fmt.Errorf("%w: %v", wire.ErrBadValue, err)
	}
	return c.result(req, true)
}

// msgMonitor streams the messages of a topic as {topic, data} (or raw).
func (c *conn) msgMonitor(r *call) error {
	req := r.Request
	if err := c.msgRequest(req); err != nil {
		return err
	}
	st := c.streamOf(req)
	sub := &msgSub{topic: req.Topic, ch: make(chan []byte, c.s.cfg.Queue)}
	c.s.msgs.mu.Lock()
	if c.s.msgs.subs == nil {
		c.s.msgs.subs = map[*msgSub]struct{}{}
	}
	c.s.msgs.subs[sub] = struct{}{}
	c.s.msgs.mu.Unlock()
	defer func() {
		c.s.msgs.mu.Lock()
		delete(c.s.msgs.subs, sub)
		c.s.msgs.mu.Unlock()
	}()
	st.state("start")
	for {
		select {
		case <-st.ctx.Done():
			return nil
		case payload := <-sub.ch:
			topic, data, isRaw, _ := decodeMsg(payload)
			if c.s.grant(st.sess, req.Action, topic).Allow&ModeRead == 0 {
				continue // the ACL changed since the monitor started
			}
			st.send(func(m *wire.Msg) {
				m.PathArray("topic", topic)
				// With raw asked for, data come as their msgpack encoding.
				if isRaw || req.Flags["raw"] {
					m.Key("raw")
					m.B = pack.AppendBytes(m.B, data)
				} else {
					m.Key("data")
					m.B = append(m.B, data...)
				}
			})
			if !st.pace() {
				return nil
			}
		}
	}
}
