package imapwire_test

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/internal/imapwire"
	"github.com/inetkit/inetkit/lineproto"
)

// fakeConn is the net.Conn a lineproto.Reader sets deadlines on.
type fakeConn struct{ net.Conn }

func (fakeConn) SetReadDeadline(time.Time) error { return nil }

// countingReader counts what was read from it, to check caps.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

type testDecoder struct {
	*imapwire.Decoder
	conts *int
	src   *countingReader
}

func newDecoder(tb testing.TB, input string, opts *imapwire.Options) testDecoder {
	tb.Helper()
	var o imapwire.Options
	if opts != nil {
		o = *opts
	}
	conts := new(int)
	if o.ContinuationRequest == nil {
		o.ContinuationRequest = func() error { *conts++; return nil }
	}
	src := &countingReader{r: strings.NewReader(input)}
	r := lineproto.NewReader(fakeConn{}, src, 1<<20, 0, 0)
	return testDecoder{imapwire.NewDecoder(r, &o), conts, src}
}

func encode(f func(e *imapwire.Encoder)) string {
	var b bytes.Buffer
	w := bufio.NewWriter(&b)
	e := imapwire.NewEncoder(w)
	f(e)
	if err := e.Flush(); err != nil {
		panic(err)
	}
	return b.String()
}
