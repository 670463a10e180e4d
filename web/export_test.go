package web

// SendfileBytes returns the bytes s has sent by sendfile(2).
func SendfileBytes(s *Server) int64 { return s.sent.Load() }
