package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"time"
)

// debugVars is what --debug-addr serves at /debug/vars: the Go runtime's
// memory statistics and goroutine count, and each server's counters, so the
// cost of connections can be measured from outside the process.
type debugVars struct {
	Goroutines int              `json:"goroutines"`
	MemStats   runtime.MemStats `json:"memstats"`
	Services   map[string]any   `json:"services"`
}

// debugIndex is the page --debug-addr serves at /: what is served there,
// and where each service listens.
var debugIndex = template.Must(template.New("index").Parse(`<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>inetkit serve: debug</title></head>
<body>
<h1>inetkit serve</h1>
<ul>
<li><a href="/debug/vars">/debug/vars</a>: the Go runtime's memory statistics and goroutine count, and each service's counters, as JSON
(<a href="/debug/vars?gc">/debug/vars?gc</a> collects garbage first)
<li><a href="/debug/pprof/">/debug/pprof/</a>: the profiles of net/http/pprof, for <code>go tool pprof</code>
</ul>
<h2>Services</h2>
<table>
<tr><th align="left">service</th><th align="left">listens on</th></tr>
{{range .}}<tr><td>{{.Name}}</td><td>{{range $i, $l := .Listeners}}{{if $i}}, {{end}}{{$l.Addr}} ({{$l.Kind}}){{end}}</td></tr>
{{end}}</table>
</body>
</html>
`))

// debugService is a service as the index page lists it.
type debugService struct {
	Name      string
	Listeners []listenerInfo
}

func newDebugRunner(ctx context.Context, addr string, servers []runner, log *slog.Logger) (runner, error) {
	mux := http.NewServeMux()
	index := make([]debugService, len(servers))
	for i, s := range servers {
		index[i] = debugService{Name: s.name, Listeners: s.listeners}
	}
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		debugIndex.Execute(w, index)
	})
	mux.HandleFunc("GET /debug/vars", func(w http.ResponseWriter, r *http.Request) {
		v := debugVars{Goroutines: runtime.NumGoroutine(), Services: make(map[string]any)}
		if r.URL.Query().Has("gc") {
			// Collect first, for a steady heap figure; twice, so that
			// sync.Pool's caches are dropped too.
			runtime.GC()
			runtime.GC()
		}
		runtime.ReadMemStats(&v.MemStats)
		for _, s := range servers {
			if s.stats != nil {
				v.Services[s.name] = s.stats()
			}
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(v)
	})
	// The profiles of net/http/pprof, for `go tool pprof URL`.
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return runner{}, fmt.Errorf("debug: %w", err)
	}
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      2 * time.Minute, // a CPU profile takes its ?seconds= to write
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("debug statistics", "url", "http://"+l.Addr().String()+"/")
	return runner{
		name:     "debug",
		serve:    func() error { return ignoreClosed(srv.Serve(l)) },
		shutdown: func(ctx context.Context) error { err := srv.Shutdown(ctx); l.Close(); return err },
		stats:    func() any { return nil },
	}, nil
}

func ignoreClosed(err error) error {
	if err == http.ErrServerClosed {
		return nil
	}
	return err
}
