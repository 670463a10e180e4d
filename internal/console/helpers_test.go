package console

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/fileroot"
	"github.com/inetkit/inetkit/internal/events"
	"github.com/inetkit/inetkit/store"
)

// testConsole is a console over a new store (any login, as on loopback) and
// a new file root, served by an httptest.Server.
type testConsole struct {
	*Server
	Store  *store.Store
	Files  fileroot.FS
	Events *events.Hub
	HTTP   *httptest.Server
}

// newTestConsole starts a console; mod, if not nil, changes its Config
// before it is made.
func newTestConsole(t testing.TB, mod func(*Config)) *testConsole {
	t.Helper()
	hub := new(events.Hub)
	st, err := store.Open(t.TempDir(), &store.Options{AnyLogin: true, PasswordCost: 4, Events: hub})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	files, err := fileroot.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Store: st, Files: files, Events: hub, Logger: testLogger(t)}
	if mod != nil {
		mod(&cfg)
	}
	s := New(cfg)
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return &testConsole{Server: s, Store: st, Files: files, Events: hub, HTTP: ts}
}

// testLogger logs to the test's log when -v is given, nowhere otherwise.
func testLogger(t testing.TB) *slog.Logger {
	if !testing.Verbose() {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(testWriter{t}, nil))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// deliver stores msg (LF or CRLF line endings) for rcpts.
func (tc *testConsole) deliver(t testing.TB, msg string, rcpts ...string) {
	t.Helper()
	if err := tc.Store.Deliver(context.Background(), rcpts, []byte(msg), time.Now()); err != nil {
		t.Fatal(err)
	}
}
