// Command imapload is bench/imap's load generator. It uses only the
// standard library (a raw IMAP client: LOGIN, EXAMINE, SELECT, APPEND,
// FETCH, SEARCH, SORT, THREAD, LOGOUT), so that it measures any IMAP server
// the same way and does not depend on package imap's client.
//
// Modes (-mode):
//
//	caps    log in and print the server's capabilities as a JSON array.
//	fill    APPEND -n generated messages to INBOX from -c sessions, each
//	        keeping up to -window commands in flight (LITERAL+ when the
//	        server offers it), with -multi messages per APPEND command
//	        (MULTIAPPEND, RFC 3502) when -multi > 1.
//	fetch   -c sessions EXAMINE INBOX, then each sends FETCH a:b
//	        (BODY.PEEK[]) of -batch messages from a random start, one
//	        command after another, for -warmup and then -d.
//	search  one session EXAMINEs INBOX and sends each -q command once
//	        (not timed), then -repeat times: the time of each.
//	idle    open -k connections, -c at a time, log in (and SELECT INBOX
//	        with -select), then leave them idle; at the end LOGOUT each.
//	maildir write the -n messages fill would APPEND straight into the
//	        maildir -maildir (its cur/, flags in the name, the date as
//	        the file's mtime, which is a maildir's INTERNALDATE), owned by
//	        -uid; no server is involved.
//
// The measured part of fetch, search and idle is announced on stdout by a
// line "start NAME" and one "stop NAME" (idle: "ready" and "closed"), and
// imapload then waits for a line on stdin before it goes on, so that the
// caller can read the server's CPU time or memory at those points exactly.
// Last it prints one JSON object (see report), and exits 1 if anything
// failed.
//
// The messages of fill are generated from their number and -seed alone
// (see message): the same for every server.
//
//	go run ./bench/imapload -addr 127.0.0.1:1143 -mode fill -n 2000
//	go run ./bench/imapload -addr 127.0.0.1:1143 -mode fetch -c 10 -batch 100 -d 5s
//	go run ./bench/imapload -addr 127.0.0.1:1143 -mode search -q 'unseen=SEARCH UNSEEN'
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

var (
	addr    = flag.String("addr", "127.0.0.1:1143", "the server's HOST:PORT")
	user    = flag.String("user", "bench@example.com", "login")
	pass    = flag.String("pass", "bench", "password")
	mode    = flag.String("mode", "fetch", "caps, fill, fetch, search or idle")
	n       = flag.Int("n", 2000, "fill: messages to append")
	seed    = flag.Uint64("seed", 1, "fill: the seed of the generated messages")
	conc    = flag.Int("c", 10, "sessions (fill, fetch); connections opened at a time (idle)")
	window  = flag.Int("window", 16, "fill: APPEND commands in flight per session (with LITERAL+)")
	multi   = flag.Int("multi", 1, "fill: messages per APPEND command (MULTIAPPEND when above 1)")
	batch   = flag.Int("batch", 100, "fetch: messages per FETCH command")
	dur     = flag.Duration("d", 10*time.Second, "fetch: measured duration")
	warmup  = flag.Duration("warmup", time.Second, "fetch: warm-up before the measured part")
	repeat  = flag.Int("repeat", 5, "search: timed runs of each command")
	k       = flag.Int("k", 1000, "idle: connections")
	sel     = flag.Bool("select", false, "idle: SELECT INBOX on each connection")
	timeout = flag.Duration("timeout", 10*time.Minute, "limit of one command")
	mdir    = flag.String("maildir", "", "maildir: the maildir to write (made if missing)")
	uid     = flag.Int("uid", -1, "maildir: the owner of the files written (-1: this process's)")
	queries multiFlag
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

func init() {
	flag.Var(&queries, "q", "search: NAME=COMMAND, such as 'unseen=SEARCH UNSEEN' (repeatable)")
}

// report is what imapload prints at the end.
type report struct {
	Mode   string   `json:"mode"`
	Errors int      `json:"errors"`
	Error  string   `json:"error,omitempty"`
	Caps   []string `json:"caps,omitempty"`

	// fill
	Appended int     `json:"appended,omitempty"`
	Bytes    int64   `json:"bytes,omitempty"`
	ElapsedS float64 `json:"elapsed_s,omitempty"`

	// fetch
	Exists   int     `json:"exists,omitempty"`
	Commands int64   `json:"commands,omitempty"`
	Messages int64   `json:"messages,omitempty"`
	MsgsPerS float64 `json:"messages_per_s,omitempty"`
	MiBPerS  float64 `json:"mib_per_s,omitempty"`
	CmdP50MS float64 `json:"command_p50_ms,omitempty"`
	CmdP99MS float64 `json:"command_p99_ms,omitempty"`

	// search
	Queries []queryResult `json:"queries,omitempty"`

	// idle
	Opened int `json:"opened,omitempty"`
}

type queryResult struct {
	Name    string    `json:"name"`
	Command string    `json:"command"`
	Status  string    `json:"status"`
	Hits    int       `json:"hits"`              // numbers in the SEARCH/SORT/THREAD answer
	Threads int       `json:"threads,omitempty"` // THREAD: top-level threads
	Bytes   int       `json:"answer_bytes"`
	FirstMS float64   `json:"first_ms"`
	RunsMS  []float64 `json:"runs_ms"`
	P50MS   float64   `json:"p50_ms"`
}

func main() {
	flag.Parse()
	var rep report
	var err error
	switch *mode {
	case "caps":
		err = runCaps(&rep)
	case "fill":
		err = runFill(&rep)
	case "fetch":
		err = runFetch(&rep)
	case "search":
		err = runSearch(&rep)
	case "idle":
		err = runIdle(&rep)
	case "maildir":
		err = runMaildir(&rep)
	default:
		fmt.Fprintln(os.Stderr, "imapload: -mode wants caps, fill, fetch, search, idle or maildir")
		os.Exit(2)
	}
	rep.Mode = *mode
	if err != nil {
		rep.Errors++
		rep.Error = err.Error()
		fmt.Fprintln(os.Stderr, "imapload:", err)
	}
	json.NewEncoder(os.Stdout).Encode(rep)
	if rep.Errors > 0 {
		os.Exit(1)
	}
}

var stdin = bufio.NewReader(os.Stdin)

// mark prints line on stdout and waits for a line on stdin.
func mark(line string) {
	fmt.Println(line)
	os.Stdout.Sync()
	stdin.ReadString('\n')
}

// conn is one IMAP connection.
type conn struct {
	nc   net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
	tag  int
	caps map[string]bool
}

// respError is a tagged NO or BAD.
type respError struct{ line string }

func (e *respError) Error() string { return e.line }

func dial() (*conn, error) {
	nc, err := net.DialTimeout("tcp", *addr, 30*time.Second)
	if err != nil {
		return nil, err
	}
	c := &conn{nc: nc, r: bufio.NewReaderSize(nc, 64<<10), w: bufio.NewWriterSize(nc, 64<<10)}
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	line, err := c.r.ReadString('\n')
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("greeting: %w", err)
	}
	if !strings.HasPrefix(line, "* OK") {
		nc.Close()
		return nil, fmt.Errorf("greeting %q", strings.TrimSpace(line))
	}
	return c, nil
}

func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// login logs in and reads the capabilities (from the OK's code or by
// CAPABILITY).
func (c *conn) login() error {
	c.caps = nil
	st, err := c.cmd("LOGIN "+quote(*user)+" "+quote(*pass), c.capsFrom)
	if err != nil {
		return fmt.Errorf("LOGIN: %w", err)
	}
	c.capsFrom([]byte(st), 0)
	if c.caps == nil {
		if _, err := c.cmd("CAPABILITY", c.capsFrom); err != nil {
			return err
		}
	}
	return nil
}

func (c *conn) capsFrom(line []byte, _ int64) {
	s := string(line)
	var list string
	if i := strings.Index(s, "[CAPABILITY "); i >= 0 {
		list = s[i+len("[CAPABILITY "):]
		if j := strings.IndexByte(list, ']'); j >= 0 {
			list = list[:j]
		}
	} else if strings.HasPrefix(s, "* CAPABILITY ") {
		list = s[len("* CAPABILITY "):]
	} else {
		return
	}
	c.caps = map[string]bool{}
	for _, f := range strings.Fields(list) {
		c.caps[strings.ToUpper(f)] = true
	}
}

// readLine reads one response line; literals in it are read and thrown
// away (their sizes summed in lits) and stand as "{}" in line.
func (c *conn) readLine() (line []byte, lits int64, err error) {
	for {
		part, err := c.r.ReadBytes('\n')
		if err != nil {
			return nil, 0, err
		}
		part = bytes.TrimRight(part, "\r\n")
		if len(part) > 0 && part[len(part)-1] == '}' {
			if i := bytes.LastIndexByte(part, '{'); i >= 0 {
				sz, err := strconv.ParseInt(strings.TrimSuffix(string(part[i+1:len(part)-1]), "+"), 10, 64)
				if err == nil {
					line = append(line, part[:i]...)
					line = append(line, "{}"...)
					if _, err := io.CopyN(io.Discard, c.r, sz); err != nil {
						return nil, 0, err
					}
					lits += sz
					continue
				}
			}
		}
		return append(line, part...), lits, nil
	}
}

// cmd sends a command and reads its responses up to the tagged one,
// handing each untagged one to f (if not nil). It returns the tagged line.
func (c *conn) cmd(command string, f func(line []byte, lits int64)) (string, error) {
	c.tag++
	tag := "a" + strconv.Itoa(c.tag)
	c.nc.SetDeadline(time.Now().Add(*timeout))
	c.w.WriteString(tag + " " + command + "\r\n")
	if err := c.w.Flush(); err != nil {
		return "", err
	}
	return c.wait(tag, f)
}

func (c *conn) wait(tag string, f func(line []byte, lits int64)) (string, error) {
	for {
		line, lits, err := c.readLine()
		if err != nil {
			return "", err
		}
		if bytes.HasPrefix(line, []byte(tag+" ")) {
			s := string(line)
			if !strings.HasPrefix(s[len(tag)+1:], "OK") {
				return s, &respError{s}
			}
			return s, nil
		}
		if f != nil {
			f(line, lits)
		}
	}
}

// examine opens INBOX (read-only unless rw) and returns its EXISTS.
func (c *conn) examine(rw bool) (int, error) {
	exists := -1
	verb := "EXAMINE"
	if rw {
		verb = "SELECT"
	}
	_, err := c.cmd(verb+" INBOX", func(line []byte, _ int64) {
		f := strings.Fields(string(line))
		if len(f) == 3 && f[2] == "EXISTS" {
			exists, _ = strconv.Atoi(f[1])
		}
	})
	if err != nil {
		return 0, fmt.Errorf("%s: %w", verb, err)
	}
	return exists, nil
}

func (c *conn) logout() {
	c.cmd("LOGOUT", nil)
	c.nc.Close()
}

func open() (*conn, error) {
	c, err := dial()
	if err != nil {
		return nil, err
	}
	if err := c.login(); err != nil {
		c.nc.Close()
		return nil, err
	}
	return c, nil
}

func runCaps(rep *report) error {
	c, err := open()
	if err != nil {
		return err
	}
	defer c.logout()
	for cp := range c.caps {
		rep.Caps = append(rep.Caps, cp)
	}
	slices.Sort(rep.Caps)
	return nil
}

// ---- fill -----------------------------------------------------------------

func runFill(rep *report) error {
	var (
		next   atomic.Int64
		total  atomic.Int64
		nbytes atomic.Int64
		mu     sync.Mutex
		first  error
		wg     sync.WaitGroup
	)
	g := newGenerator(*n, *seed)
	start := time.Now()
	per := max(*multi, 1)
	for range *conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := fillSession(g, &next, per, &total, &nbytes)
			if err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	stop := make(chan struct{})
	go func() {
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				fmt.Fprintf(os.Stderr, "  fill: %d of %d messages, %.0f/s\n", total.Load(), *n,
					float64(total.Load())/time.Since(start).Seconds())
			}
		}
	}()
	wg.Wait()
	close(stop)
	rep.Appended = int(total.Load())
	rep.Bytes = nbytes.Load()
	rep.ElapsedS = time.Since(start).Seconds()
	if first == nil && rep.Appended != *n {
		first = fmt.Errorf("appended %d of %d", rep.Appended, *n)
	}
	return first
}

// fillSession appends messages next hands out, per at a time, until there
// are none left.
func fillSession(g *generator, next *atomic.Int64, per int, total, nbytes *atomic.Int64) error {
	c, err := open()
	if err != nil {
		return err
	}
	defer c.logout()
	plus := c.caps["LITERAL+"]
	if per > 1 && !c.caps["MULTIAPPEND"] {
		return errors.New("the server does not offer MULTIAPPEND")
	}
	lit := func(size int) string {
		if plus {
			return "{" + strconv.Itoa(size) + "+}"
		}
		return "{" + strconv.Itoa(size) + "}"
	}
	win := *window
	if !plus {
		win = 1
	}
	type inflight struct {
		tag   string
		count int
	}
	pending := make(chan inflight, win)
	errc := make(chan error, 1)
	go func() {
		// The reader: tagged answers in order.
		var err error
		for f := range pending {
			if err == nil {
				_, err = c.wait(f.tag, nil)
				if err != nil {
					err = fmt.Errorf("APPEND: %w", err)
				} else {
					total.Add(int64(f.count))
				}
			}
		}
		errc <- err
	}()
	var werr error
	for werr == nil {
		i0 := int(next.Add(int64(per)) - int64(per))
		if i0 >= g.n {
			break
		}
		i1 := min(i0+per, g.n)
		c.tag++
		tag := "a" + strconv.Itoa(c.tag)
		c.nc.SetDeadline(time.Now().Add(*timeout))
		c.w.WriteString(tag + " APPEND INBOX")
		for i := i0; i < i1; i++ {
			m := g.message(i)
			flags := "()"
			if g.seen(i) {
				flags = `(\Seen)`
			}
			c.w.WriteString(" " + flags + " " + quote(g.date(i).Format("02-Jan-2006 15:04:05 -0700")) + " " + lit(len(m)))
			c.w.WriteString("\r\n")
			if !plus {
				if werr = c.w.Flush(); werr != nil {
					break
				}
				line, _, err := c.readLine()
				if err != nil {
					werr = err
					break
				}
				if !bytes.HasPrefix(line, []byte("+")) {
					werr = fmt.Errorf("APPEND: %s", line)
					break
				}
			}
			c.w.Write(m)
			nbytes.Add(int64(len(m)))
		}
		if werr != nil {
			break
		}
		c.w.WriteString("\r\n")
		if !plus {
			// One command at a time, its answer read here.
			if werr = c.w.Flush(); werr == nil {
				if _, err := c.wait(tag, nil); err != nil {
					werr = fmt.Errorf("APPEND: %w", err)
				} else {
					total.Add(int64(i1 - i0))
				}
			}
			continue
		}
		// Flush before waiting for room: the reader may need our
		// earlier commands on the wire.
		if len(pending) == cap(pending) {
			werr = c.w.Flush()
		}
		pending <- inflight{tag, i1 - i0}
	}
	if werr == nil {
		werr = c.w.Flush()
	}
	close(pending)
	if err := <-errc; err != nil {
		return err
	}
	return werr
}

// runMaildir writes the messages into a maildir's cur/. The names sort in
// message order (Dovecot gives new files UIDs in that order) and carry the
// size (S=, W=: the files keep the messages' CRLFs, so both are the same).
func runMaildir(rep *report) error {
	if *mdir == "" {
		return errors.New("-mode maildir wants -maildir")
	}
	for _, d := range []string{"", "cur", "new", "tmp"} {
		p := *mdir + "/" + d
		if err := os.MkdirAll(p, 0o700); err != nil {
			return err
		}
		if *uid >= 0 {
			if err := os.Chown(p, *uid, *uid); err != nil {
				return err
			}
		}
	}
	g := newGenerator(*n, *seed)
	start := time.Now()
	var (
		next  atomic.Int64
		total atomic.Int64
		nb    atomic.Int64
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	for range max(*conc, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= g.n {
					return
				}
				m := g.message(i)
				flags := ""
				if g.seen(i) {
					flags = "S"
				}
				name := fmt.Sprintf("%s/cur/%d.M%dP1Q%d.bench,S=%d,W=%d:2,%s", *mdir,
					1700000000+i, i%1000000, i, len(m), len(m), flags)
				err := os.WriteFile(name, m, 0o600)
				if err == nil && *uid >= 0 {
					err = os.Chown(name, *uid, *uid)
				}
				if err == nil {
					d := g.date(i)
					err = os.Chtimes(name, d, d)
				}
				if err != nil {
					mu.Lock()
					first = firstErr(first, err)
					mu.Unlock()
					return
				}
				total.Add(1)
				nb.Add(int64(len(m)))
			}
		}()
	}
	wg.Wait()
	rep.Appended, rep.Bytes, rep.ElapsedS = int(total.Load()), nb.Load(), time.Since(start).Seconds()
	return first
}

// ---- fetch ----------------------------------------------------------------

func runFetch(rep *report) error {
	type session struct {
		c   *conn
		rng *rand.Rand
	}
	sessions := make([]*session, *conc)
	exists := 0
	for i := range sessions {
		c, err := open()
		if err != nil {
			return err
		}
		defer c.logout()
		e, err := c.examine(false)
		if err != nil {
			return err
		}
		if e < *batch {
			return fmt.Errorf("INBOX has %d messages, fewer than -batch %d", e, *batch)
		}
		exists = e
		sessions[i] = &session{c, rand.New(rand.NewPCG(uint64(i), 42))}
	}
	rep.Exists = exists
	var (
		msgs, cmds, nbytes atomic.Int64
		measuring          atomic.Bool
		done               atomic.Bool
		mu                 sync.Mutex
		lat                []time.Duration
		first              error
		wg                 sync.WaitGroup
	)
	for _, s := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for !done.Load() {
				a := 1 + s.rng.IntN(exists-*batch+1)
				set := strconv.Itoa(a)
				if *batch > 1 {
					set += ":" + strconv.Itoa(a+*batch-1)
				}
				got, size := 0, int64(0)
				bad := ""
				t0 := time.Now()
				_, err := s.c.cmd("FETCH "+set+" (BODY.PEEK[])", func(line []byte, lits int64) {
					if bytes.Contains(line, []byte(" FETCH ")) {
						got++
						size += lits
						if lits < 1000 && bad == "" {
							bad = string(line)
						}
					}
				})
				d := time.Since(t0)
				if err == nil && got != *batch {
					err = fmt.Errorf("FETCH %s: %d messages, want %d", set, got, *batch)
				}
				if err == nil && bad != "" {
					err = fmt.Errorf("FETCH %s: a message of under 1000 bytes: %q", set, bad)
				}
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					done.Store(true)
					return
				}
				msgs.Add(int64(got))
				nbytes.Add(size)
				cmds.Add(1)
				if measuring.Load() {
					mine = append(mine, d)
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	time.Sleep(*warmup)
	mark("start fetch")
	m0, c0, b0, t0 := msgs.Load(), cmds.Load(), nbytes.Load(), time.Now()
	measuring.Store(true)
	time.Sleep(*dur)
	m1, c1, b1, t1 := msgs.Load(), cmds.Load(), nbytes.Load(), time.Now()
	measuring.Store(false)
	mark("stop fetch")
	done.Store(true)
	wg.Wait()
	el := t1.Sub(t0).Seconds()
	rep.Messages, rep.Commands, rep.Bytes, rep.ElapsedS = m1-m0, c1-c0, b1-b0, el
	rep.MsgsPerS = float64(m1-m0) / el
	rep.MiBPerS = float64(b1-b0) / el / (1 << 20)
	if len(lat) > 0 {
		slices.Sort(lat)
		rep.CmdP50MS = ms(lat[len(lat)/2])
		rep.CmdP99MS = ms(lat[min(len(lat)-1, len(lat)*99/100)])
	}
	return first
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

// ---- search ---------------------------------------------------------------

func runSearch(rep *report) error {
	c, err := open()
	if err != nil {
		return err
	}
	defer c.logout()
	if rep.Exists, err = c.examine(false); err != nil {
		return err
	}
	var first error
	for _, q := range queries {
		name, command, ok := strings.Cut(q, "=")
		if !ok {
			return fmt.Errorf("-q %q: want NAME=COMMAND", q)
		}
		qr := queryResult{Name: name, Command: command, Status: "ok"}
		run := func() (time.Duration, error) {
			hits, threads, size := 0, 0, 0
			t0 := time.Now()
			_, err := c.cmd(command, func(line []byte, _ int64) {
				s := string(line)
				switch {
				case strings.HasPrefix(s, "* SEARCH"), strings.HasPrefix(s, "* SORT"):
					hits += len(strings.Fields(s)) - 2
				case strings.HasPrefix(s, "* ESEARCH"):
					// (ESEARCH ... COUNT n or ALL set): count the set
					hits += esearchCount(s)
				case strings.HasPrefix(s, "* THREAD"):
					h, t := threadCount(s[len("* THREAD"):])
					hits += h
					threads += t
				}
				size += len(line)
			})
			d := time.Since(t0)
			qr.Hits, qr.Threads, qr.Bytes = hits, threads, size
			return d, err
		}
		d, err := run()
		qr.FirstMS = ms(d)
		if err != nil {
			qr.Status = err.Error()
			first = firstErr(first, fmt.Errorf("%s: %w", command, err))
			rep.Queries = append(rep.Queries, qr)
			continue
		}
		mark("start " + name)
		for range *repeat {
			d, err := run()
			if err != nil {
				qr.Status = err.Error()
				first = firstErr(first, fmt.Errorf("%s: %w", command, err))
				break
			}
			qr.RunsMS = append(qr.RunsMS, ms(d))
		}
		mark("stop " + name)
		if len(qr.RunsMS) > 0 {
			s := slices.Clone(qr.RunsMS)
			slices.Sort(s)
			qr.P50MS = s[len(s)/2]
		}
		rep.Queries = append(rep.Queries, qr)
	}
	return first
}

func firstErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// esearchCount counts the messages in an ESEARCH answer's ALL set, or
// returns its COUNT.
func esearchCount(s string) int {
	f := strings.Fields(s)
	for i := 0; i+1 < len(f); i++ {
		switch strings.ToUpper(f[i]) {
		case "COUNT":
			n, _ := strconv.Atoi(f[i+1])
			return n
		case "ALL":
			total := 0
			for _, r := range strings.Split(f[i+1], ",") {
				a, b, ok := strings.Cut(r, ":")
				x, _ := strconv.Atoi(a)
				if !ok {
					total++
					continue
				}
				y, _ := strconv.Atoi(b)
				if y < x {
					x, y = y, x
				}
				total += y - x + 1
			}
			return total
		}
	}
	return 0
}

// threadCount counts the message numbers and the top-level threads in a
// THREAD answer.
func threadCount(s string) (msgs, threads int) {
	depth := 0
	inNum := false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		isDigit := ch >= '0' && ch <= '9'
		if isDigit && !inNum {
			msgs++
		}
		inNum = isDigit
		switch ch {
		case '(':
			if depth == 0 {
				threads++
			}
			depth++
		case ')':
			depth--
		}
	}
	return msgs, threads
}

// ---- idle -----------------------------------------------------------------

func runIdle(rep *report) error {
	conns := make([]*conn, *k)
	var (
		next  atomic.Int64
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	for range *conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= *k {
					return
				}
				c, err := open()
				if err == nil && *sel {
					_, err = c.examine(true)
				}
				if err != nil {
					mu.Lock()
					first = firstErr(first, fmt.Errorf("connection %d: %w", i, err))
					mu.Unlock()
					continue
				}
				c.nc.SetDeadline(time.Time{})
				conns[i] = c
			}
		}()
	}
	wg.Wait()
	for _, c := range conns {
		if c != nil {
			rep.Opened++
		}
	}
	mark("ready")
	next.Store(0)
	for range *conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(conns) {
					return
				}
				if conns[i] != nil {
					conns[i].logout()
				}
			}
		}()
	}
	wg.Wait()
	mark("closed")
	return first
}

// ---- the messages ---------------------------------------------------------

// generator makes message i of n from i and the seed alone: distinct From,
// To, Subject, Date and Message-ID; about 3 in 10 are replies (In-Reply-To
// and References, Subject "Re: " and the thread's) to an earlier message
// near it; bodies of 9-11 KB of text. Rare words for searches: the Subject
// of the thread started by message i has "zebra" when i%1000 == 7, From
// is "Marigold Quixote" when i%1000 == 123, the body has "xylophone" when
// i%1000 == 500. Nine in ten messages are \Seen.
type generator struct {
	n      int
	seed   uint64
	parent []int32
}

func newGenerator(n int, seed uint64) *generator {
	g := &generator{n: n, seed: seed, parent: make([]int32, n)}
	for i := range g.parent {
		g.parent[i] = -1
		h := g.h(i, 1)
		if i > 0 && h%10 < 3 {
			g.parent[i] = int32(i - 1 - int(h>>8)%min(i, 300))
		}
	}
	return g
}

// h is a hash of i, the seed and salt (splitmix64).
func (g *generator) h(i int, salt uint64) uint64 {
	z := g.seed*0x9e3779b97f4a7c15 ^ uint64(i)*0xbf58476d1ce4e5b9 ^ salt*0x94d049bb133111eb
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func (g *generator) seen(i int) bool { return g.h(i, 2)%10 != 0 }

var zones = []*time.Location{
	time.FixedZone("", 0), time.FixedZone("", -8*3600), time.FixedZone("", 3600),
	time.FixedZone("", 5*3600+1800), time.FixedZone("", -5*3600), time.FixedZone("", 9*3600),
}

// date is message i's Date and internal date: a minute apart, give or take
// half an hour, in one of six zones.
func (g *generator) date(i int) time.Time {
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	t := base.Add(time.Duration(i)*time.Minute + time.Duration(int(g.h(i, 3)%3600)-1800)*time.Second)
	return t.In(zones[g.h(i, 4)%uint64(len(zones))])
}

func (g *generator) msgid(i int) string {
	return fmt.Sprintf("<%d.%x@bench.example>", i, g.h(i, 5)&0xffffff)
}

func (g *generator) root(i int) int {
	for g.parent[i] >= 0 {
		i = int(g.parent[i])
	}
	return i
}

func (g *generator) subject(i int) string {
	r := g.root(i)
	var b strings.Builder
	nw := 3 + int(g.h(r, 6)%5)
	for w := range nw {
		if w > 0 {
			b.WriteByte(' ')
		}
		word := words[g.h(r, 100+uint64(w))%uint64(len(words))]
		if w == 0 {
			word = strings.ToUpper(word[:1]) + word[1:]
		}
		b.WriteString(word)
	}
	if r%1000 == 7 {
		b.WriteString(" zebra")
	}
	fmt.Fprintf(&b, " %d", r)
	if r != i {
		return "Re: " + b.String()
	}
	return b.String()
}

func (g *generator) person(i int, salt uint64) (name, address string) {
	h := g.h(i, salt)
	f := firsts[h%uint64(len(firsts))]
	l := lasts[(h>>16)%uint64(len(lasts))]
	d := domains[(h>>32)%uint64(len(domains))]
	num := (h >> 40) % 1000
	return f + " " + l, fmt.Sprintf("%s.%s%d@%s", strings.ToLower(f), strings.ToLower(l), num, d)
}

func (g *generator) message(i int) []byte {
	var b bytes.Buffer
	b.Grow(12 << 10)
	fromName, fromAddr := g.person(i, 7)
	if i%1000 == 123 {
		fromName, fromAddr = "Marigold Quixote", fmt.Sprintf("marigold.quixote%d@bench.example", i)
	}
	toName, toAddr := g.person(i, 8)
	fmt.Fprintf(&b, "Return-Path: <%s>\r\n", fromAddr)
	fmt.Fprintf(&b, "Received: from mx%d.bench.example (mx%d.bench.example [192.0.2.%d])\r\n\tby imap.bench.example with ESMTP id %x\r\n\tfor <%s>; %s\r\n",
		i%7, i%7, 1+i%250, g.h(i, 9)&0xffffffffff, toAddr, g.date(i).Add(3*time.Second).Format(time.RFC1123Z))
	fmt.Fprintf(&b, "From: %s <%s>\r\n", fromName, fromAddr)
	fmt.Fprintf(&b, "To: %s <%s>\r\n", toName, toAddr)
	if g.h(i, 10)%4 == 0 {
		ccName, ccAddr := g.person(i, 11)
		fmt.Fprintf(&b, "Cc: %s <%s>\r\n", ccName, ccAddr)
	}
	fmt.Fprintf(&b, "Subject: %s\r\n", g.subject(i))
	fmt.Fprintf(&b, "Date: %s\r\n", g.date(i).Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: %s\r\n", g.msgid(i))
	if p := int(g.parent[i]); p >= 0 {
		fmt.Fprintf(&b, "In-Reply-To: %s\r\n", g.msgid(p))
		var refs []string
		for a := p; a >= 0 && len(refs) < 10; a = int(g.parent[a]) {
			refs = append(refs, g.msgid(a))
		}
		slices.Reverse(refs)
		fmt.Fprintf(&b, "References: %s\r\n", strings.Join(refs, "\r\n "))
	}
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n")
	fmt.Fprintf(&b, "X-Bench-Seq: %d\r\n\r\n", i)
	target := 9*1024 + int(g.h(i, 12)%2048)
	rng := g.h(i, 13)
	line := 0
	for b.Len() < target {
		n := 0
		for n < 68 {
			rng ^= rng << 13
			rng ^= rng >> 7
			rng ^= rng << 17
			w := words[rng%uint64(len(words))]
			if n > 0 {
				b.WriteByte(' ')
				n++
			}
			b.WriteString(w)
			n += len(w)
		}
		if line == 40 && i%1000 == 500 {
			b.WriteString(" xylophone")
		}
		b.WriteString("\r\n")
		line++
	}
	return b.Bytes()
}

var words = strings.Fields(`the of and to in is it that was for on are with as his they be at one
have this from or had by word but what some we can out other were all there when up use your how said
an each she which do their time if will way about many then them write would like so these her long
make thing see him two has look more day could go come did number sound no most people my over know
water than call first who may down side been now find any new work part take get place made live where
after back little only round man year came show every good me give our under name very through just
form sentence great think say help low line differ turn cause much mean before move right boy old too
same tell does set three want air well also play small end put home read hand port large spell add even
land here must big high such follow act why ask men change went light kind off need house picture try
us again animal point mother world near build self earth father head stand own page should country found
answer school grow study still learn plant cover food sun four between state keep eye never last let
thought city tree cross farm hard start might story saw far sea draw left late run while press close
night real life few north open seem together next white children begin got walk example ease paper group
always music those both mark often letter until mile river car feet care second book carry took science
eat room friend began idea fish mountain stop once base hear horse cut sure watch color face wood main
enough plain girl usual young ready above ever red list though feel talk bird soon body dog family
direct pose leave song measure door product black short numeral class wind question happen complete ship
area half rock order fire south problem piece told knew pass since top whole king space heard best hour
better true during hundred five remember step early hold west ground interest reach fast verb sing
listen six table travel less morning ten simple several vowel toward war lay against pattern slow
center love person money serve appear road map rain rule govern pull cold notice voice unit power town
fine certain fly fall lead cry dark machine note wait plan figure star box noun field rest correct able
pound done beauty drive stood contain front teach week final gave green quick develop ocean warm free
minute strong special mind behind clear tail produce fact street inch multiply nothing course stay
wheel full force blue object decide surface deep moon island foot system busy test record boat common
gold possible plane stead dry wonder laugh thousand ago ran check game shape equate hot miss brought
heat snow tire bring yes distant fill east paint language among`)

var firsts = strings.Fields(`Alice Bob Carol Dave Erin Frank Grace Heidi Ivan Judy Mallory Niaj Olivia
Peggy Rupert Sybil Trent Victor Walter Yvonne Zoe Aaron Bianca Chen Dmitri Eva Farid Gita Hugo Ines
Jonas Kenji Lena Mateo Nora Omar Priya Quentin Rosa Sven Tara Umar Vera Wen Ximena Yusuf Zara`)

var lasts = strings.Fields(`Smith Jones Garcia Mueller Rossi Dubois Kowalski Nguyen Tanaka Silva
Okafor Larsen Novak Petrov Haddad Ibrahim Kim Lopez Martin Nakamura Olsen Popescu Quinn Reyes
Schmidt Torres Ueda Varga Weber Xu Yilmaz Zhang Andersson Becker Costa Dahl Eriksen Fischer`)

var domains = strings.Fields(`example.com example.net example.org mail.example lists.example
corp.example uni.example dev.example`)
