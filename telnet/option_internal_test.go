package telnet

import "testing"

// TestQMethod covers every transition of RFC 1143 §7, for each state and
// queue bit, on a received positive and negative verb and on each local
// request. The same machine serves both sides (us: DO/DONT received,
// WILL/WONT sent; him: WILL/WONT received, DO/DONT sent).
func TestQMethod(t *testing.T) {
	type st struct {
		s   QState
		opp bool
	}
	type result struct {
		to   st
		send send
		err  error
	}
	states := []st{{QNo, false}, {QYes, false}, {QWantNo, false}, {QWantNo, true}, {QWantYes, false}, {QWantYes, true}}
	tests := []struct {
		name string
		op   func(q *qopt) (send, error)
		want map[st]result
	}{
		{"receive yes, agree", func(q *qopt) (send, error) { return q.receiveYes(true), nil }, map[st]result{
			{QNo, false}:      {st{QYes, false}, sendYes, nil},
			{QYes, false}:     {st{QYes, false}, sendNone, nil},
			{QWantNo, false}:  {st{QNo, false}, sendNone, nil},
			{QWantNo, true}:   {st{QYes, false}, sendNone, nil},
			{QWantYes, false}: {st{QYes, false}, sendNone, nil},
			{QWantYes, true}:  {st{QWantNo, false}, sendNo, nil},
		}},
		{"receive yes, refuse", func(q *qopt) (send, error) { return q.receiveYes(false), nil }, map[st]result{
			{QNo, false}:      {st{QNo, false}, sendNo, nil},
			{QYes, false}:     {st{QYes, false}, sendNone, nil},
			{QWantNo, false}:  {st{QNo, false}, sendNone, nil},
			{QWantNo, true}:   {st{QYes, false}, sendNone, nil},
			{QWantYes, false}: {st{QYes, false}, sendNone, nil},
			{QWantYes, true}:  {st{QWantNo, false}, sendNo, nil},
		}},
		{"receive no", func(q *qopt) (send, error) { return q.receiveNo(), nil }, map[st]result{
			{QNo, false}:      {st{QNo, false}, sendNone, nil},
			{QYes, false}:     {st{QNo, false}, sendNo, nil},
			{QWantNo, false}:  {st{QNo, false}, sendNone, nil},
			{QWantNo, true}:   {st{QWantYes, false}, sendYes, nil},
			{QWantYes, false}: {st{QNo, false}, sendNone, nil},
			{QWantYes, true}:  {st{QNo, false}, sendNone, nil},
		}},
		{"enable", (*qopt).enable, map[st]result{
			{QNo, false}:      {st{QWantYes, false}, sendYes, nil},
			{QYes, false}:     {st{QYes, false}, sendNone, ErrOptionAlreadyOn},
			{QWantNo, false}:  {st{QWantNo, true}, sendNone, nil},
			{QWantNo, true}:   {st{QWantNo, true}, sendNone, ErrOptionAlreadyOn},
			{QWantYes, false}: {st{QWantYes, false}, sendNone, ErrOptionAlreadyOn},
			{QWantYes, true}:  {st{QWantYes, false}, sendNone, nil},
		}},
		{"disable", (*qopt).disable, map[st]result{
			{QNo, false}:      {st{QNo, false}, sendNone, ErrOptionAlreadyOff},
			{QYes, false}:     {st{QWantNo, false}, sendNo, nil},
			{QWantNo, false}:  {st{QWantNo, false}, sendNone, ErrOptionAlreadyOff},
			{QWantNo, true}:   {st{QWantNo, false}, sendNone, nil},
			{QWantYes, false}: {st{QWantYes, true}, sendNone, nil},
			{QWantYes, true}:  {st{QWantYes, true}, sendNone, ErrOptionAlreadyOff},
		}},
	}
	for _, tc := range tests {
		for _, from := range states {
			want, ok := tc.want[from]
			if !ok {
				t.Fatalf("%s: no row for %v", tc.name, from)
			}
			q := qopt{state: from.s, opposite: from.opp}
			s, err := tc.op(&q)
			got := result{st{q.state, q.opposite}, s, err}
			if got != want {
				t.Errorf("%s from %v/%v: got %v/%v send %d err %v; want %v/%v send %d err %v",
					tc.name, from.s, from.opp, got.to.s, got.to.opp, got.send, got.err, want.to.s, want.to.opp, want.send, want.err)
			}
		}
	}
}
