package peers

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// recorder is a testing.TB whose Skip and Fatal record their message and
// end the goroutine, as testing.T's do, without ending the test.
type recorder struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (r *recorder) Helper() {}

func (r *recorder) Skip(args ...any) {
	r.skipped, r.msg = true, fmt.Sprint(args...)
	runtime.Goexit()
}

func (r *recorder) Skipf(format string, args ...any) { r.Skip(fmt.Sprintf(format, args...)) }

func (r *recorder) Fatal(args ...any) {
	r.failed, r.msg = true, fmt.Sprint(args...)
	runtime.Goexit()
}

func (r *recorder) Fatalf(format string, args ...any) { r.Fatal(fmt.Sprintf(format, args...)) }

// record calls f with a recorder in a goroutine of its own, and returns the
// recorder once f has returned, skipped or failed.
func record(t *testing.T, f func(tb testing.TB)) *recorder {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r
}

// fakePrograms makes an executable file for each name in a new directory,
// and returns the directory.
func fakePrograms(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestNeedAll(t *testing.T) {
	dir := fakePrograms(t, "present")
	present := filepath.Join(dir, "present")
	notExec := filepath.Join(dir, "data")
	if err := os.WriteFile(notExec, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	missing := []string{filepath.Join(dir, "pop3"), "inetkit-no-such-program", notExec, dir}

	t.Setenv(RequirePeersEnv, "")
	var got []string
	r := record(t, func(tb testing.TB) { got = NeedAll(tb, present, present) })
	if r.skipped || r.failed || len(got) != 2 || got[0] != present || got[1] != present {
		t.Errorf("NeedAll(%q, %q) = %q, skipped %v, failed %v (%s); want both paths", present, present, got, r.skipped, r.failed, r.msg)
	}
	args := append([]string{present}, missing...)
	r = record(t, func(tb testing.TB) { NeedAll(tb, args...) })
	if !r.skipped || r.failed {
		t.Errorf("NeedAll(%q) skipped %v, failed %v; want skipped", args, r.skipped, r.failed)
	}
	for _, m := range missing {
		if !strings.Contains(r.msg, m) {
			t.Errorf("NeedAll skip message %q does not name %s", r.msg, m)
		}
	}
	if strings.Contains(r.msg, present) || !strings.Contains(r.msg, "dovecot-pop3d") {
		t.Errorf("NeedAll skip message %q: want only the missing programs, and the package of pop3", r.msg)
	}
	r = record(t, func(tb testing.TB) { Need(tb, "inetkit-no-such-program") })
	if !r.skipped || !strings.Contains(r.msg, "inetkit-no-such-program") {
		t.Errorf("Need(missing) skipped %v with %q; want a skip naming it", r.skipped, r.msg)
	}

	t.Setenv(RequirePeersEnv, "1")
	r = record(t, func(tb testing.TB) { NeedAll(tb, args...) })
	if !r.failed || r.skipped || !strings.Contains(r.msg, missing[0]) || !strings.Contains(r.msg, RequirePeersEnv+"=1") {
		t.Errorf("NeedAll(%q) with %s=1: failed %v, skipped %v, %q; want a failure naming what is missing", args, RequirePeersEnv, r.failed, r.skipped, r.msg)
	}
	r = record(t, func(tb testing.TB) { NeedAll(tb, present) })
	if r.failed || r.skipped {
		t.Errorf("NeedAll(present) with %s=1: failed %v, skipped %v (%s)", RequirePeersEnv, r.failed, r.skipped, r.msg)
	}
}
