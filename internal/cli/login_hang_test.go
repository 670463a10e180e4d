package cli

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// A server that greets and then never answers LOGIN cannot hold `imap idle
// --timeout` past its timeout (nor get, whose dialing is the same).
func TestIMAPIdle_loginHangBounded(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.WriteString(c, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\n")
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if tag, rest, _ := strings.Cut(line, " "); strings.HasPrefix(strings.ToUpper(rest), "CAPABILITY") {
						io.WriteString(c, "* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n"+tag+" OK done\r\n")
					} // anything else, LOGIN included: no answer, ever
				}
			}()
		}
	}()
	done := make(chan int, 1)
	var stderr string
	go func() {
		code, _, errOut := runMain(t, "", "imap", "idle", "--tls", "none", "--timeout", "500ms",
			"imap://a%40x.org:p@"+l.Addr().String()+"/INBOX")
		stderr = errOut
		done <- code
	}()
	select {
	case code := <-done:
		if code != exitError {
			t.Errorf("imap idle against a server that never answers LOGIN: exit %d; stderr %q", code, stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("imap idle --timeout 500ms still running 30s later against a server that never answers LOGIN")
	}
}
