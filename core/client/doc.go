// Package client is the Go API of DistKV: connect to a server, read,
// write and delete entries, walk subtrees, watch for changes, and keep a
// subtree mirrored in memory.
//
// # Basics
//
//	c, err := client.Open(ctx, client.Config{})   // localhost:27586
//	defer c.Close()
//	_, err = c.Set(ctx, path.P("one.two.three"), []any{"Test", 42, false})
//	e, err := c.Get(ctx, path.P("one.two.three"))
//	_, err = c.Set(ctx, e.Path, []any{"Test", 43, false}, client.IfChain(e.Chain))
//
// # Values
//
// Set takes the value model of package pack (nil, bool, integers,
// *big.Int, float64, string, []byte, []any, pack.Map, path.Path) and Go
// maps with string keys; any other Go value (a struct, say) is encoded
// with github.com/vmihailenco/msgpack/v5, whose struct tags apply. Entry
// and Event hold the raw value: Value decodes it into the model, Decode
// into a Go variable.
//
// # Concurrency
//
// A Client is safe for concurrent use: requests run concurrently over its
// one connection, each reply matched to its request by seq. One goroutine
// per client reads the connection and hands each reply to its request;
// it never waits for a consumer. Each stream (Watch, GetTree, a Stream
// such as msg_monitor) has a queue between that goroutine and its
// consumer. With a server that paces streams by flow control (this
// implementation's and the original's), no queue holds more than
// Config.Queue messages: the server waits for the consumer, and a watch
// whose consumer falls too far behind is ended by the server with
// wire.ErrOverflow. Against a server that does not pace, a stream that
// asks for a state starts with a snapshot (a tree walk, or the state a
// watch with Fetch sends up to its UpToDate marker), which the queue
// takes whole, since it is finite; after it, at most Config.Queue
// messages wait at a time, and a consumer that falls further behind ends
// its stream with ErrOverflow (errors.Is(err, wire.ErrOverflow) holds
// too); the client then drops what was queued and asks the server to stop
// the stream. Either way other streams and requests on the connection go
// on. Watch again with Fetch to get back in sync.
//
// # Flow control
//
// The server's greeting names its queue length (qlen). The client answers
// {seq: 0, qlen: N} with N the smaller of Config.Queue and the server's
// qlen (N = 0, no flow control, when the server offers less than 4, which
// the original refuses). The server then numbers the messages of each
// stream (wseq), and the client acknowledges them with {seq, state:
// "ack", ack: wseq} as the consumer takes them (Stream.Next, the
// iterators), whenever it has taken more than N/3 since its last
// acknowledgement, as the original's client does. Acknowledging what
// was consumed, not what arrived, lets a server that holds a stream at N
// unacknowledged messages pace it, snapshots too, to the consumer, so
// that no queue holds more than N. DistKV-Go's server does so (and the
// original does); a watch it holds so whose changes overflow its own
// queue meanwhile ends with wire.ErrOverflow.
//
// # Reconnecting
//
// Without Config.Reconnect, a lost connection closes the client: requests
// in flight fail with ErrConnLost (and ErrClosed), later ones and streams
// with ErrClosed. With it, the client dials again after a wait that
// doubles from MinBackoff to MaxBackoff (with jitter), then greets the new
// server connection (and announces its qlen), re-roots it at what Root set
// (a "root" sent with Request is not repeated), and resumes every running
// Watch with fetch:
//
//   - A request in flight when the connection dropped fails with an error
//     wrapping ErrConnLost: it may or may not have been applied (a Set may
//     have been stored, and replicated, before the server's reply was
//     lost). Re-read, or retry a request that is safe to repeat (a Set
//     with IfChain fails with a *ConflictError if the first one went
//     through).
//   - Requests made while the client is disconnected wait for the new
//     connection until their ctx ends, then fail with the ctx's error.
//   - A Watch (and so a Mirror) goes on: its consumer gets the messages
//     that arrived before the loss, then an Event with Resync set, then
//     the whole current state again and an UpToDate marker, then changes
//     as they happen, also for a watch opened without Fetch. Changes made
//     during the outage show as the new state, not one by one; an entry
//     deleted meanwhile is simply not in the new state (a Mirror removes
//     it and reports its deletion). Applying the state again is
//     idempotent for a mirror. A server that shuts down ends its watches
//     before it hangs up; the client sends such a watch again, on the
//     same connection if that is still up half a second later (once per
//     connection), else on the next.
//   - Tree walks (GetTree) and other streams (Stream, msg_monitor) end
//     with ErrConnLost: start them again. Messages sent to a topic during
//     the outage are lost.
//   - Open does not retry: the first connection must succeed.
//
// # Size limit
//
// A request over Config.MaxMessage bytes (64 MiB, the server's default)
// fails with a *wire.TooBigError naming its size and the limit, before
// anything is sent. A server with a smaller limit answers a bigger request
// with an error naming its limit and closes the connection; the request
// then fails with ErrConnLost wrapping that error (errors.Is(err,
// wire.ErrTooBig) holds).
package client
