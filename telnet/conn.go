package telnet

import (
	"context"
	"errors"
	"net"
	"os"
	"slices"
	"sync"
	"time"
)

// Config configures a Conn: its side, the options it accepts and offers,
// and what it reports. A nil *Config is equivalent to the zero value, a
// client with the default options.
type Config struct {
	// Server makes the Conn the server end. The two ends differ where the
	// RFCs make them: the server asks for the terminal type (RFC 1091),
	// the window size (RFC 1073) and the environment (RFC 1572) and the
	// client sends them.
	Server bool

	// Local lists the options we agree to enable on our side when the
	// peer asks (a DO answered WILL). Nil means the defaults: BINARY, ECHO
	// and SUPPRESS-GO-AHEAD for a server; BINARY, SUPPRESS-GO-AHEAD,
	// TERMINAL-TYPE and NAWS for a client. Options this package does not
	// implement on that side are refused whatever the list says.
	Local []Option
	// Remote lists the options we agree to let the peer enable (a WILL
	// answered DO). Nil means the defaults: BINARY, SUPPRESS-GO-AHEAD,
	// TERMINAL-TYPE, NAWS and NEW-ENVIRON for a server; BINARY, ECHO and
	// SUPPRESS-GO-AHEAD for a client.
	Remote []Option
	// Offer lists the options Negotiate offers to enable on our side
	// (WILL) the first time it is called.
	Offer []Option
	// Request lists the options Negotiate asks the peer to enable (DO)
	// the first time it is called.
	Request []Option

	// TerminalType is what a client answers to TERMINAL-TYPE SEND;
	// "" means "UNKNOWN".
	TerminalType string
	// WindowSize, if not nil, gives a client's window size, sent when NAWS
	// is enabled. SetWindowSize sends later changes.
	WindowSize func() (width, height int)
	// AYTReply is the data sent in answer to AYT (Are You There); ""
	// means no answer.
	AYTReply string

	// OnEvent, if not nil, is called with the Conn and every option
	// change, window size, terminal type, environment and command the peer
	// sends; a Server's sessions share it. It is
	// called from the goroutine that called Read (or Negotiate), before
	// Read returns the data that followed the event on the wire, with no
	// lock held; it must not call Read, and should return quickly.
	OnEvent func(c *Conn, ev Event)
}

// An EventKind says what an Event reports.
type EventKind int

// The kinds of events.
const (
	// EventOption: an option was enabled or disabled, on our side
	// (Local) or the peer's.
	EventOption EventKind = iota + 1
	// EventWindowSize: the peer's window size (NAWS), in Width and Height.
	EventWindowSize
	// EventTerminalType: the peer's terminal type, in TerminalType.
	EventTerminalType
	// EventEnviron: the peer sent environment variables (NEW-ENVIRON IS or
	// INFO); Conn.Environ returns them.
	EventEnviron
	// EventCommand: the peer sent a command (IP, BRK, AO, AYT, EC, EL, GA,
	// NOP, DM), in Command.
	EventCommand
)

// String returns the kind's name, for logs.
func (k EventKind) String() string {
	switch k {
	case EventOption:
		return "option"
	case EventWindowSize:
		return "window size"
	case EventTerminalType:
		return "terminal type"
	case EventEnviron:
		return "environ"
	case EventCommand:
		return "command"
	}
	return "EventKind(?)"
}

// An Event is a change the peer made or a command it sent.
type Event struct {
	Kind EventKind
	// Option and Enabled: for EventOption, the option and whether it is
	// now on; Local says whether it is our side's.
	Option  Option
	Enabled bool
	Local   bool
	// Width and Height: for EventWindowSize, in characters; 0 means
	// unknown (RFC 1073).
	Width, Height int
	// TerminalType: for EventTerminalType.
	TerminalType string
	// Command: for EventCommand, the command octet (IP, BRK, ...).
	Command byte
}

// An EnvVar is a variable of NEW-ENVIRON (RFC 1572).
type EnvVar struct {
	Name, Value string
	// User reports a USERVAR rather than a well-known VAR.
	User bool
	// Defined reports whether a VALUE was sent; a VAR without one is
	// known to the client but undefined.
	Defined bool
}

// A Conn is one end of a Telnet connection over nc. It implements net.Conn
// over the data stream: see Read and Write. Read, Write, the option
// methods and the queries may be called from different goroutines; Read
// (and Negotiate, which reads) from one at a time.
//
// Negotiation answers are sent as the peer's requests are read: a Conn
// whose data nobody reads does not negotiate.
type Conn struct {
	nc  net.Conn
	cfg Config

	localOK, remoteOK [256]bool

	rmu     sync.Mutex // Read and Negotiate
	dec     decoder
	raw     []byte
	rpos    int
	rend    int
	pending []byte // data read by Negotiate, for Read
	defered *token // an in-band command found after data, for the next Read
	offered bool

	wmu  sync.Mutex
	enc  encoder
	wbuf []byte

	mu          sync.Mutex // option states and what the peer reported
	us, him     [256]qopt
	width       int
	height      int
	haveSize    bool
	ttype       string
	env         []EnvVar
	localW      int
	localH      int
	onCommand   func(byte) // the LineReader's
	sess        *session   // set by Server
	lr          *LineReader
	saidGoodbye bool
	// awaiting holds the options whose SEND awaits its IS.
	awaiting   [256]bool
	readFailed error
}

var (
	_ net.Conn = (*Conn)(nil)

	defaultLocal = map[bool][]Option{
		true:  {OptionBinary, OptionEcho, OptionSGA},
		false: {OptionBinary, OptionSGA, OptionTerminalType, OptionNAWS},
	}
	defaultRemote = map[bool][]Option{
		true:  {OptionBinary, OptionSGA, OptionTerminalType, OptionNAWS, OptionNewEnviron},
		false: {OptionBinary, OptionEcho, OptionSGA},
	}
	// supportedLocal and supportedRemote are the options this package
	// implements on each side, by whether it is the server.
	supportedLocal = map[bool][]Option{
		true:  {OptionBinary, OptionEcho, OptionSGA},
		false: {OptionBinary, OptionEcho, OptionSGA, OptionTerminalType, OptionNAWS},
	}
	supportedRemote = map[bool][]Option{
		true:  {OptionBinary, OptionEcho, OptionSGA, OptionTerminalType, OptionNAWS, OptionNewEnviron},
		false: {OptionBinary, OptionEcho, OptionSGA},
	}
)

// NewConn returns a Conn over nc, configured by cfg (nil means a client
// with the defaults). It sends nothing: Negotiate sends the offers and
// requests of cfg, and the peer's requests are answered as Read finds
// them. This function doesn't perform I/O.
func NewConn(nc net.Conn, cfg *Config) *Conn {
	c := &Conn{nc: nc, raw: make([]byte, 4096)}
	if cfg != nil {
		c.cfg = *cfg
	}
	local, remote := c.cfg.Local, c.cfg.Remote
	if local == nil {
		local = defaultLocal[c.cfg.Server]
	}
	if remote == nil {
		remote = defaultRemote[c.cfg.Server]
	}
	for _, o := range local {
		c.localOK[o] = slices.Contains(supportedLocal[c.cfg.Server], o)
	}
	for _, o := range remote {
		c.remoteOK[o] = slices.Contains(supportedRemote[c.cfg.Server], o)
	}
	if c.cfg.TerminalType == "" {
		c.cfg.TerminalType = "UNKNOWN"
	}
	return c
}

// NetConn returns the connection c runs over.
func (c *Conn) NetConn() net.Conn { return c.nc }

// IsServer reports whether c is the server end.
func (c *Conn) IsServer() bool { return c.cfg.Server }

// Read reads data: what the peer sent, with commands, negotiation and
// sub-negotiations removed (and answered), IAC IAC made one 0xFF, and,
// unless the peer sends in BINARY mode, CR NUL made CR. It never returns
// 0 octets with a nil error.
func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	return c.read(p, readData)
}

// How read returns.
const (
	readData    = iota // with data
	readSettled        // with data, or once no answer to our requests is awaited
	readCommand        // with data, or after a command (for a LineReader)
)

// read is Read with rmu held, returning as mode says.
func (c *Conn) read(p []byte, mode int) (int, error) {
	for {
		if c.defered != nil {
			tok := *c.defered
			c.defered = nil
			if err := c.handle(tok); err != nil {
				return 0, err
			}
			if mode == readCommand {
				return 0, nil
			}
		}
		if len(c.pending) > 0 {
			n := copy(p, c.pending)
			c.pending = c.pending[n:]
			return n, nil
		}
		if c.rpos == c.rend {
			n, err := c.nc.Read(c.raw)
			if n == 0 {
				if err == nil {
					continue
				}
				c.mu.Lock()
				c.readFailed = err
				c.mu.Unlock()
				return 0, err
			}
			c.rpos, c.rend = 0, n
		}
		out := p[:0:len(p)]
		for c.rpos < c.rend && len(out) < len(p) {
			var tok token
			var ok bool
			var k int
			out, k, tok, ok = c.dec.decode(out, c.raw[c.rpos:c.rend])
			c.rpos += k
			if !ok {
				continue
			}
			if tok.kind == tokCommand && len(out) > 0 {
				// Keep the data before an in-band command apart from
				// what follows it, for a line editor: the command is
				// handled by the next Read.
				t := tok
				c.defered = &t
				break
			}
			if err := c.handle(tok); err != nil {
				return len(out), err
			}
			if mode == readCommand && tok.kind == tokCommand {
				return len(out), nil
			}
		}
		if len(out) > 0 || (mode == readSettled && !c.Pending()) {
			return len(out), nil
		}
	}
}

// handle acts on a token: answers negotiation, records sub-negotiations,
// reports commands.
func (c *Conn) handle(tok token) error {
	switch tok.kind {
	case tokNegotiate:
		return c.negotiate(tok.cmd, tok.opt)
	case tokSub:
		if tok.overflow {
			return nil
		}
		return c.subnegotiation(tok.opt, tok.data)
	case tokCommand:
		c.mu.Lock()
		hook := c.onCommand
		c.mu.Unlock()
		if tok.cmd == AYT && c.cfg.AYTReply != "" {
			if _, err := c.Write([]byte(c.cfg.AYTReply)); err != nil {
				return err
			}
		}
		if hook != nil {
			hook(tok.cmd)
		}
		c.emit(Event{Kind: EventCommand, Command: tok.cmd})
	}
	return nil
}

func (c *Conn) emit(ev Event) {
	if c.cfg.OnEvent != nil {
		c.cfg.OnEvent(c, ev)
	}
}

// negotiate applies a received WILL, WONT, DO or DONT by the Q method.
func (c *Conn) negotiate(verb byte, opt Option) error {
	c.mu.Lock()
	local := verb == DO || verb == DONT
	q := &c.him[opt]
	agree := c.remoteOK[opt]
	if local {
		q = &c.us[opt]
		agree = c.localOK[opt]
	}
	was := q.on()
	var s send
	if verb == WILL || verb == DO {
		s = q.receiveYes(agree)
	} else {
		s = q.receiveNo()
	}
	now := q.on()
	if !local && opt == OptionBinary {
		c.dec.binary = q.state == QYes || q.state == QWantNo
	}
	c.mu.Unlock()
	if err := c.sendVerb(s, local, opt); err != nil {
		return err
	}
	if was != now {
		return c.changed(opt, local, now)
	}
	return nil
}

// sendVerb sends the answer s of the Q method.
func (c *Conn) sendVerb(s send, local bool, opt Option) error {
	if s == sendNone {
		return nil
	}
	var verb byte
	switch {
	case local && s == sendYes:
		verb = WILL
	case local:
		verb = WONT
	case s == sendYes:
		verb = DO
	default:
		verb = DONT
	}
	return c.writeRaw([]byte{IAC, verb, byte(opt)})
}

// changed acts on an option turned on or off and reports it.
func (c *Conn) changed(opt Option, local, on bool) error {
	var err error
	if on {
		switch {
		case local && opt == OptionNAWS && !c.cfg.Server:
			c.mu.Lock()
			w, h := c.localW, c.localH
			c.mu.Unlock()
			if w == 0 && h == 0 && c.cfg.WindowSize != nil {
				w, h = c.cfg.WindowSize()
			}
			err = c.sendNAWS(w, h)
		case !local && (opt == OptionTerminalType || opt == OptionNewEnviron) && c.cfg.Server:
			c.mu.Lock()
			c.awaiting[opt] = true
			c.mu.Unlock()
			err = c.writeRaw([]byte{IAC, SB, byte(opt), subSEND, IAC, SE})
		}
	}
	if !on && !local {
		c.mu.Lock()
		c.awaiting[opt] = false
		c.mu.Unlock()
	}
	c.emit(Event{Kind: EventOption, Option: opt, Enabled: on, Local: local})
	return err
}

// subnegotiation acts on the parameters of a sub-negotiation.
func (c *Conn) subnegotiation(opt Option, data []byte) error {
	if len(data) == 0 {
		return nil
	}
	switch opt {
	case OptionTerminalType:
		if c.cfg.Server && data[0] == subIS && c.RemoteEnabled(opt) {
			tt := parseTerminalType(data[1:])
			c.mu.Lock()
			c.ttype = tt
			c.awaiting[opt] = false
			c.mu.Unlock()
			c.emit(Event{Kind: EventTerminalType, TerminalType: tt})
		}
		if !c.cfg.Server && data[0] == subSEND && c.LocalEnabled(opt) {
			return c.writeRaw(appendSB(nil, OptionTerminalType, append([]byte{subIS}, c.cfg.TerminalType...)))
		}
	case OptionNAWS:
		if c.cfg.Server && len(data) == 4 && c.RemoteEnabled(opt) {
			w := int(data[0])<<8 | int(data[1])
			h := int(data[2])<<8 | int(data[3])
			c.mu.Lock()
			c.width, c.height, c.haveSize = w, h, true
			c.mu.Unlock()
			c.emit(Event{Kind: EventWindowSize, Width: w, Height: h})
		}
	case OptionNewEnviron:
		if c.cfg.Server && (data[0] == subIS || data[0] == subINFO) && c.RemoteEnabled(opt) {
			vars := parseEnviron(data[1:])
			c.mu.Lock()
			if data[0] == subIS {
				c.env = vars
			} else {
				c.env = mergeEnviron(c.env, vars)
			}
			c.awaiting[opt] = false
			c.mu.Unlock()
			c.emit(Event{Kind: EventEnviron})
		}
	}
	return nil
}

// sendNAWS sends the window size (RFC 1073) if NAWS is on.
func (c *Conn) sendNAWS(w, h int) error {
	w, h = min(max(w, 0), 0xffff), min(max(h, 0), 0xffff)
	return c.writeRaw(appendSB(nil, OptionNAWS, []byte{byte(w >> 8), byte(w), byte(h >> 8), byte(h)}))
}

// SetWindowSize records the client's window size and, if NAWS is enabled
// on our side, sends it (RFC 1073): a client calls it when its terminal is
// resized (SIGWINCH). On a server it does nothing.
func (c *Conn) SetWindowSize(width, height int) error {
	if c.cfg.Server {
		return nil
	}
	c.mu.Lock()
	c.localW, c.localH = width, height
	on := c.us[OptionNAWS].on()
	c.mu.Unlock()
	if !on {
		return nil
	}
	return c.sendNAWS(width, height)
}

// appendSB appends IAC SB opt data IAC SE to dst, with IAC doubled in data.
func appendSB(dst []byte, opt Option, data []byte) []byte {
	dst = append(dst, IAC, SB, byte(opt))
	for _, b := range data {
		if b == IAC {
			dst = append(dst, IAC)
		}
		dst = append(dst, b)
	}
	return append(dst, IAC, SE)
}

// writeRaw sends octets of the protocol as they are.
func (c *Conn) writeRaw(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := c.nc.Write(b)
	return err
}

// SendCommand sends the command cmd (AYT, IP, BRK, ...) after IAC, as
// BSD telnet's "send" does.
func (c *Conn) SendCommand(cmd byte) error { return c.writeRaw([]byte{IAC, cmd}) }

// Write writes data. 0xFF is sent as IAC IAC. Unless our side is in BINARY
// mode, the newline rules of RFC 854 apply: "\n" not preceded by "\r" is
// sent as CR LF, and "\r" not followed by "\n" as CR NUL (a "\r" at the end
// of p waits for the first octet of the next Write to decide). It returns
// the number of octets of p whose encoding was written whole.
func (c *Conn) Write(p []byte) (int, error) {
	c.mu.Lock()
	binary := c.us[OptionBinary].on()
	c.mu.Unlock()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	const chunk = 16 << 10
	done := 0
	for done < len(p) || (done == 0 && len(p) == 0) {
		end := min(done+chunk, len(p))
		saved := c.enc
		c.wbuf = c.enc.encode(c.wbuf[:0], p[done:end], binary)
		n, err := c.nc.Write(c.wbuf)
		if err != nil {
			return done + consumed(saved, p[done:end], n, binary), err
		}
		done = end
		if len(p) == 0 {
			break
		}
	}
	return len(p), nil
}

// consumed returns how many octets of p, encoded from state e, fit whole
// in the first n octets of their encoding.
func consumed(e encoder, p []byte, n int, binary bool) int {
	var buf [4]byte
	total := 0
	for i := range p {
		total += len(e.encode(buf[:0], p[i:i+1], binary))
		if total > n {
			return i
		}
	}
	return len(p)
}

// Close closes the connection.
func (c *Conn) Close() error { return c.nc.Close() }

// LocalAddr returns the local network address.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// RemoteAddr returns the remote network address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// SetDeadline sets the read and write deadlines of the connection.
func (c *Conn) SetDeadline(t time.Time) error { return c.nc.SetDeadline(t) }

// SetReadDeadline sets the read deadline of the connection.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.nc.SetReadDeadline(t) }

// SetWriteDeadline sets the write deadline of the connection.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.nc.SetWriteDeadline(t) }

// EnableLocal asks to enable opt on our side: it sends WILL opt, unless a
// request is already under way (RFC 1143). The answer arrives through
// Read or Negotiate. It returns ErrOptionNotSupported for an option this
// package does not implement on this side, and ErrOptionAlreadyOn if opt is
// on or being turned on.
func (c *Conn) EnableLocal(opt Option) error { return c.request(opt, true, true) }

// DisableLocal asks to disable opt on our side: it sends WONT opt.
func (c *Conn) DisableLocal(opt Option) error { return c.request(opt, true, false) }

// EnableRemote asks the peer to enable opt on its side: it sends DO opt.
func (c *Conn) EnableRemote(opt Option) error { return c.request(opt, false, true) }

// DisableRemote asks the peer to disable opt on its side: it sends DONT
// opt.
func (c *Conn) DisableRemote(opt Option) error { return c.request(opt, false, false) }

func (c *Conn) request(opt Option, local, enable bool) error {
	supported := supportedRemote[c.cfg.Server]
	if local {
		supported = supportedLocal[c.cfg.Server]
	}
	if enable && !slices.Contains(supported, opt) {
		return ErrOptionNotSupported
	}
	c.mu.Lock()
	q := &c.him[opt]
	if local {
		q = &c.us[opt]
		// Asking for it means agreeing to it.
		c.localOK[opt] = c.localOK[opt] || enable
	} else {
		c.remoteOK[opt] = c.remoteOK[opt] || enable
	}
	was := q.on()
	var s send
	var err error
	if enable {
		s, err = q.enable()
	} else {
		s, err = q.disable()
	}
	now := q.on()
	c.mu.Unlock()
	if err != nil {
		return err
	}
	if err := c.sendVerb(s, local, opt); err != nil {
		return err
	}
	if was != now {
		c.emit(Event{Kind: EventOption, Option: opt, Enabled: now, Local: local})
	}
	return nil
}

// LocalState returns the state of opt on our side.
func (c *Conn) LocalState(opt Option) QState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.us[opt].state
}

// RemoteState returns the state of opt on the peer's side.
func (c *Conn) RemoteState(opt Option) QState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.him[opt].state
}

// LocalEnabled reports whether opt is enabled on our side.
func (c *Conn) LocalEnabled(opt Option) bool { return c.LocalState(opt) == QYes }

// RemoteEnabled reports whether opt is enabled on the peer's side.
func (c *Conn) RemoteEnabled(opt Option) bool { return c.RemoteState(opt) == QYes }

// Pending reports whether an answer to one of our requests is awaited:
// to a WILL, WONT, DO or DONT, or to a TERMINAL-TYPE or NEW-ENVIRON SEND.
func (c *Conn) Pending() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.us {
		if c.us[i].pending() || c.him[i].pending() || c.awaiting[i] {
			return true
		}
	}
	return false
}

// WindowSize returns the peer's window size (NAWS, RFC 1073) and whether
// it sent one. A size of 0 means that dimension is unknown.
func (c *Conn) WindowSize() (width, height int, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.width, c.height, c.haveSize
}

// TerminalType returns the peer's terminal type (RFC 1091), or "".
func (c *Conn) TerminalType() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ttype
}

// Environ returns a copy of the environment variables the peer sent
// (NEW-ENVIRON, RFC 1572). They are what the client says and nothing
// more: this package never acts on them, and a program must not pass them
// to a login or a shell.
func (c *Conn) Environ() []EnvVar {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.env)
}

// Negotiate sends the offers (WILL) and requests (DO) of the Config the
// first time it is called, then reads until every request has been
// answered, or until ctx is done, when it returns ctx.Err(). Data read
// meanwhile is kept for Read. A peer that never answers (a raw TCP client)
// leaves the requests pending: bound ctx.
func (c *Conn) Negotiate(ctx context.Context) error {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if !c.offered {
		c.offered = true
		for _, o := range c.cfg.Offer {
			if err := c.request(o, true, true); err != nil && !errors.Is(err, ErrOptionAlreadyOn) && !errors.Is(err, ErrOptionNotSupported) {
				return err
			}
		}
		for _, o := range c.cfg.Request {
			if err := c.request(o, false, true); err != nil && !errors.Is(err, ErrOptionAlreadyOn) && !errors.Is(err, ErrOptionNotSupported) {
				return err
			}
		}
	}
	if !c.Pending() {
		return nil
	}
	if d, ok := ctx.Deadline(); ok {
		c.nc.SetReadDeadline(d)
	}
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		c.nc.SetReadDeadline(time.Unix(1, 0))
		close(fired)
	})
	defer func() {
		if !stop() {
			<-fired
		}
		c.nc.SetReadDeadline(time.Time{})
	}()
	held := c.pending
	c.pending = nil
	var got []byte
	defer func() { c.pending = append(held, got...) }()
	buf := make([]byte, 512)
	for c.Pending() {
		n, err := c.read(buf, readSettled)
		got = append(got, buf[:n]...)
		if len(held)+len(got) > maxNegotiationData {
			return errors.New("telnet: too much data during negotiation")
		}
		if err != nil {
			d, ok := ctx.Deadline()
			if errors.Is(err, os.ErrDeadlineExceeded) && (ctx.Err() != nil || ok && !time.Now().Before(d)) {
				// Our own deadline, not the session's end.
				c.mu.Lock()
				c.readFailed = nil
				c.mu.Unlock()
				if ctx.Err() == nil {
					return context.DeadlineExceeded
				}
				return ctx.Err()
			}
			return err
		}
	}
	return nil
}

// maxNegotiationData caps the data Negotiate keeps for Read.
const maxNegotiationData = 64 << 10

// Buffered returns the data read and not yet returned by Read.
func (c *Conn) Buffered() []byte {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	return slices.Clone(c.pending)
}
