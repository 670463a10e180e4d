package store

import (
	"context"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
)

// imapSelected is the state of a selected mailbox.
type imapSelected struct {
	id          int64
	name        string
	uidValidity uint32
	readOnly    bool
	tracker     *mailboxTracker
	st          *imapserver.SessionTracker
	release     func()
	searchRes   imap.UIDSet // SEARCH RETURN (SAVE), used as "$"
}

func (sel *imapSelected) close() {
	sel.st.Close()
	sel.release()
}

// msgRef is a message of the selected mailbox as a command sees it.
type msgRef struct {
	id   int64
	uid  imap.UID
	seq  uint32 // in the database (and the MailboxTracker) now
	cseq uint32 // as the session's client knows it; 0 if not yet announced
}

// loadRefs returns the messages of a mailbox in UID order, seq set.
func loadRefs(ctx context.Context, q querier, mbox int64) ([]msgRef, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, uid FROM messages WHERE mailbox_id = ? ORDER BY uid`, mbox)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var refs []msgRef
	for rows.Next() {
		var r msgRef
		if err := rows.Scan(&r.id, &r.uid); err != nil {
			return nil, err
		}
		refs = append(refs, r)
		refs[len(refs)-1].seq = uint32(len(refs))
	}
	return refs, rows.Err()
}

// view returns the messages of the selected mailbox with the sequence
// numbers the client knows them by. The caller holds the store's write
// lock, so that the database and the tracker agree.
func (sess *imapSession) view(ctx context.Context, q querier) ([]msgRef, error) {
	sel := sess.sel
	var validity uint32
	err := q.QueryRowContext(ctx, `SELECT uid_validity FROM mailboxes WHERE id = ?`, sel.id).Scan(&validity)
	if err != nil || validity != sel.uidValidity {
		// deleted under us: nothing left to see
		return nil, nil
	}
	refs, err := loadRefs(ctx, q, sel.id)
	if err != nil {
		return nil, err
	}
	for i := range refs {
		refs[i].cseq = sel.st.EncodeSeqNum(refs[i].seq)
	}
	return refs, nil
}

// snapshot runs f under the store's write lock without a transaction: the
// tracker then agrees with what f reads.
func (s *Store) snapshot(f func() error) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return f()
}

// targets returns the messages of refs in numSet, as the client numbers
// them. Messages the client has not been told about yet are left out.
func (sess *imapSession) targets(refs []msgRef, numSet imap.NumSet) []msgRef {
	if imap.IsSearchRes(numSet) {
		numSet = sess.sel.searchRes
	}
	var out []msgRef
	switch set := numSet.(type) {
	case imap.SeqSet:
		var max uint32
		for i := len(refs) - 1; i >= 0; i-- {
			if refs[i].cseq != 0 {
				max = refs[i].cseq
				break
			}
		}
		ranges := make([][2]uint32, len(set))
		for i, r := range set {
			ranges[i] = [2]uint32{r.Start, r.Stop}
		}
		static := staticSet(ranges, max)
		for _, r := range refs {
			if r.cseq != 0 && static.Contains(r.cseq) {
				out = append(out, r)
			}
		}
	case imap.UIDSet:
		if len(refs) == 0 {
			return nil
		}
		ranges := make([][2]uint32, len(set))
		for i, r := range set {
			ranges[i] = [2]uint32{uint32(r.Start), uint32(r.Stop)}
		}
		static := staticSet(ranges, uint32(refs[len(refs)-1].uid))
		for _, r := range refs {
			if r.cseq != 0 && static.Contains(uint32(r.uid)) {
				out = append(out, r)
			}
		}
	}
	return out
}

// staticSet replaces "*" (0) by max, the largest number in use (RFC 9051
// §9, seq-number), and merges the ranges, so that a set of many
// overlapping ranges costs no more than one.
func staticSet(ranges [][2]uint32, max uint32) imap.SeqSet {
	var out imap.SeqSet
	for _, r := range ranges {
		start, stop := r[0], r[1]
		if start == 0 {
			start = max
		}
		if stop == 0 {
			stop = max
		}
		if start > stop {
			start, stop = stop, start
		}
		if start == 0 {
			if stop == 0 {
				continue
			}
			start = 1
		}
		out.AddRange(start, stop)
	}
	return out
}

// noSelection is returned by selected-state methods called without a
// mailbox selected (the server does not call them so).
var noSelection = &imap.Error{Type: imap.StatusResponseTypeBad, Code: imap.ResponseCodeClientBug, Text: "No mailbox selected"}

// messageFlags returns the flags of a message.
func messageFlags(ctx context.Context, q querier, id int64) ([]imap.Flag, error) {
	rows, err := q.QueryContext(ctx, `SELECT flag FROM flags WHERE message_id = ? ORDER BY flag`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	flags := []imap.Flag{}
	for rows.Next() {
		var f string
		if err := rows.Scan(&f); err != nil {
			return nil, err
		}
		flags = append(flags, imap.Flag(f))
	}
	return flags, rows.Err()
}
