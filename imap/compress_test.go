package imap_test

import (
	"bufio"
	"compress/flate"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/inetkit/inetkit/imap"
	"github.com/inetkit/inetkit/internal/prototest"
)

// deflateConn is the client side of a connection after COMPRESS DEFLATE:
// each Write is compressed and flushed.
type deflateConn struct {
	net.Conn
	r io.Reader
	w *flate.Writer
}

func newDeflateConn(c net.Conn, buffered io.Reader) *deflateConn {
	w, _ := flate.NewWriter(c, flate.DefaultCompression)
	return &deflateConn{Conn: c, r: flate.NewReader(buffered), w: w}
}

func (d *deflateConn) Read(p []byte) (int, error) { return d.r.Read(p) }

func (d *deflateConn) Write(p []byte) (int, error) {
	n, err := d.w.Write(p)
	if err != nil {
		return n, err
	}
	return n, d.w.Flush()
}

func TestCompress_deflate(t *testing.T) {
	s := newServer(t, func(s *imap.Server) { s.Compress = true })
	if err := s.be.Deliver("alice", []byte("Subject: compressed\r\n\r\n"+strings.Repeat("hello ", 2000)+"\r\n")); err != nil {
		t.Fatal(err)
	}
	c, r := s.loggedIn(t)
	prototest.Run(t, c, r, `
C: a COMPRESS FOO
S: a BAD Unknown compression mechanism.
C: b COMPRESS DEFLATE
S: b OK Begin compression.`)
	dc := newDeflateConn(c, r)
	dr := bufio.NewReader(dc)
	prototest.Run(t, dc, dr, `
C: c NOOP
S: c OK Noop completed.
C: d COMPRESS DEFLATE
S: d NO [COMPRESSIONACTIVE] Compression already enabled.
C: e LIST "" *
S: * LIST (\HasNoChildren) "/" INBOX
S: e OK List completed.
C: f STATUS INBOX (MESSAGES SIZE)
S: * STATUS INBOX (MESSAGES 1 SIZE 12025)
S: f OK Status completed.
C: g CAPABILITY`)
	line, err := dr.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(line, "COMPRESS=DEFLATE") {
		t.Errorf("CAPABILITY after COMPRESS = %q; want no COMPRESS=DEFLATE", line)
	}
	prototest.Run(t, dc, dr, `
S: g OK Capability completed.
C: h LOGOUT
S: * BYE Logging out
S: h OK Logout completed.`)
}

func TestCompress_notBeforeLogin(t *testing.T) {
	s := newServer(t, func(s *imap.Server) { s.Compress = true })
	c, r := s.greeted(t)
	prototest.Run(t, c, r, `
C: a COMPRESS DEFLATE
S: a BAD Error in IMAP command COMPRESS: Not logged in.`)
}

func TestCompress_corruptStream(t *testing.T) {
	s := newServer(t, func(s *imap.Server) { s.Compress = true })
	c, r := s.loggedIn(t)
	prototest.Run(t, c, r, `
C: a COMPRESS DEFLATE
S: a OK Begin compression.`)
	// 0xff starts a block of the reserved type 3: not DEFLATE.
	c.Write([]byte{0xff, 0xff, 0xff, 0xff})
	c.(*net.TCPConn).CloseWrite()
	readUntilEOF(t, c, r)
	if log := s.log.String(); strings.Contains(log, "SERVERBUG") || strings.Contains(log, "backend error") {
		t.Errorf("a corrupt stream was taken for a backend error: %s", log)
	}
}

// TestCompress_offByDefault checks that a server without Compress neither
// offers COMPRESS=DEFLATE nor accepts it.
func TestCompress_offByDefault(t *testing.T) {
	s := newServer(t, nil)
	c, r := s.loggedIn(t)
	prototest.Run(t, c, r, `
C: b COMPRESS DEFLATE
S: b BAD Unknown command.
C: c NOOP
S: c OK *`)
	if _, err := io.WriteString(c, "d CAPABILITY\r\n"); err != nil {
		t.Fatal(err)
	}
	line, err := r.ReadString('\n')
	if err != nil || strings.Contains(line, "COMPRESS") {
		t.Errorf("CAPABILITY = %q, %v; want no COMPRESS", line, err)
	}
}
