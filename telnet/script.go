package telnet

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"time"
)

// MaxExpectBytes caps the data Expect and ReadUntil hold while they look
// for a match.
const MaxExpectBytes = 1 << 20

// An ExpectError is returned by Expect and ReadUntil when no match came:
// Err is the cause (a timeout, io.EOF), Seen the data read meanwhile.
type ExpectError struct {
	Err  error
	Seen []byte
}

func (e *ExpectError) Error() string {
	return fmt.Sprintf("telnet: expected text not seen: %v (after %q)", e.Err, lastBytes(e.Seen, 64))
}

func (e *ExpectError) Unwrap() error { return e.Err }

func lastBytes(p []byte, n int) []byte {
	if len(p) > n {
		return p[len(p)-n:]
	}
	return p
}

// Expect reads until one of patterns matches the data read, as Python's
// telnetlib expect did, for at most timeout (zero means no limit). It
// returns the index of the first pattern that matches, in the order
// given, and the data up to the end of its match; what follows stays for
// the next Read or Expect. On a timeout, EOF or any other error it returns
// an *ExpectError with the data seen, which is consumed. It holds at most
// MaxExpectBytes. It sets the read deadline of the connection, and clears
// it after.
func (c *Conn) Expect(timeout time.Duration, patterns ...*regexp.Regexp) (int, []byte, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if timeout > 0 {
		c.nc.SetReadDeadline(time.Now().Add(timeout))
		defer c.nc.SetReadDeadline(time.Time{})
	}
	buf := make([]byte, 4096)
	for {
		best, bestEnd := -1, 0
		for i, re := range patterns {
			if loc := re.FindIndex(c.pending); loc != nil {
				best, bestEnd = i, loc[1]
				break
			}
		}
		if best >= 0 {
			text := bytes.Clone(c.pending[:bestEnd])
			c.pending = c.pending[bestEnd:]
			return best, text, nil
		}
		if len(c.pending) >= MaxExpectBytes {
			seen := c.pending
			c.pending = nil
			return -1, nil, &ExpectError{Err: errors.New("too much data"), Seen: seen}
		}
		held := c.pending
		c.pending = nil
		n, err := c.read(buf[:min(len(buf), MaxExpectBytes-len(held))], readData)
		c.pending = append(held, buf[:n]...)
		if err != nil {
			seen := c.pending
			c.pending = nil
			if errors.Is(err, os.ErrDeadlineExceeded) {
				err = fmt.Errorf("timeout after %v: %w", timeout, err)
			}
			return -1, nil, &ExpectError{Err: err, Seen: seen}
		}
	}
}

// ReadUntil reads until delim, as telnetlib's read_until did, for at most
// timeout, and returns the data up to and including it. Errors are as
// Expect's.
func (c *Conn) ReadUntil(delim string, timeout time.Duration) ([]byte, error) {
	_, text, err := c.Expect(timeout, regexp.MustCompile(regexp.QuoteMeta(delim)))
	return text, err
}

// A Step of a Script waits for Expect, if it is not nil, and then sends
// Send, if it is not "".
type Step struct {
	Expect *regexp.Regexp
	Send   string
}

// A Script drives a Telnet session from a program: each step waits for
// its pattern and sends its text, as telnetlib users did with read_until
// and write, and as the CLI's --expect and --send do.
type Script struct {
	Steps []Step
	// Timeout bounds each Expect; zero means no limit.
	Timeout time.Duration
	// Output, if not nil, receives every octet of data read.
	Output io.Writer
}

// Run runs the script on c. It stops at the first step whose pattern does
// not come, with its *ExpectError.
func (s *Script) Run(c *Conn) error {
	for i, st := range s.Steps {
		if st.Expect != nil {
			_, text, err := c.Expect(s.Timeout, st.Expect)
			if s.Output != nil {
				if err != nil {
					var ee *ExpectError
					if errors.As(err, &ee) {
						s.Output.Write(ee.Seen)
					}
				} else {
					s.Output.Write(text)
				}
			}
			if err != nil {
				return fmt.Errorf("telnet: script step %d: expect %q: %w", i+1, st.Expect, err)
			}
		}
		if st.Send != "" {
			if _, err := c.Write([]byte(st.Send)); err != nil {
				return fmt.Errorf("telnet: script step %d: %w", i+1, err)
			}
		}
	}
	return nil
}
