package gossip

import "errors"

// Errors returned by this package; test with errors.Is.
var (
	// ErrClosed: the Gossip was closed.
	ErrClosed = errors.New("closed")

	// ErrTooLarge: a user event does not fit the size limit (MaxPayload).
	ErrTooLarge = errors.New("user event too large")

	// ErrNoJoin: Join could contact none of the given members.
	ErrNoJoin = errors.New("no member could be joined")

	// ErrConfig: a Config or AgentConfig is invalid.
	ErrConfig = errors.New("invalid configuration")

	// ErrTags: tags are invalid (reserved key, or too large to gossip).
	ErrTags = errors.New("invalid tags")

	// ErrAgent: the external Serf agent cannot be reached or refused a request.
	ErrAgent = errors.New("serf agent unavailable")

	// ErrNameConflict: another member claims this node's name (see
	// ConflictError).
	ErrNameConflict = errors.New("name conflict")
)
