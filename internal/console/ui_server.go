package console

import (
	"net/http"
	"strconv"

	"github.com/inetkit/inetkit/sockserver"
)

// serverPage is the data of server.html: the running services.
type serverPage struct {
	page
	Services []serviceRow
	Totals   sockserver.Stats
}

// A serviceRow is a service and its counters as the Server page shows
// them.
type serviceRow struct {
	Service
	Stats    sockserver.Stats
	HasStats bool
	TLSText  string
}

// tlsText says how a service offers TLS.
func tlsText(t string) string {
	switch t {
	case "":
		return "none"
	case "starttls":
		return "STARTTLS"
	case "implicit":
		return "implicit TLS"
	}
	return t
}

// handleServer shows the services and their counters: GET /server.
func (s *Server) handleServer(w http.ResponseWriter, r *http.Request) {
	d := &serverPage{page: s.newPage(r, "server", "Server")}
	if s.cfg.Services != nil {
		for _, svc := range s.cfg.Services() {
			row := serviceRow{Service: svc, TLSText: tlsText(svc.TLS)}
			if svc.Stats != nil {
				row.Stats, row.HasStats = svc.Stats(), true
				t := &d.Totals
				t.Accepted += row.Stats.Accepted
				t.Rejected += row.Stats.Rejected
				t.Active += row.Stats.Active
				t.BytesRead += row.Stats.BytesRead
				t.BytesWritten += row.Stats.BytesWritten
				t.Timeouts += row.Stats.Timeouts
				t.Errors += row.Stats.Errors
				t.Panics += row.Stats.Panics
			}
			d.Services = append(d.Services, row)
		}
	}
	s.render(w, r, http.StatusOK, "server.html", d)
}

// handleCACert serves the local CA's certificate: GET /ca.pem.
func (s *Server) handleCACert(w http.ResponseWriter, r *http.Request) {
	if len(s.cfg.CACert) == 0 {
		s.notFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/x-pem-file")
	h.Set("Content-Disposition", attachment("inetkit-ca.pem", "ca.pem"))
	h.Set("Content-Length", strconv.Itoa(len(s.cfg.CACert)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.Write(s.cfg.CACert)
}
