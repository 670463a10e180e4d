package ftp_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/inetkit/inetkit/fault"
	"github.com/inetkit/inetkit/ftp"
	"github.com/inetkit/inetkit/internal/peers"
)

const ftplibFaultScript = `
import ftplib, io, sys
host, port = sys.argv[1], int(sys.argv[2])
def attempt(name, f):
    try:
        f()
        print(name, "ok")
    except ftplib.error_temp as e:
        print(name, "error_temp", e)
    except ftplib.error_perm as e:
        print(name, "error_perm", e)
    except (EOFError, ConnectionError) as e:
        print(name, type(e).__name__)
try:
    ftplib.FTP().connect(host, port, timeout=10)
except ftplib.error_temp as e:
    print("connect error_temp", e)
f = ftplib.FTP()
f.connect(host, port, timeout=10)
f.login("alice", "secret")
attempt("retr", lambda: f.retrbinary("RETR hello.txt", lambda b: None))
attempt("retr again", lambda: f.retrbinary("RETR hello.txt", lambda b: None))
attempt("stor", lambda: f.storbinary("STOR up.txt", io.BytesIO(b"data")))
attempt("stor again", lambda: f.storbinary("STOR up.txt", io.BytesIO(b"data")))
attempt("list", lambda: f.retrlines("LIST", lambda l: None))
attempt("nlst", lambda: f.nlst())
f = ftplib.FTP()
f.connect(host, port, timeout=10)
f.login("alice", "secret")
attempt("mlsd", lambda: list(f.mlsd()))
g = ftplib.FTP()
g.connect(host, port, timeout=10)
g.login("anonymous", "x")
attempt("anonymous retr", lambda: g.retrbinary("RETR hello.txt", lambda b: None))
print("pending", g.getline())
attempt("anonymous retr again", lambda: g.retrbinary("RETR hello.txt", lambda b: None))
g.quit()
`

// TestInterop_ftplibFaults: Python's ftplib sees the 425 of a data
// connection refused (error_temp), the 452 of a full disk, the 426 of a
// data connection closed, the 421 of a refused greeting, a control
// connection closed or reset; anonymous, not aimed at, is served.
func TestInterop_ftplibFaults(t *testing.T) {
	t.Parallel()
	python := peers.Need(t, "python3")
	set := fault.MustParseSet(1,
		`ftp connect reply="421 Service not available, try later." first=1`,
		`ftp data user=alice reply="425 Can't open data connection." first=1`,
		`ftp STOR disk-full first=1`,
		`ftp data user=alice close every=3`,
		`ftp NLST user=alice close`,
		`ftp MLSD user=alice reset`,
		`ftp data user=anonymous reset first=1`,
	)
	e := srvStart(t, func(s *ftp.Server) { s.Faults = set })
	if err := os.WriteFile(filepath.Join(e.dir, "hello.txt"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	host, port, _ := strings.Cut(e.addr, ":")
	var stderr bytes.Buffer
	cmd := exec.Command(python, "-c", ftplibFaultScript, host, port)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ftplib: %v\n%s", err, stderr.Bytes())
	}
	// The data connections of alice: RETR (425, first=1), RETR, STOR
	// (refused before its data connection), STOR, LIST (the third:
	// closed at once).
	want := `connect error_temp 421 Service not available, try later.
retr error_temp 425 Can't open data connection.
retr again ok
stor error_temp 452 Insufficient storage space.
stor again ok
list error_temp 426 Connection closed; transfer aborted.
nlst EOFError
mlsd ConnectionResetError
anonymous retr ConnectionResetError
pending 426 Connection closed; transfer aborted.
anonymous retr again ok
`
	if string(out) != want {
		t.Errorf("ftplib said\n%s\nwant\n%s", out, want)
	}
	if b, err := os.ReadFile(filepath.Join(e.dir, "up.txt")); err != nil || string(b) != "data" {
		t.Errorf("up.txt = %q, %v; want the second STOR stored", b, err)
	}
	for _, st := range set.Rules() {
		if st.Fired != 1 {
			t.Errorf("rule %q fired %d times; want once", st.Rule.String(), st.Fired)
		}
	}
}
