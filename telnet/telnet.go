// Package telnet implements the Telnet protocol (RFC 854) with option
// negotiation (RFC 855) by the Q method of RFC 1143, the options BINARY
// (RFC 856), ECHO (RFC 857), SUPPRESS-GO-AHEAD (RFC 858), TERMINAL-TYPE
// (RFC 1091), NAWS (RFC 1073) and NEW-ENVIRON (RFC 1572, read only), and a
// server framework with a line editor for the consoles served over it.
//
// A [Conn] is one end of a Telnet connection, client or server. It
// implements net.Conn over the data stream: Read returns the data the peer
// sent, with commands and negotiation taken out and answered, and Write
// sends data with the 0xFF octet doubled and, outside BINARY mode, the
// newline rules of the network virtual terminal applied (see [Conn.Write]).
// The options either side has enabled, the window size and the terminal
// type are reported by [Conn] methods and, as they change, to
// [Config.OnEvent].
//
// [Server] serves Telnet with a [Handler] on package sockserver's accept
// loop, with its connection limits, timeouts and graceful shutdown.
// [LineReader] reads lines from a client, editing them on the server with
// echo (backspace, Ctrl-U, Ctrl-W, arrows, history) when the client lets
// the server echo, and reading the client's own edited lines when it does
// not. [Dial] opens a client connection negotiated as BSD telnet does, and
// [Expect] and [Script] drive one from a program, as Python's telnetlib
// read_until and expect did. Package telnettest runs a Server in process
// for tests.
//
// # Newlines
//
// In the network virtual terminal (RFC 854) a newline is CR LF and a
// carriage return alone is CR NUL. Outside BINARY mode, Read turns CR NUL
// into CR and passes CR LF through, so that a line ends in "\r\n", or in a
// bare "\r" from a client that sends one; Write turns a LF not preceded by
// CR into CR LF and a CR not followed by LF into CR NUL. In BINARY mode
// (RFC 856) data passes unchanged, except that IAC (0xFF) is doubled on the
// wire. [LineReader] takes CR LF, CR NUL, a bare CR and a bare LF each as
// one end of line.
//
// # Safety
//
// Sub-negotiations are capped at [MaxSubnegotiationBytes]: a longer one is
// discarded without the buffer growing. Options the package does not
// implement are refused, once per request, and LINEMODE (RFC 1184) is
// always refused. NEW-ENVIRON variables are parsed and reported, never
// acted on: in particular nothing here passes USER to a login program.
package telnet

import "strconv"

// Telnet commands (RFC 854), each sent after IAC.
const (
	SE   byte = 240 // end of sub-negotiation parameters
	NOP  byte = 241 // no operation
	DM   byte = 242 // data mark: the data stream part of a Synch
	BRK  byte = 243 // break
	IP   byte = 244 // interrupt process
	AO   byte = 245 // abort output
	AYT  byte = 246 // are you there
	EC   byte = 247 // erase character
	EL   byte = 248 // erase line
	GA   byte = 249 // go ahead
	SB   byte = 250 // start of sub-negotiation
	WILL byte = 251
	WONT byte = 252
	DO   byte = 253
	DONT byte = 254
	IAC  byte = 255 // interpret as command
)

// An Option is a Telnet option code (RFC 855).
type Option byte

// Options this package knows by name. LINEMODE is always refused.
const (
	OptionBinary        Option = 0  // RFC 856
	OptionEcho          Option = 1  // RFC 857
	OptionSGA           Option = 3  // SUPPRESS-GO-AHEAD, RFC 858
	OptionStatus        Option = 5  // RFC 859 (refused)
	OptionTimingMark    Option = 6  // RFC 860 (refused)
	OptionTerminalType  Option = 24 // RFC 1091
	OptionNAWS          Option = 31 // negotiate about window size, RFC 1073
	OptionTerminalSpeed Option = 32 // RFC 1079 (refused)
	OptionFlowControl   Option = 33 // RFC 1372 (refused)
	OptionLinemode      Option = 34 // RFC 1184 (always refused)
	OptionXDisplay      Option = 35 // RFC 1096 (refused)
	OptionEnviron       Option = 36 // RFC 1408 (refused)
	OptionAuthenticate  Option = 37 // RFC 2941 (refused)
	OptionEncrypt       Option = 38 // RFC 2946 (refused)
	OptionNewEnviron    Option = 39 // RFC 1572
)

var optionNames = map[Option]string{
	OptionBinary:        "BINARY",
	OptionEcho:          "ECHO",
	OptionSGA:           "SUPPRESS-GO-AHEAD",
	OptionStatus:        "STATUS",
	OptionTimingMark:    "TIMING-MARK",
	OptionTerminalType:  "TERMINAL-TYPE",
	OptionNAWS:          "NAWS",
	OptionTerminalSpeed: "TERMINAL-SPEED",
	OptionFlowControl:   "TOGGLE-FLOW-CONTROL",
	OptionLinemode:      "LINEMODE",
	OptionXDisplay:      "X-DISPLAY-LOCATION",
	OptionEnviron:       "ENVIRON",
	OptionAuthenticate:  "AUTHENTICATION",
	OptionEncrypt:       "ENCRYPT",
	OptionNewEnviron:    "NEW-ENVIRON",
}

// String returns the option's name from its RFC, or its number.
func (o Option) String() string {
	if s, ok := optionNames[o]; ok {
		return s
	}
	return strconv.Itoa(int(o))
}

// CommandName returns the name of a Telnet command octet ("WILL", "AYT"),
// or its number.
func CommandName(cmd byte) string {
	names := [...]string{"SE", "NOP", "DM", "BRK", "IP", "AO", "AYT", "EC", "EL", "GA", "SB", "WILL", "WONT", "DO", "DONT", "IAC"}
	if cmd >= SE {
		return names[cmd-SE]
	}
	return strconv.Itoa(int(cmd))
}

// MaxSubnegotiationBytes caps the parameters of one sub-negotiation: a
// longer one is read to its end and discarded, without the buffer growing.
const MaxSubnegotiationBytes = 1024

// Sub-negotiation codes of TERMINAL-TYPE (RFC 1091) and NEW-ENVIRON
// (RFC 1572).
const (
	subIS   byte = 0
	subSEND byte = 1
	subINFO byte = 2

	envVAR     byte = 0
	envVALUE   byte = 1
	envESC     byte = 2
	envUSERVAR byte = 3
)
