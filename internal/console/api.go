package console

import "net/http"

// apiRoutes registers the REST API under /api/v1. TODO(api helper).
func (s *Server) apiRoutes(mux *http.ServeMux) {}
