package store

import (
	"context"
	"encoding/json"
	"sync"
)

// imapHub holds the users and mailboxes that IMAPBackend's sessions
// watch, with what the database said of each at the last commit: after
// every commit, whoever made it, notifyIMAP reads that again and wakes
// the watchers of what changed. The triggers of schema/009_imap.sql keep
// the counters right for every writer, so no writer has to say what it
// changed.
type imapHub struct {
	mu    sync.Mutex
	users map[int64]*imapWatch // by user id: users.imap_version and the sum of the mailboxes' highest_modseq
	boxes map[int64]*imapWatch // by mailbox id: highest_modseq
}

// imapWatch is one watched user or mailbox.
type imapWatch struct {
	known bool     // sig is what the database said; false until the first commit after watch
	sig   [2]int64 // the counters read at the last commit
	chans map[chan struct{}]struct{}
}

// watch adds ch to the channels woken when user or mailbox id (of the map
// m points to) changes; the function returned removes it. ch must have a
// buffer of one: a wake-up is a value sent without blocking, so that one
// pending value stands for any number of changes.
func (h *imapHub) watch(m *map[int64]*imapWatch, id int64, ch chan struct{}) func() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if *m == nil {
		*m = make(map[int64]*imapWatch)
	}
	w := (*m)[id]
	if w == nil {
		// Unknown counters: the first commit after this wakes ch, as it
		// may have changed something that the watcher's first read missed.
		w = &imapWatch{chans: make(map[chan struct{}]struct{})}
		(*m)[id] = w
	}
	w.chans[ch] = struct{}{}
	var once sync.Once
	return func() {
		once.Do(func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			delete(w.chans, ch)
			if len(w.chans) == 0 && (*m)[id] == w {
				delete(*m, id)
			}
		})
	}
}

// wakeAll wakes every watcher: after an error, when what changed is not
// known.
func (h *imapHub) wakeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range []map[int64]*imapWatch{h.users, h.boxes} {
		for _, w := range m {
			w.known = false
			w.wake()
		}
	}
}

func (w *imapWatch) wake() {
	for ch := range w.chans {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// ids returns the keys of m as a JSON array, for json_each.
func (h *imapHub) ids(m map[int64]*imapWatch) string {
	ids := make([]int64, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	b, _ := json.Marshal(ids)
	return string(b)
}

const (
	imapUserSigQuery = `SELECT u.id, u.imap_version, (SELECT coalesce(sum(highest_modseq), 0) FROM mailboxes WHERE user_id = u.id)
		FROM users u WHERE u.id IN (SELECT value FROM json_each(?))`
	imapBoxSigQuery = `SELECT id, highest_modseq, uid_validity FROM mailboxes WHERE id IN (SELECT value FROM json_each(?))`
)

// notifyIMAP wakes the IMAPBackend sessions whose user or mailbox the
// commit that just returned changed. The caller holds the write lock, so
// the counters read are those of that commit.
func (s *Store) notifyIMAP() {
	h := &s.imap
	h.mu.Lock()
	if len(h.users) == 0 && len(h.boxes) == 0 {
		h.mu.Unlock()
		return
	}
	users, boxes := h.ids(h.users), h.ids(h.boxes)
	h.mu.Unlock()
	userSigs, err := s.readSigs(imapUserSigQuery, users)
	var boxSigs map[int64][2]int64
	if err == nil {
		boxSigs, err = s.readSigs(imapBoxSigQuery, boxes)
	}
	if err != nil {
		s.log.Warn("store: imap: reading what changed", "err", err)
		h.wakeAll()
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, p := range []struct {
		m    map[int64]*imapWatch
		sigs map[int64][2]int64
	}{{h.users, userSigs}, {h.boxes, boxSigs}} {
		for id, w := range p.m {
			sig, ok := p.sigs[id]
			if !ok {
				sig = [2]int64{-1, -1} // deleted: a change, once
			}
			if !w.known || w.sig != sig {
				w.wake()
			}
			w.known, w.sig = true, sig
		}
	}
}

// readSigs runs query (one of the sig queries, with the ids as JSON) on the
// write connection, whose lock the caller holds.
func (s *Store) readSigs(query, ids string) (map[int64][2]int64, error) {
	ctx := context.Background()
	st, err := s.stmt(ctx, &wtx{Conn: s.wconn}, query)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	sigs := make(map[int64][2]int64)
	for rows.Next() {
		var id int64
		var sig [2]int64
		if err := rows.Scan(&id, &sig[0], &sig[1]); err != nil {
			return nil, err
		}
		sigs[id] = sig
	}
	return sigs, rows.Err()
}
