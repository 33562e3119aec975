package server

// InputUsed returns the bytes that unfinished messages hold of the
// server's input budget.
func InputUsed(s *Server) int64 { return s.input.Used() }

// SetTestSession makes sess the session of the client connections s
// accepts from now on (nil: root, no login); the tests' stand-in for a
// login.
func SetTestSession(s *Server, sess *Session) { s.testSession.Store(sess) }

// TimeEvery: one get or set in TimeEvery of a connection is timed.
const TimeEvery = timeEvery
