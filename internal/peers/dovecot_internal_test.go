//go:build unix

package peers

import (
	"path/filepath"
	"strings"
	"testing"
)

// Dovecot installed without its POP3 programs (Debian's dovecot-core and
// dovecot-imapd, no dovecot-pop3d): a test of POP3 skips, naming them,
// unless INETKIT_REQUIRE_PEERS=1, while IMAP's programs are found. It
// changes dovecotLibexecDirs, so it must not run in parallel.
func TestStartDovecot_missingProtocolSkips(t *testing.T) {
	dir := fakePrograms(t, "imap", "imap-login")
	saved := dovecotLibexecDirs
	dovecotLibexecDirs = []string{filepath.Join(t.TempDir(), "absent"), dir}
	t.Cleanup(func() { dovecotLibexecDirs = saved })

	want := []string{"dovecot", filepath.Join(dir, "pop3"), filepath.Join(dir, "pop3-login")}
	if got := DovecotPrograms(POP3); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("DovecotPrograms(POP3) = %q; want %q", got, want)
	}
	r := record(t, func(tb testing.TB) { NeedAll(tb, DovecotPrograms(IMAP)[1:]...) })
	if r.skipped || r.failed {
		t.Errorf("IMAP's programs in %s: skipped %v, failed %v (%s); want found", dir, r.skipped, r.failed, r.msg)
	}

	t.Setenv(RequirePeersEnv, "")
	r = record(t, func(tb testing.TB) { StartDovecot(tb, POP3) })
	if !r.skipped || r.failed || !strings.Contains(r.msg, want[1]) || !strings.Contains(r.msg, want[2]) || strings.Contains(r.msg, "/imap") {
		t.Errorf("StartDovecot(POP3) without the POP3 programs: skipped %v, failed %v, %q; want a skip naming %s and %s only",
			r.skipped, r.failed, r.msg, want[1], want[2])
	}
	t.Setenv(RequirePeersEnv, "1")
	r = record(t, func(tb testing.TB) { StartDovecot(tb, POP3, IMAP) })
	if !r.failed || !strings.Contains(r.msg, want[1]) {
		t.Errorf("StartDovecot(POP3, IMAP) without the POP3 programs and %s=1: failed %v, %q; want a failure naming %s",
			RequirePeersEnv, r.failed, r.msg, want[1])
	}
}
