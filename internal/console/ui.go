package console

import "net/http"

// uiRoutes registers the console's pages and assets. TODO(ui helper).
func (s *Server) uiRoutes(mux *http.ServeMux) {}
