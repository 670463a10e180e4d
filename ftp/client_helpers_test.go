package ftp_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"testing"
	"time"

	"github.com/inetkit/inetkit/ftp"
	"github.com/inetkit/inetkit/internal/prototest"
	"github.com/inetkit/inetkit/internal/testcert"
)

// dialClient connects a client to addr, with a short timeout, StartTLS with
// the test CA if tlsOn, logs in, and quits when the test ends. The control
// traffic is logged if the test fails.
func dialClient(t *testing.T, addr string, opts ftp.ClientOptions, tlsOn bool, user, pass string) *ftp.Client {
	t.Helper()
	var debug prototest.Buffer
	if opts.Timeout == 0 {
		opts.Timeout = 10 * time.Second
	}
	opts.DebugWriter = &debug
	if tlsOn && opts.TLSConfig == nil {
		opts.TLSConfig = testcert.ClientConfig()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var c *ftp.Client
	var err error
	if tlsOn {
		c, err = ftp.DialStartTLS(ctx, addr, &opts)
	} else {
		c, err = ftp.Dial(ctx, addr, &opts)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("control connection:\n%s", debug.String())
		}
	})
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(user, pass); err != nil {
		t.Fatalf("Login(%q) = %v", user, err)
	}
	return c
}

// clientTestData returns n bytes that differ from one offset to the next.
func clientTestData(n int) []byte {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// clientRetrieveAll reads the file at path from offset with c.
func clientRetrieveAll(t *testing.T, c *ftp.Client, path string, offset int64) []byte {
	t.Helper()
	r, err := c.Retrieve(path, offset)
	if err != nil {
		t.Fatalf("Retrieve(%q, %d) = %v", path, offset, err)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("Retrieve(%q, %d): read: %v", path, offset, err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("Retrieve(%q, %d): Close() = %v", path, offset, err)
	}
	return data
}

// clientCheckFile checks that the file name of files holds want.
func clientCheckFile(t *testing.T, files fs.FS, name string, want []byte) {
	t.Helper()
	got, err := fs.ReadFile(files, name)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s holds %d bytes; want the %d written", name, len(got), len(want))
	}
}

// clientErrCode returns the code of err if it is a *ftp.Error, or 0.
func clientErrCode(err error) int {
	var e *ftp.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}
