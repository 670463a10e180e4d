package web_test

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/inetkit/inetkit/internal/testserver"
	"github.com/inetkit/inetkit/web"
)

// A handler that waits longer than the idle timeout on a silent client is
// cut off (its context cancelled), unless it called KeepOpen; the next
// request of the connection has the idle timeout again. Over HTTP/1.1 and
// HTTP/2.
func TestKeepOpen(t *testing.T) {
	const idle = 300 * time.Millisecond
	handler := func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("keep") {
			defer web.KeepOpen(w, r)()
		}
		select {
		case <-time.After(3 * idle):
			io.WriteString(w, "done")
		case <-r.Context().Done():
		}
	}
	for _, tc := range []struct {
		name string
		srv  *web.Server
		c    *http.Client
	}{
		{"http1", &web.Server{Limits: web.Limits{IdleTimeout: idle, ReadTimeout: idle}}, &http.Client{}},
		{"h2", &web.Server{Limits: web.Limits{IdleTimeout: idle, ReadTimeout: idle}, TLSConfig: testserver.ServerTLSConfig()},
			&http.Client{Transport: &http.Transport{TLSClientConfig: testserver.ClientTLSConfig(), ForceAttemptHTTP2: true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, base := startServer(t, tc.srv, http.HandlerFunc(handler))
			get := func(query string) (string, error) {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				req, _ := http.NewRequestWithContext(ctx, "GET", base+"/"+query, nil)
				resp, err := tc.c.Do(req)
				if err != nil {
					return "", err
				}
				defer resp.Body.Close()
				b, err := io.ReadAll(resp.Body)
				return string(b), err
			}
			if body, err := get("?keep"); err != nil || body != "done" {
				t.Errorf("with KeepOpen: %q, %v; want \"done\"", body, err)
			}
			if body, err := get(""); err == nil && body == "done" {
				t.Errorf("without KeepOpen, the request outlived the idle timeout: %q", body)
			}
		})
	}
}
