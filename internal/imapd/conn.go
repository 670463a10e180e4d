package imapd

import (
	"context"

	"github.com/inetkit/inetkit/internal/imapwire"
	"github.com/inetkit/inetkit/lineproto"
)

// A state is a connection state (RFC 9051 §3), as a bit so that a command
// can name the states it is valid in.
type state uint8

const (
	stateNotAuth state = 1 << iota
	stateAuth
	stateSelected
	stateLogout

	stateAny      = stateNotAuth | stateAuth | stateSelected
	stateLoggedIn = stateAuth | stateSelected
)

// A handler runs one command. It is called after the command's name has
// been read: it reads the arguments with c.dec (ending with c.dec.End or a
// ReadX method that reads the end), runs the command, writes its untagged
// responses and its tagged response (c.ok), and returns nil. It returns an
// error instead of writing a tagged response: a *imapwire.CommandError from
// the decoder (answered as it says, and the rest of the command
// discarded), an *Error (answered with a tagged NO or BAD), or another
// error (logged, and the connection closed unless it is a backend's error,
// answered with "NO [SERVERBUG]").
type handler func(c *conn, tag string) error

type command struct {
	states state // the states the command is valid in
	run    handler
}

// commands are the commands the server knows, by name as
// imapwire.Decoder.ReadCommand returns it ("UID FETCH"). Each file
// registers its own in an init function.
var commands = map[string]command{}

func register(name string, states state, run handler) {
	if _, dup := commands[name]; dup {
		panic("imapd: command registered twice: " + name)
	}
	commands[name] = command{states, run}
}

// conn is the server side of one connection.
type conn struct {
	srv *Server
	ctx context.Context
	lc  *lineproto.Conn
	dec *imapwire.Decoder
	enc *imapwire.Encoder

	state    state
	cmd      string          // the name of the command being run
	username string          // once logged in
	user     User            // once logged in
	enabled  map[string]bool // ENABLEd extensions (RFC 5161), upper case: CONDSTORE, QRESYNC, UTF8=ACCEPT, IMAP4REV2
	sel      *selected       // the selected mailbox, nil unless state is stateSelected
}
