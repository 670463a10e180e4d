// Command ftpload is bench/ftp's load generator for many small FTP sessions.
// It uses only the standard library (a raw FTP client: USER, PASS, TYPE I,
// EPSV or PASV, RETR, LIST, QUIT), so that it measures any FTP server the
// same way, and does not depend on package ftp's client.
//
// In -mode retr it runs -n sessions, -c at a time; session i connects,
// reads the 220 greeting, logs in, retrieves the file fmt.Sprintf(-files, i)
// in passive mode, checks its size (-size, when not 0), sends QUIT, waits
// for the 221 and closes. In -mode list it runs -n sessions one after
// another, each a LIST of -path, and times the LIST alone (from sending
// it to the 226, its data read in full).
//
// It prints one JSON object on stdout (see report) and exits 1 if any
// session failed.
//
//	go run ./bench/ftpload -addr 127.0.0.1:2121 -n 1000 -c 10 -files small/%04d.bin -size 4096
//	go run ./bench/ftpload -addr 127.0.0.1:2121 -mode list -path small -n 5
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type report struct {
	Mode         string         `json:"mode"`
	Sessions     int            `json:"sessions"`
	OK           int            `json:"ok"`
	Errors       int            `json:"errors"`
	ErrorKinds   map[string]int `json:"error_kinds,omitempty"`
	ElapsedNS    int64          `json:"elapsed_ns"`
	SessionsPerS float64        `json:"sessions_per_s"`
	Bytes        int64          `json:"bytes"`
	// The duration of a whole session (retr) or of the LIST alone (list),
	// over the sessions that succeeded.
	P50MS  float64 `json:"p50_ms"`
	P99MS  float64 `json:"p99_ms"`
	MinMS  float64 `json:"min_ms"`
	MaxMS  float64 `json:"max_ms"`
	Lines  int     `json:"lines,omitempty"` // list: lines of the last listing
	UsedEP string  `json:"passive"`         // "EPSV" or "PASV": what the server took
}

var (
	addr    = flag.String("addr", "127.0.0.1:2121", "the server's HOST:PORT")
	user    = flag.String("user", "anonymous", "user name")
	pass    = flag.String("pass", "bench@example.com", "password")
	mode    = flag.String("mode", "retr", "retr: one file per session; list: a LIST per session")
	n       = flag.Int("n", 1000, "sessions")
	conc    = flag.Int("c", 10, "sessions at a time (retr)")
	files   = flag.String("files", "small/%04d.bin", "retr: the path of session i's file, a fmt pattern of i")
	size    = flag.Int64("size", 4096, "retr: the size every file must have (0: any)")
	path    = flag.String("path", "small", "list: the directory to list")
	timeout = flag.Duration("timeout", 30*time.Second, "limit of one session")
	pasv    = flag.Bool("pasv", false, "use PASV, not EPSV")
)

func main() {
	flag.Parse()
	if *mode != "retr" && *mode != "list" {
		fmt.Fprintln(os.Stderr, "ftpload: -mode wants retr or list")
		os.Exit(2)
	}
	if *mode == "list" {
		*conc = 1
	}
	var (
		next     atomic.Int64
		mu       sync.Mutex
		durs     []time.Duration
		kinds    = map[string]int{}
		bytes    int64
		lines    int
		passUsed string
		wg       sync.WaitGroup
	)
	start := time.Now()
	for range *conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= *n {
					return
				}
				r := session(i)
				mu.Lock()
				if r.err != nil {
					kinds[kind(r.err)]++
					if len(kinds) == 1 && kinds[kind(r.err)] == 1 {
						fmt.Fprintf(os.Stderr, "ftpload: session %d: %v\n", i, r.err)
					}
				} else {
					durs = append(durs, r.dur)
					bytes += r.bytes
					lines = r.lines
					passUsed = r.passive
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	rep := report{Mode: *mode, Sessions: *n, OK: len(durs), Errors: *n - len(durs),
		ElapsedNS: elapsed.Nanoseconds(), Bytes: bytes, Lines: lines, UsedEP: passUsed}
	if len(kinds) > 0 {
		rep.ErrorKinds = kinds
	}
	rep.SessionsPerS = float64(len(durs)) / elapsed.Seconds()
	if len(durs) > 0 {
		slices.Sort(durs)
		ms := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }
		rep.P50MS = ms(durs[len(durs)/2])
		rep.P99MS = ms(durs[min(len(durs)-1, len(durs)*99/100)])
		rep.MinMS = ms(durs[0])
		rep.MaxMS = ms(durs[len(durs)-1])
	}
	enc := json.NewEncoder(os.Stdout)
	enc.Encode(rep)
	if rep.Errors > 0 {
		os.Exit(1)
	}
}

// kind is an error's class for the report: the reply code, or the kind of
// network error.
func kind(err error) string {
	var re *replyError
	if errors.As(err, &re) {
		return strconv.Itoa(re.code)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "eof"
	}
	if errors.Is(err, errSize) {
		return "size"
	}
	return "net"
}

type replyError struct {
	cmd  string
	code int
	text string
}

func (e *replyError) Error() string { return fmt.Sprintf("%s: %d %s", e.cmd, e.code, e.text) }

var errSize = errors.New("wrong size")

type result struct {
	err     error
	dur     time.Duration
	bytes   int64
	lines   int
	passive string
}

// conn is a control connection.
type conn struct {
	c net.Conn
	r *bufio.Reader
}

// reply reads one reply, multi-line ones included (RFC 959 §4.2).
func (c *conn) reply() (int, string, error) {
	line, err := c.r.ReadString('\n')
	if err != nil {
		return 0, "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if len(line) < 3 {
		return 0, "", fmt.Errorf("short reply %q", line)
	}
	code, err := strconv.Atoi(line[:3])
	if err != nil {
		return 0, "", fmt.Errorf("bad reply %q", line)
	}
	text := line
	if len(line) > 3 && line[3] == '-' {
		end := line[:3] + " "
		for {
			l, err := c.r.ReadString('\n')
			if err != nil {
				return 0, "", err
			}
			text += "\n" + strings.TrimRight(l, "\r\n")
			if strings.HasPrefix(l, end) {
				break
			}
		}
	}
	return code, text, nil
}

// cmd sends line and reads the reply, which must have code want/100 as its
// first digit.
func (c *conn) cmd(line string, want int) (int, string, error) {
	if _, err := io.WriteString(c.c, line+"\r\n"); err != nil {
		return 0, "", err
	}
	return c.expect(strings.Fields(line)[0], want)
}

func (c *conn) expect(what string, want int) (int, string, error) {
	code, text, err := c.reply()
	if err != nil {
		return 0, "", err
	}
	if code/100 != want {
		return code, text, &replyError{what, code, text}
	}
	return code, text, nil
}

// dataConn opens a passive data connection: EPSV, or PASV when -pasv or
// when the server refuses EPSV.
func (c *conn) dataConn(deadline time.Time) (net.Conn, string, error) {
	host, _, _ := net.SplitHostPort(c.c.RemoteAddr().String())
	var port, used string
	if !*pasv {
		code, text, err := c.cmd("EPSV", 2)
		if err == nil && code == 229 {
			// 229 Entering Extended Passive Mode (|||port|)
			i := strings.Index(text, "(")
			j := strings.LastIndex(text, ")")
			if i < 0 || j < i+5 {
				return nil, "", fmt.Errorf("bad 229 %q", text)
			}
			f := strings.Split(text[i+1:j], string(text[i+1]))
			if len(f) != 5 {
				return nil, "", fmt.Errorf("bad 229 %q", text)
			}
			port, used = f[3], "EPSV"
		} else if _, ok := err.(*replyError); !ok || code/100 != 5 {
			return nil, "", err
		}
	}
	if port == "" {
		_, text, err := c.cmd("PASV", 2)
		if err != nil {
			return nil, "", err
		}
		// 227 Entering Passive Mode (h1,h2,h3,h4,p1,p2)
		i := strings.IndexAny(text[4:], "0123456789")
		if i < 0 {
			return nil, "", fmt.Errorf("bad 227 %q", text)
		}
		f := strings.Split(strings.TrimRight(strings.Fields(text[4+i:])[0], ").,"), ",")
		if len(f) != 6 {
			return nil, "", fmt.Errorf("bad 227 %q", text)
		}
		p1, _ := strconv.Atoi(f[4])
		p2, _ := strconv.Atoi(f[5])
		port, used = strconv.Itoa(p1*256+p2), "PASV"
	}
	d, err := net.DialTimeout("tcp", net.JoinHostPort(host, port), time.Until(deadline))
	if err != nil {
		return nil, "", err
	}
	d.SetDeadline(deadline)
	return d, used, nil
}

func session(i int) (res result) {
	t0 := time.Now()
	deadline := t0.Add(*timeout)
	nc, err := net.DialTimeout("tcp", *addr, *timeout)
	if err != nil {
		return result{err: err}
	}
	defer nc.Close()
	nc.SetDeadline(deadline)
	c := &conn{c: nc, r: bufio.NewReader(nc)}
	if _, _, err := c.expect("greeting", 2); err != nil {
		return result{err: err}
	}
	code, _, err := c.cmd("USER "+*user, 2)
	if code == 331 || code == 332 {
		_, _, err = c.cmd("PASS "+*pass, 2)
	}
	if err != nil {
		return result{err: err}
	}
	if _, _, err := c.cmd("TYPE I", 2); err != nil {
		return result{err: err}
	}
	d, used, err := c.dataConn(deadline)
	if err != nil {
		return result{err: err}
	}
	defer d.Close()
	res.passive = used
	var tList time.Time
	if *mode == "retr" {
		_, err = io.WriteString(nc, "RETR "+fmt.Sprintf(*files, i)+"\r\n")
	} else {
		tList = time.Now()
		_, err = io.WriteString(nc, "LIST "+*path+"\r\n")
	}
	if err != nil {
		return result{err: err}
	}
	if _, _, err := c.expect("RETR/LIST", 1); err != nil {
		return result{err: err}
	}
	if *mode == "retr" {
		res.bytes, err = io.Copy(io.Discard, d)
	} else {
		var b []byte
		b, err = io.ReadAll(d)
		res.bytes = int64(len(b))
		res.lines = strings.Count(string(b), "\n")
	}
	d.Close()
	if err != nil {
		return result{err: err}
	}
	if _, _, err := c.expect("transfer", 2); err != nil {
		return result{err: err}
	}
	if *mode == "list" {
		res.dur = time.Since(tList)
	}
	if *mode == "retr" && *size != 0 && res.bytes != *size {
		return result{err: fmt.Errorf("%w: %d bytes, want %d", errSize, res.bytes, *size)}
	}
	if _, _, err := c.cmd("QUIT", 2); err != nil {
		return result{err: err}
	}
	if *mode == "retr" {
		res.dur = time.Since(t0)
	}
	return res
}
