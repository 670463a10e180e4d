package cli

import (
	"context"
	"encoding/json"
	"fmt"
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

func newDebugRunner(ctx context.Context, addr string, servers []runner, log *slog.Logger) (runner, error) {
	mux := http.NewServeMux()
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
	log.Info("debug statistics", "url", "http://"+l.Addr().String()+"/debug/vars")
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
