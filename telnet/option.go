package telnet

import "errors"

// A QState is the state of one side of one option in the Q method of
// RFC 1143: whether the option is off (QNo) or on (QYes), or a request to
// turn it on (QWantYes) or off (QWantNo) awaits its answer.
type QState int

// The states of the Q method (RFC 1143 §7).
const (
	QNo QState = iota
	QYes
	QWantNo
	QWantYes
)

// String returns the state's name in RFC 1143: "NO", "WANTYES".
func (s QState) String() string {
	switch s {
	case QNo:
		return "NO"
	case QYes:
		return "YES"
	case QWantNo:
		return "WANTNO"
	case QWantYes:
		return "WANTYES"
	}
	return "QState(?)"
}

// Errors of a request to change an option (RFC 1143 §7 names each).
var (
	// ErrOptionAlreadyOn is returned by a request to enable an option that
	// is enabled or being enabled.
	ErrOptionAlreadyOn = errors.New("telnet: option already enabled or being enabled")
	// ErrOptionAlreadyOff is returned by a request to disable an option that
	// is disabled or being disabled.
	ErrOptionAlreadyOff = errors.New("telnet: option already disabled or being disabled")
	// ErrOptionNotSupported is returned by a request to enable an option
	// this package does not implement on that side.
	ErrOptionNotSupported = errors.New("telnet: option not supported")
)

// A send is what the Q method answers: nothing, the positive verb (WILL
// for our side, DO for his) or the negative one (WONT, DONT).
type send int

const (
	sendNone send = iota
	sendYes
	sendNo
)

// A qopt is one side of one option: its state and the queue bit
// (RFC 1143 §7: EMPTY or OPPOSITE).
type qopt struct {
	state    QState
	opposite bool
}

// receiveYes applies a received WILL (his side) or DO (our side); agree
// says whether we accept the option on. It returns what to send.
func (q *qopt) receiveYes(agree bool) send {
	switch q.state {
	case QNo:
		if agree {
			q.state = QYes
			return sendYes
		}
		return sendNo
	case QYes:
		return sendNone
	case QWantNo:
		if q.opposite {
			// Our DONT was answered WILL while we had changed our mind
			// back: the option is on, as we now want.
			q.state, q.opposite = QYes, false
			return sendNone
		}
		// An error of the peer: a DONT answered by WILL (RFC 1143 §7).
		q.state = QNo
		return sendNone
	case QWantYes:
		if q.opposite {
			q.state, q.opposite = QWantNo, false
			return sendNo
		}
		q.state = QYes
		return sendNone
	}
	return sendNone
}

// receiveNo applies a received WONT (his side) or DONT (our side).
func (q *qopt) receiveNo() send {
	switch q.state {
	case QNo:
		return sendNone
	case QYes:
		q.state = QNo
		return sendNo
	case QWantNo:
		if q.opposite {
			q.state, q.opposite = QWantYes, false
			return sendYes
		}
		q.state = QNo
		return sendNone
	case QWantYes:
		q.state, q.opposite = QNo, false
		return sendNone
	}
	return sendNone
}

// enable applies our request to turn the option on.
func (q *qopt) enable() (send, error) {
	switch q.state {
	case QNo:
		q.state = QWantYes
		return sendYes, nil
	case QYes:
		return sendNone, ErrOptionAlreadyOn
	case QWantNo:
		if q.opposite {
			return sendNone, ErrOptionAlreadyOn
		}
		q.opposite = true
		return sendNone, nil
	case QWantYes:
		if q.opposite {
			q.opposite = false
			return sendNone, nil
		}
		return sendNone, ErrOptionAlreadyOn
	}
	return sendNone, nil
}

// disable applies our request to turn the option off.
func (q *qopt) disable() (send, error) {
	switch q.state {
	case QNo:
		return sendNone, ErrOptionAlreadyOff
	case QYes:
		q.state = QWantNo
		return sendNo, nil
	case QWantNo:
		if q.opposite {
			q.opposite = false
			return sendNone, nil
		}
		return sendNone, ErrOptionAlreadyOff
	case QWantYes:
		if q.opposite {
			return sendNone, ErrOptionAlreadyOff
		}
		q.opposite = true
		return sendNone, nil
	}
	return sendNone, nil
}

// on reports whether the option is enabled.
func (q *qopt) on() bool { return q.state == QYes }

// pending reports whether an answer is awaited.
func (q *qopt) pending() bool { return q.state == QWantNo || q.state == QWantYes }
