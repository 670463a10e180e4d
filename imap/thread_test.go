package imap

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// tmsg describes a message for the thread tests: its header, as the
// message's sort data is computed from it.
type tmsg struct {
	id, refs, inReplyTo, subject string
	date                         int // minutes after a fixed time; 0 for no Date
}

// threadItems returns the sort items of msgs, with UIDs and sequence
// numbers 1, 2, ... and internal dates after all sent dates.
func threadItems(msgs []tmsg) []sortItem {
	base := time.Date(2008, 2, 22, 0, 0, 0, 0, time.UTC)
	items := make([]sortItem, len(msgs))
	for i, m := range msgs {
		var h strings.Builder
		if m.id != "" {
			fmt.Fprintf(&h, "Message-ID: <%s>\r\n", m.id)
		}
		if m.refs != "" {
			fmt.Fprintf(&h, "References: %s\r\n", m.refs)
		}
		if m.inReplyTo != "" {
			fmt.Fprintf(&h, "In-Reply-To: %s\r\n", m.inReplyTo)
		}
		if m.subject != "" {
			fmt.Fprintf(&h, "Subject: %s\r\n", m.subject)
		}
		if m.date != 0 {
			fmt.Fprintf(&h, "Date: %s\r\n", base.Add(time.Duration(m.date)*time.Minute).Format(time.RFC1123Z))
		}
		sd := NewSortData(uint32(i+1), []byte(h.String()+"\r\n"))
		st := &MessageState{UID: uint32(i + 1), InternalDate: base.Add(time.Duration(1000+i) * time.Minute)}
		items[i] = sortItem{ix: i, m: st, sd: &sd, date: st.InternalDate.Unix()}
		if !sd.Date.IsZero() {
			items[i].date = sd.Date.Unix()
		}
	}
	return items
}

func seqNum(it *sortItem) uint32 { return uint32(it.ix + 1) }

func TestThreadReferences(t *testing.T) {
	tests := []struct {
		name string
		msgs []tmsg
		want string
	}{
		{"chain", []tmsg{
			{id: "a@x", date: 1},
			{id: "b@x", refs: "<a@x>", date: 2},
			{id: "c@x", refs: "<a@x> <b@x>", date: 3},
		}, "(1 2 3)"},
		{"siblings by date", []tmsg{
			{id: "a@x", date: 1},
			{id: "b@x", refs: "<a@x>", date: 5},
			{id: "c@x", inReplyTo: "<a@x>", date: 3},
		}, "(1 (3)(2))"},
		{"dummy parent with two children", []tmsg{
			{id: "b@x", refs: "<gone@x>", date: 2},
			{id: "c@x", refs: "<gone@x>", date: 1},
		}, "((2)(1))"},
		{"dummy parent with one child", []tmsg{
			{id: "b@x", refs: "<gone@x>", date: 2},
		}, "(1)"},
		{"dummy in the middle", []tmsg{
			{id: "a@x", date: 1},
			{id: "c@x", refs: "<a@x> <gone@x>", date: 2},
			{id: "d@x", refs: "<a@x> <gone@x>", date: 3},
		}, "(1 (2)(3))"},
		{"roots by date", []tmsg{
			{id: "a@x", subject: "one", date: 9},
			{id: "b@x", subject: "two", date: 1},
			{subject: "three"},
		}, "(2)(1)(3)"},
		{"same subject, no reply", []tmsg{
			{id: "a@x", subject: "hello", date: 1},
			{id: "b@x", subject: "hello", date: 2},
		}, "((1)(2))"},
		{"reply joins by subject", []tmsg{
			{id: "a@x", subject: "Re: hello", date: 1},
			{id: "b@x", subject: "hello", date: 2},
			{id: "c@x", subject: "re: HELLO", date: 3},
		}, "(2 (1)(3))"},
		{"empty subjects are not gathered", []tmsg{
			{id: "a@x", date: 1},
			{id: "b@x", date: 2},
		}, "(1)(2)"},
		{"loop", []tmsg{
			{id: "a@x", refs: "<b@x>", date: 1},
			{id: "b@x", refs: "<a@x>", date: 2},
		}, "(2 1)"}, // the first link stays; the one that would loop is dropped
		{"self reference", []tmsg{
			{id: "a@x", refs: "<a@x>", date: 1},
		}, "(1)"},
		{"duplicate message id", []tmsg{
			{id: "a@x", subject: "x", date: 1},
			{id: "a@x", subject: "y", date: 2},
			{id: "b@x", refs: "<a@x>", subject: "z", date: 3},
		}, "(1 3)(2)"},
		{"later message moves a child", []tmsg{
			{id: "c@x", refs: "<a@x>", date: 3},
			{id: "a@x", date: 1},
			{id: "b@x", date: 2},
			{id: "d@x", refs: "<b@x> <c@x>", date: 4},
		}, "(2 1 4)(3)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := threadReferences(threadItems(tc.msgs)).write(seqNum)
			if got != tc.want {
				t.Errorf("THREAD REFERENCES = %s; want %s", got, tc.want)
			}
		})
	}
}

func TestThreadOrderedSubject(t *testing.T) {
	msgs := []tmsg{
		{subject: "b", date: 5},
		{subject: "Re: a", date: 3},
		{subject: "a", date: 4},
		{subject: "B", date: 1},
		{subject: "a", date: 2},
		{subject: "c", date: 6},
		{subject: "Fwd: c", date: 7},
	}
	got := orderedSubject(threadItems(msgs), seqNum)
	if want := "(4 1)(5 (2)(3))(6 7)"; got != want {
		t.Errorf("THREAD ORDEREDSUBJECT = %s; want %s", got, want)
	}
}

// BenchmarkThreadReferences threads 10,000 messages in chains of ten.
func BenchmarkThreadReferences(b *testing.B) {
	var msgs []tmsg
	for i := range 10000 {
		m := tmsg{id: fmt.Sprintf("%d@x", i), subject: fmt.Sprintf("thread %d", i/10), date: i}
		if i%10 != 0 {
			m.refs = fmt.Sprintf("<%d@x> <%d@x>", i-i%10, i-1)
			m.subject = "Re: " + m.subject
		}
		msgs = append(msgs, m)
	}
	items := threadItems(msgs)
	b.ResetTimer()
	for b.Loop() {
		threadReferences(items).write(seqNum)
	}
}
