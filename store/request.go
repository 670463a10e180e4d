package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// The changes that IMAP sessions must hear of (DeleteMessages, RemoveUser)
// are carried out by the process whose sessions they are: IMAP sessions
// are woken by the commits of their own process only. A Store that is not the server's, such as
// that of `inetkit mail rm`, finds the server by the data directory's lock
// and hands it the change through the requests table; the server's Store
// looks for requests every serverPollInterval, carries each out in one
// transaction with marking it done, and the requester reads the outcome
// and deletes the row. With no server running, the requester takes the lock
// itself for the change, so that no server starts in the middle of it.

// serverPollInterval is how often a server looks for requests: an idle
// server wakes four times a second for them, and a request waits a quarter
// of a second at most.
const serverPollInterval = 250 * time.Millisecond

// requestPollInterval is how often a requester looks for the outcome of its
// own request.
const requestPollInterval = 50 * time.Millisecond

// requestMaxAge is how long a request is kept: one older than this is
// dropped, not carried out, since its requester has given up on it.
const requestMaxAge = time.Minute

// The operations a request can ask for.
const (
	opDelete     = "delete"
	opRemoveUser = "remove-user"
	opDeleteIDs  = "delete-ids"
	opSetSeen    = "set-seen"
)

// A request is an operation and its arguments, as the requests table keeps
// them (JSON).
type request struct {
	Op      string         `json:"op"`
	Filter  *MessageFilter `json:"filter,omitempty"`
	Address string         `json:"address,omitempty"`
	IDs     []int64        `json:"ids,omitempty"`
	Seen    bool           `json:"seen,omitempty"`
}

// A requestResult is the outcome of a request: its result, or its error.
type requestResult struct {
	Deleted  int            `json:"deleted,omitempty"`
	Changed  int            `json:"changed,omitempty"`
	User     *User          `json:"user,omitempty"`
	NotFound *NotFoundError `json:"not_found,omitempty"`
	Error    string         `json:"error,omitempty"`
}

// outcome records err in res, so that it can cross to another process.
func outcome(res requestResult, err error) requestResult {
	var nf *NotFoundError
	switch {
	case errors.As(err, &nf):
		res.NotFound = nf
	case err != nil:
		res.Error = err.Error()
	}
	return res
}

// err returns the error the request ended with, or nil.
func (res *requestResult) err() error {
	switch {
	case res.NotFound != nil:
		return res.NotFound
	case res.Error != "":
		return errors.New(res.Error)
	}
	return nil
}

// do carries out req here if this process is the server or no server is
// running, and has the server carry it out otherwise.
func (s *Store) do(ctx context.Context, req *request) (requestResult, error) {
	if s.opts.Exclusive {
		return s.run(ctx, req)
	}
	unlock, err := lockDir(s.dir)
	if errors.Is(err, ErrLocked) {
		return s.ask(ctx, req)
	} else if err != nil {
		return requestResult{}, err
	}
	defer unlock()
	return s.run(ctx, req)
}

// run carries out req in one write transaction.
func (s *Store) run(ctx context.Context, req *request) (requestResult, error) {
	var res requestResult
	err := s.write(ctx, func(tx *wtx) error {
		var err error
		res, err = s.apply(ctx, tx, req)
		return err
	})
	return res, err
}

// apply carries out req in tx.
func (s *Store) apply(ctx context.Context, tx *wtx, req *request) (requestResult, error) {
	switch {
	case req.Op == opDelete && req.Filter != nil:
		n, err := s.deleteMessagesTx(ctx, tx, req.Filter)
		return requestResult{Deleted: n}, err
	case req.Op == opDeleteIDs:
		n, err := s.deleteIDsTx(ctx, tx, req.IDs)
		return requestResult{Deleted: n}, err
	case req.Op == opSetSeen:
		n, err := s.setSeenTx(ctx, tx, req.IDs, req.Seen)
		return requestResult{Changed: n}, err
	case req.Op == opRemoveUser:
		u, err := s.removeUserTx(ctx, tx, req.Address)
		return requestResult{User: &u}, err
	}
	return requestResult{}, fmt.Errorf("store: unknown request %q", req.Op)
}

// ask hands req to the server that holds the lock and waits for the
// outcome. If the server stops first, ask carries req out itself; if ctx
// ends first, it withdraws req, unless the server has carried it out.
func (s *Store) ask(ctx context.Context, req *request) (requestResult, error) {
	args, err := json.Marshal(req)
	if err != nil {
		return requestResult{}, err
	}
	var id int64
	err = s.write(ctx, func(tx *wtx) error {
		return tx.QueryRowContext(ctx, `INSERT INTO requests (op, args, created) VALUES (?, ?, ?) RETURNING id`,
			req.Op, string(args), time.Now().Unix()).Scan(&id)
	})
	if err != nil {
		return requestResult{}, fmt.Errorf("store: request: %w", err)
	}
	t := time.NewTicker(requestPollInterval)
	defer t.Stop()
	for {
		res, done, err := s.answer(ctx, id)
		if done {
			return res, err
		}
		if err == nil {
			if unlock, err := lockDir(s.dir); err == nil {
				// The server stopped: nobody else will carry req out.
				defer unlock()
				if s.withdraw(id) {
					return s.run(ctx, req)
				}
				return s.finalAnswer(ctx, id) // carried out just before the server stopped
			}
			select {
			case <-t.C:
				continue
			case <-ctx.Done():
				err = ctx.Err()
			}
		}
		// Giving up: withdraw the request, unless it was carried out
		// meanwhile.
		if s.withdraw(id) {
			return requestResult{}, fmt.Errorf("store: the server running on %s did not carry out the request: %w", s.dir, err)
		}
		return s.finalAnswer(ctx, id)
	}
}

// finalAnswer returns the outcome of request id, which withdraw found
// done.
func (s *Store) finalAnswer(ctx context.Context, id int64) (requestResult, error) {
	res, done, err := s.answer(context.WithoutCancel(ctx), id)
	if !done && err == nil {
		err = fmt.Errorf("store: request %d could neither be withdrawn nor answered", id)
	}
	return res, err
}

// errRequestDropped is returned to a requester whose request the server
// dropped, as too old or from before it started.
var errRequestDropped = errors.New("store: the server dropped the request; try again")

// answer returns the outcome of request id and true if it is done.
func (s *Store) answer(ctx context.Context, id int64) (requestResult, bool, error) {
	var done bool
	var result sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT done, result FROM requests WHERE id = ?`, id).Scan(&done, &result)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return requestResult{}, true, errRequestDropped
	case err != nil:
		return requestResult{}, false, fmt.Errorf("store: request: %w", err)
	case !done:
		return requestResult{}, false, nil
	}
	var res requestResult
	if err := json.Unmarshal([]byte(result.String), &res); err != nil {
		return requestResult{}, true, fmt.Errorf("store: request outcome: %w", err)
	}
	bg := context.WithoutCancel(ctx)
	s.write(bg, func(tx *wtx) error {
		_, err := tx.ExecContext(bg, `DELETE FROM requests WHERE id = ?`, id)
		return err
	})
	return res, true, res.err()
}

// withdraw deletes request id unless it is done, and reports whether it
// did.
func (s *Store) withdraw(id int64) bool {
	var n int64
	s.write(context.Background(), func(tx *wtx) error {
		res, err := tx.ExecContext(context.Background(), `DELETE FROM requests WHERE id = ? AND done = 0`, id)
		if err == nil {
			n, err = res.RowsAffected()
		}
		return err
	})
	return n > 0
}

// serveRequests carries out the requests of other processes while the
// store is open. It runs in the server's Store (Options.Exclusive) only.
func (s *Store) serveRequests() {
	defer close(s.requestsDone)
	t := time.NewTicker(serverPollInterval)
	defer t.Stop()
	var last string // the error last logged, so that a lasting one is logged once
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		err := s.serveQueued(context.Background())
		if err != nil && !errors.Is(err, ErrClosed) && err.Error() != last {
			s.log.Warn("store: requests from other processes", "err", err)
		}
		if err != nil {
			last = err.Error()
		} else {
			last = ""
		}
	}
}

// A queuedRequest is a row of the requests table.
type queuedRequest struct {
	id      int64
	args    string
	created time.Time
	done    bool
}

// serveQueued carries out the requests waiting, and deletes those too old.
func (s *Store) serveQueued(ctx context.Context) error {
	queue, err := s.queuedRequests(ctx)
	if err != nil || len(queue) == 0 {
		return err
	}
	for _, q := range queue {
		switch {
		case time.Since(q.created) > requestMaxAge:
			err = s.write(ctx, func(tx *wtx) error {
				_, err := tx.ExecContext(ctx, `DELETE FROM requests WHERE id = ?`, q.id)
				return err
			})
		case !q.done:
			err = s.serveRequest(ctx, q)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) queuedRequests(ctx context.Context) ([]queuedRequest, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, args, created, done FROM requests ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var queue []queuedRequest
	for rows.Next() {
		var q queuedRequest
		var created int64
		if err := rows.Scan(&q.id, &q.args, &created, &q.done); err != nil {
			return nil, err
		}
		q.created = time.Unix(created, 0)
		queue = append(queue, q)
	}
	return queue, rows.Err()
}

// errWithdrawn ends the transaction of a request its requester withdrew.
var errWithdrawn = errors.New("store: request withdrawn")

// serveRequest carries out q and records the outcome, in the same
// transaction when it succeeds; a failure is recorded after the rollback.
func (s *Store) serveRequest(ctx context.Context, q queuedRequest) error {
	var req request
	var res requestResult
	err := json.Unmarshal([]byte(q.args), &req)
	if err == nil {
		err = s.write(ctx, func(tx *wtx) error {
			if n, err := execCount(ctx, tx, `UPDATE requests SET done = 1 WHERE id = ? AND done = 0`, q.id); err != nil || n == 0 {
				return cmp.Or(err, errWithdrawn)
			}
			var err error
			if res, err = s.apply(ctx, tx, &req); err != nil {
				return err
			}
			return setResultTx(ctx, tx, q.id, res)
		})
	}
	switch {
	case err == nil, errors.Is(err, errWithdrawn):
		return nil
	case errors.Is(err, ErrClosed):
		return err
	}
	return s.write(ctx, func(tx *wtx) error {
		if n, err := execCount(ctx, tx, `UPDATE requests SET done = 1 WHERE id = ? AND done = 0`, q.id); err != nil || n == 0 {
			return err
		}
		return setResultTx(ctx, tx, q.id, outcome(requestResult{}, err))
	})
}

func setResultTx(ctx context.Context, tx *wtx, id int64, res requestResult) error {
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `UPDATE requests SET result = ? WHERE id = ?`, string(b), id)
	return err
}

// execCount runs a statement in tx and returns the number of rows it
// changed.
func execCount(ctx context.Context, tx *wtx, query string, args ...any) (int64, error) {
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
