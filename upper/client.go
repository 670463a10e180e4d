package upper

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"
)

// ClientOptions configures Exchange and Stream. A nil *ClientOptions is
// equivalent to the zero value.
type ClientOptions struct {
	// Timeout bounds the whole exchange: connecting, sending and reading the
	// reply. For Stream it bounds connecting, and waiting for the rest of the
	// reply once the input has ended. Zero means DefaultClientTimeout.
	Timeout time.Duration
	// MaxReplyBytes caps the reply Exchange reads. Zero means
	// DefaultMaxReplyBytes.
	MaxReplyBytes int
	// Dialer connects; nil means a zero net.Dialer.
	Dialer *net.Dialer
}

// Defaults for the zero values of [ClientOptions] fields.
const (
	DefaultClientTimeout = 5 * time.Second
	DefaultMaxReplyBytes = 64 << 20
	maxDatagram          = 65535
)

// ErrReplyTooLong is returned by Exchange when the reply exceeds MaxReplyBytes.
var ErrReplyTooLong = errors.New("upper: reply too long")

// TimeoutError reports an exchange that did not complete within its timeout.
type TimeoutError struct {
	After time.Duration
}

func (e *TimeoutError) Error() string { return fmt.Sprintf("timed out after %v", e.After) }

// Timeout reports true, so a TimeoutError satisfies net.Error's test.
func (e *TimeoutError) Timeout() bool { return true }

// Is makes errors.Is(err, os.ErrDeadlineExceeded) hold for a TimeoutError.
func (e *TimeoutError) Is(target error) bool { return target == os.ErrDeadlineExceeded }

func (o *ClientOptions) timeout() time.Duration {
	if o == nil || o.Timeout <= 0 {
		return DefaultClientTimeout
	}
	return o.Timeout
}

func (o *ClientOptions) maxReply() int {
	if o == nil || o.MaxReplyBytes <= 0 {
		return DefaultMaxReplyBytes
	}
	return o.MaxReplyBytes
}

// dial connects. A Unix datagram socket that is not bound has no address a
// server could reply to, so one without a LocalAddr is bound to a path in a
// new temporary directory, which the returned cleanup removes.
func (o *ClientOptions) dial(ctx context.Context, network, addr string) (net.Conn, func(), error) {
	d := &net.Dialer{}
	if o != nil && o.Dialer != nil {
		d = o.Dialer
	}
	cleanup := func() {}
	if network == "unixgram" && d.LocalAddr == nil {
		dir, err := os.MkdirTemp("", "inetkit-upper-")
		if err != nil {
			return nil, nil, err
		}
		cleanup = func() { os.RemoveAll(dir) }
		dd := *d
		dd.LocalAddr = &net.UnixAddr{Name: filepath.Join(dir, "s"), Net: "unixgram"}
		d = &dd
	}
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	return c, cleanup, nil
}

// Exchange sends msg to the uppercase service at addr and returns the reply.
//
// Over a stream network ("tcp", "tcp4", "tcp6", "unix") it sends msg, shuts
// down its write side and reads until the server closes, which suits every
// server Mode and the tutorial's own server. Over a datagram network ("udp",
// "udp4", "udp6", "unixgram") it sends msg as one datagram and returns the
// first reply datagram.
//
// If the exchange takes longer than the timeout, the error is a
// *TimeoutError.
func Exchange(ctx context.Context, network, addr string, msg []byte, opts *ClientOptions) ([]byte, error) {
	timeout := opts.timeout()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	reply, err := exchange(ctx, network, addr, msg, opts)
	if err != nil && (errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded)) {
		return reply, &TimeoutError{After: timeout}
	}
	return reply, err
}

func exchange(ctx context.Context, network, addr string, msg []byte, opts *ClientOptions) ([]byte, error) {
	conn, cleanup, err := opts.dial(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	if _, ok := conn.(net.PacketConn); ok {
		if _, err := conn.Write(msg); err != nil {
			return nil, err
		}
		buf := make([]byte, maxDatagram)
		n, err := conn.Read(buf)
		if err != nil {
			return nil, err
		}
		return buf[:n], nil
	}

	// Send while reading: a oneshot server answers after its first read and
	// may close before the whole message is sent; the reply still counts.
	werr := make(chan error, 1)
	go func() {
		_, err := conn.Write(msg)
		if err == nil {
			if cw, ok := conn.(interface{ CloseWrite() error }); ok {
				err = cw.CloseWrite()
			}
		}
		werr <- err
	}()
	reply, rerr := readAll(conn, opts.maxReply())
	if rerr != nil {
		conn.Close()
		if err := <-werr; err != nil && !errors.Is(rerr, ErrReplyTooLong) && !isTimeout(rerr) {
			return reply, err
		}
		return reply, rerr
	}
	<-werr // a write error after the full reply arrived changes nothing
	return reply, nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func readAll(r io.Reader, max int) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, int64(max)+1))
	if err != nil {
		return b, err
	}
	if len(b) > max {
		return b[:max], ErrReplyTooLong
	}
	return b, nil
}

// Stream connects to the uppercase service at addr over a stream network,
// copies in to the connection and the replies to out as they arrive, and
// returns when the server closes the connection. When in ends, Stream shuts
// down its write side and waits at most the timeout for the rest of the
// replies. It is the client for ModeStream and ModeLine used interactively.
func Stream(ctx context.Context, network, addr string, in io.Reader, out io.Writer, opts *ClientOptions) error {
	timeout := opts.timeout()
	dctx, cancel := context.WithTimeout(ctx, timeout)
	conn, cleanup, err := opts.dial(dctx, network, addr)
	cancel()
	if err == nil {
		defer cleanup()
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
			return &TimeoutError{After: timeout}
		}
		return err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	werr := make(chan error, 1)
	go func() {
		_, err := io.Copy(conn, in)
		if err == nil {
			if cw, ok := conn.(interface{ CloseWrite() error }); ok {
				err = cw.CloseWrite()
			}
			conn.SetReadDeadline(time.Now().Add(timeout))
		}
		werr <- err
	}()
	_, rerr := io.Copy(out, conn)
	conn.Close()
	if rerr != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if isTimeout(rerr) {
			return &TimeoutError{After: timeout}
		}
		return rerr
	}
	return nil
}
