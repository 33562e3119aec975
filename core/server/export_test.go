package server

// InputUsed returns the bytes that unfinished messages hold of the
// server's input budget.
func InputUsed(s *Server) int64 { return s.input.Used() }
