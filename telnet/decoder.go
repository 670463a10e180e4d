package telnet

// The states of a decoder: what the octets seen so far leave it waiting for.
const (
	stData  = iota // data
	stCR           // data, after a CR outside BINARY: a NUL is dropped
	stIAC          // a command octet after IAC
	stVerb         // the option of WILL, WONT, DO or DONT
	stSBOpt        // the option of SB
	stSB           // sub-negotiation parameters
	stSBIAC        // after IAC inside a sub-negotiation
)

// A tokenKind is what a decoder found besides data.
type tokenKind int

const (
	tokCommand   tokenKind = iota + 1 // a command: NOP, DM, BRK, IP, AO, AYT, EC, EL, GA
	tokNegotiate                      // WILL, WONT, DO or DONT and an option
	tokSub                            // a whole sub-negotiation
)

// A token is a command, a negotiation or a sub-negotiation. Data holds the
// parameters of a sub-negotiation, with IAC IAC undone; it is valid until
// the next call of decode. Overflow reports that they were longer than
// MaxSubnegotiationBytes and were discarded.
type token struct {
	kind     tokenKind
	cmd      byte // the command, or the verb of a negotiation
	opt      Option
	data     []byte
	overflow bool
}

// A decoder is the receiving half of the network virtual terminal
// (RFC 854): a state machine that takes the octets of the connection in
// pieces of any size, split anywhere, and separates the data from the
// commands. Its memory is bounded: a sub-negotiation keeps at most
// MaxSubnegotiationBytes.
type decoder struct {
	state    int
	binary   bool // the peer sends in BINARY mode: CR NUL is not undone
	sbOpt    Option
	sb       []byte
	overflow bool
}

// decode appends the data of src to dst, up to cap(dst), until it finds a
// token, which it returns with ok set. It returns dst and the number of
// octets of src consumed; the caller calls it again with the rest.
func (d *decoder) decode(dst, src []byte) (out []byte, n int, tok token, ok bool) {
	for n < len(src) {
		b := src[n]
		switch d.state {
		case stData, stCR:
			if d.state == stCR {
				d.state = stData
				if b == 0 && !d.binary {
					n++
					continue
				}
			}
			if b == IAC {
				d.state = stIAC
				n++
				continue
			}
			if len(dst) == cap(dst) {
				return dst, n, token{}, false
			}
			dst = append(dst, b)
			n++
			if b == '\r' && !d.binary {
				d.state = stCR
			}
		case stIAC:
			n++
			switch b {
			case IAC:
				if len(dst) == cap(dst) {
					// Leave the IAC IAC for the next call.
					n--
					return dst, n, token{}, false
				}
				dst = append(dst, IAC)
				d.state = stData
			case WILL, WONT, DO, DONT:
				d.state = stVerb
				d.sbOpt = Option(b) // the verb, until the option arrives
			case SB:
				d.state = stSBOpt
			default:
				d.state = stData
				return dst, n, token{kind: tokCommand, cmd: b}, true
			}
		case stVerb:
			n++
			d.state = stData
			return dst, n, token{kind: tokNegotiate, cmd: byte(d.sbOpt), opt: Option(b)}, true
		case stSBOpt:
			n++
			d.sbOpt = Option(b)
			d.sb = d.sb[:0]
			d.overflow = false
			d.state = stSB
		case stSB:
			if b == IAC {
				n++
				d.state = stSBIAC
				continue
			}
			// Take the run of parameters up to the next IAC at once.
			end := n
			for end < len(src) && src[end] != IAC {
				end++
			}
			d.appendSB(src[n:end])
			n = end
		case stSBIAC:
			n++
			switch b {
			case SE:
				d.state = stData
				return dst, n, token{kind: tokSub, opt: d.sbOpt, data: d.sb, overflow: d.overflow}, true
			case IAC:
				d.appendSB([]byte{IAC})
				d.state = stSB
			default:
				// A command inside a sub-negotiation: the sub-negotiation
				// was not terminated (RFC 855 requires IAC SE); it is
				// dropped and the command taken as it is.
				d.sb = d.sb[:0]
				d.state = stIAC
				n--
			}
		}
	}
	return dst, n, token{}, false
}

// appendSB adds parameters to the sub-negotiation, up to the cap.
func (d *decoder) appendSB(p []byte) {
	if d.overflow {
		return
	}
	if len(d.sb)+len(p) > MaxSubnegotiationBytes {
		d.overflow = true
		d.sb = d.sb[:0]
		return
	}
	if need := len(d.sb) + len(p); need > cap(d.sb) {
		// Grow by doubling from 64, never past the cap (append's own
		// growth could pass it).
		nb := make([]byte, len(d.sb), min(max(2*cap(d.sb), 64, need), MaxSubnegotiationBytes))
		copy(nb, d.sb)
		d.sb = nb
	}
	d.sb = append(d.sb, p...)
}

// encoder is the sending half: it doubles IAC and, outside BINARY mode,
// applies the newline rules of RFC 854 (LF alone becomes CR LF, CR alone
// becomes CR NUL). A CR at the end of one Write decides its follower with
// the next Write's first octet.
type encoder struct {
	crPending bool // the last octet written was a CR outside BINARY
}

// encode appends the wire form of p to dst. binary is the state of our
// BINARY option.
func (e *encoder) encode(dst, p []byte, binary bool) []byte {
	for _, b := range p {
		if e.crPending {
			e.crPending = false
			if b == '\n' {
				dst = append(dst, '\n')
				continue
			}
			dst = append(dst, 0)
		}
		switch {
		case b == IAC:
			dst = append(dst, IAC, IAC)
		case binary:
			dst = append(dst, b)
		case b == '\r':
			dst = append(dst, '\r')
			e.crPending = true
		case b == '\n':
			dst = append(dst, '\r', '\n')
		default:
			dst = append(dst, b)
		}
	}
	return dst
}
