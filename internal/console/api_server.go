package console

import (
	_ "embed"
	"net/http"
)

// openapiJSON is the OpenAPI 3.0 description of the API.
//
//go:embed openapi.json
var openapiJSON []byte

// A statsJSON is a service's counters (sockserver.Stats).
type statsJSON struct {
	Accepted     int64 `json:"accepted"`
	Rejected     int64 `json:"rejected"`
	Active       int64 `json:"active"`
	BytesRead    int64 `json:"bytesRead"`
	BytesWritten int64 `json:"bytesWritten"`
	Timeouts     int64 `json:"timeouts"`
	Errors       int64 `json:"errors"`
	Panics       int64 `json:"panics"`
	AcceptErrors int64 `json:"acceptErrors"`
}

// A serviceJSON is a service as GET /api/v1/services lists it.
type serviceJSON struct {
	Service
	Stats *statsJSON `json:"stats"` // null if the service keeps none
}

// apiServices answers GET /api/v1/services: the running services, their
// addresses, TLS and counters.
func (s *Server) apiServices(w http.ResponseWriter, r *http.Request) {
	out := []serviceJSON{}
	if s.cfg.Services != nil {
		for _, sv := range s.cfg.Services() {
			j := serviceJSON{Service: sv}
			if sv.Stats != nil {
				st := sv.Stats()
				j.Stats = &statsJSON{st.Accepted, st.Rejected, st.Active, st.BytesRead, st.BytesWritten,
					st.Timeouts, st.Errors, st.Panics, st.AcceptErrors}
			}
			out = append(out, j)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// apiCACert answers GET /api/v1/ca.pem: the local certificate authority's
// certificate, to download and trust.
func (s *Server) apiCACert(w http.ResponseWriter, r *http.Request) {
	if len(s.cfg.CACert) == 0 {
		s.apiFail(w, r, &apiError{http.StatusNotFound, "this console has no certificate authority"})
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/x-pem-file")
	h.Set("Content-Disposition", `attachment; filename="inetkit-ca.pem"`)
	w.Write(s.cfg.CACert)
}

// apiOpenAPI answers GET /api/v1/openapi.json: the description of the API.
func (s *Server) apiOpenAPI(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	w.Write(openapiJSON)
}
