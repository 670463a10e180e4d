package imap

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"net"
	"sync"

	"github.com/inetkit/inetkit/lineproto"
)

func init() {
	register("COMPRESS", stateLoggedIn, cmdCompress)
}

// cmdCompress answers COMPRESS DEFLATE (RFC 4978): after the tagged OK,
// both directions are raw DEFLATE streams (RFC 1951).
//
// Memory stays bounded: the reading side keeps its 32 KiB window, which
// the client's stream may refer back to at any time, but the writing side
// holds a compressor only while it writes. Each flush of the replies is
// compressed by a compressor from a pool, ended with a sync flush (an empty
// stored block, which leaves the stream byte-aligned and not final), and
// the compressor returned: the next flush starts afresh, which a DEFLATE
// stream allows, at the cost of not referring back to earlier replies.
func cmdCompress(c *conn, tag string) error {
	if err := c.dec.SP(); err != nil {
		return err
	}
	mech, err := c.dec.Atom()
	if err != nil {
		return err
	}
	if err := c.dec.End(); err != nil {
		return err
	}
	if !c.srv.Compress {
		return &Error{Type: "BAD", Text: "Unknown command."}
	}
	if c.compressed {
		return &Error{Code: "COMPRESSIONACTIVE", Text: "Compression already enabled."}
	}
	if !equalFoldASCII(mech, "DEFLATE") {
		return &Error{Type: "BAD", Text: "Unknown compression mechanism."}
	}
	if err := c.enc.StatusResponse(tag, "OK", "", "Begin compression."); err != nil {
		return err
	}
	if err := c.lc.Flush(); err != nil {
		return errClose
	}
	c.startCompression()
	return nil
}

func equalFoldASCII(a, b string) bool { return lineproto.UpperASCII(a) == lineproto.UpperASCII(b) }

// startCompression puts DEFLATE under the connection's reader and writer.
// What the reader had buffered (a client that did not wait for the OK)
// is taken as the start of the compressed stream.
func (c *conn) startCompression() {
	cfg, _ := c.srv.setup()
	nc := c.lc.NetConn()
	r := c.lc.Reader()
	var src io.Reader = nc
	if n := r.Buffered(); n > 0 {
		b, _ := r.Peek()
		src = io.MultiReader(bytes.NewReader(bytes.Clone(b[:n])), nc)
	}
	var in io.Reader = inflater{flate.NewReader(src)}
	var out io.Writer = &deflater{w: lineproto.DeadlineWriter(nc, cfg.Limits.WriteTimeout)}
	if cfg.DebugWriter != nil {
		in = io.TeeReader(in, cfg.DebugWriter)
		out = io.MultiWriter(cfg.DebugWriter, out)
	}
	r.Reset(nc, in)
	c.lc.SetWriter(out)
	c.compressed = true
}

// inflater reads a DEFLATE stream; a corrupt stream is an error of the
// connection, as a failed read is.
type inflater struct{ r io.ReadCloser }

func (f inflater) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		var ne net.Error
		if !errors.As(err, &ne) {
			err = &net.OpError{Op: "read", Net: "deflate", Err: err}
		}
	}
	return n, err
}

// deflaters are the compressors of every connection, each held only while
// it compresses one write.
var deflaters = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(nil, flate.BestSpeed)
	return w
}}

// deflater compresses each write as a piece of the connection's DEFLATE
// stream that ends with a sync flush.
type deflater struct{ w io.Writer }

func (d *deflater) Write(p []byte) (int, error) {
	fw := deflaters.Get().(*flate.Writer)
	defer deflaters.Put(fw)
	fw.Reset(d.w)
	if _, err := fw.Write(p); err != nil {
		return 0, err
	}
	if err := fw.Flush(); err != nil {
		return 0, err
	}
	return len(p), nil
}
