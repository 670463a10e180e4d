package ftp

import (
	"bufio"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/inetkit/inetkit/fileroot"
)

// Transfer commands (RFC 959 §4.1.3): RETR, STOR, APPE, STOU, LIST, NLST,
// REST (RFC 3659 §5), MLSD (RFC 3659 §7) and ABOR.

func init() {
	addCommand(cmdSpec{run: (*session).cmdRetr, login: true, arg: argNeed}, "RETR")
	addCommand(cmdSpec{run: (*session).cmdStor, login: true, arg: argNeed, write: true}, "STOR")
	addCommand(cmdSpec{run: (*session).cmdAppe, login: true, arg: argNeed, write: true}, "APPE")
	addCommand(cmdSpec{run: (*session).cmdStou, login: true, write: true}, "STOU")
	addCommand(cmdSpec{run: (*session).cmdRest, login: true, arg: argNeed}, "REST")
	addCommand(cmdSpec{run: (*session).cmdList, login: true}, "LIST")
	addCommand(cmdSpec{run: (*session).cmdNlst, login: true}, "NLST")
	addCommand(cmdSpec{run: (*session).cmdMlsd, login: true}, "MLSD")
	addCommand(cmdSpec{run: (*session).cmdAbor, during: true}, "ABOR")
}

func (c *session) modeName() string {
	if c.binary {
		return "BINARY"
	}
	return "ASCII"
}

// takeRest returns the offset of the REST before, and forgets it.
func (c *session) takeRest() int64 {
	off := c.rest
	c.rest = 0
	return off
}

// cmdRest answers REST STREAM (RFC 3659 §5): the next RETR, STOR or APPE
// starts at the offset.
func (c *session) cmdRest(arg string) error {
	n, err := strconv.ParseInt(arg, 10, 64)
	if err != nil || n < 0 {
		return c.fail(errSyntax)
	}
	c.rest = n
	c.reply(350, "Restarting at "+arg+". Send STORE or RETRIEVE to initiate transfer.")
	return nil
}

// cmdRetr sends a file, from the offset of a REST before; past the end
// the transfer is empty.
func (c *session) cmdRetr(arg string) error {
	off := c.takeRest()
	_, name, e := c.resolve(arg)
	if e != nil {
		c.replyErr(e)
		return nil
	}
	f, err := c.fsys.Open(name)
	if err != nil {
		return c.failFS("open", err)
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = &Error{Code: 550, Message: "Not a regular file."}
	}
	var src io.Reader = f
	switch {
	case err != nil:
	case off >= fi.Size():
		src = strings.NewReader("") // RFC 3659 §5.4 leaves it open: an empty transfer
	default:
		err = seekTo(f, off)
	}
	if err != nil {
		f.Close()
		return c.failFS("open", err)
	}
	text := fmt.Sprintf("Opening %s mode data connection for %s (%d bytes).", c.modeName(), arg, fi.Size())
	ascii := !c.binary
	return c.startTransfer(text, func(x *transfer) *Error { return x.send(src, ascii) }, func() { f.Close() })
}

// seekTo moves f to off, by seeking if it can.
func seekTo(f fs.File, off int64) error {
	if off == 0 {
		return nil
	}
	if s, ok := f.(io.Seeker); ok {
		_, err := s.Seek(off, io.SeekStart)
		return err
	}
	_, err := io.CopyN(io.Discard, f, off)
	if err == io.EOF {
		err = nil
	}
	return err
}

func (c *session) cmdStor(arg string) error {
	return c.store(arg, c.takeRest(), false)
}

func (c *session) cmdAppe(arg string) error {
	c.takeRest()
	return c.store(arg, -1, false)
}

// cmdStou stores a file under a new name in the current directory (RFC
// 959 §4.1.3), given in the 150 reply as RFC 1123 §4.1.2.9 asks.
func (c *session) cmdStou(arg string) error {
	c.takeRest()
	for range 10 {
		name := "ftp." + rand.Text()[:12]
		if _, _, _, e := c.stat("stou", name); e == errNotExist {
			return c.store(name, 0, true)
		}
	}
	c.reply(450, "Could not make a unique name.")
	return nil
}

// store receives a file into an upload that replaces name when the data
// connection ends cleanly, and is discarded otherwise: no client ever sees
// part of a file, and a failed upload leaves nothing. keep is how much of
// the existing file comes first: a REST offset for STOR, all of it (-1)
// for APPE. The tree stays atomic: the kept part is copied into the new
// upload.
func (c *session) store(arg string, keep int64, unique bool) error {
	_, name, e := c.resolve(arg)
	if e != nil {
		c.replyErr(e)
		return nil
	}
	old, e := c.openKept(name, keep)
	if e != nil {
		c.replyErr(e)
		return nil
	}
	u, err := c.wfs.Create(name)
	if err != nil {
		if old != nil {
			old.Close()
		}
		return c.failFS("create", err)
	}
	text := "Ok to send data."
	if unique {
		text = "FILE: " + path.Base(name)
	}
	ascii := !c.binary
	work := func(x *transfer) *Error { return x.store(u, old, keep, ascii) }
	return c.startTransfer(text, work, func() {
		u.Abort()
		if old != nil {
			old.Close()
		}
	})
}

// openKept opens the existing file name whose first keep octets (all if
// keep is -1) an upload keeps; nil if it keeps none. A REST offset past
// the end of the file is refused.
func (c *session) openKept(name string, keep int64) (fs.File, *Error) {
	if keep == 0 {
		return nil, nil
	}
	f, err := c.fsys.Open(name)
	if err != nil {
		if keep < 0 && c.toReply("open", err) == errNotExist {
			return nil, nil // APPE creates
		}
		return nil, c.toReply("open", err)
	}
	fi, err := f.Stat()
	switch {
	case err != nil:
		f.Close()
		return nil, c.toReply("open", err)
	case !fi.Mode().IsRegular():
		f.Close()
		return nil, &Error{Code: 550, Message: "Not a regular file."}
	case keep > fi.Size():
		f.Close()
		return nil, &Error{Code: 554, Message: "Invalid REST parameter."}
	}
	return f, nil
}

// store copies the kept part of old, then the data connection, into u,
// and commits u if both end cleanly.
func (x *transfer) store(u fileroot.Upload, old fs.File, keep int64, ascii bool) *Error {
	bw := bufio.NewWriterSize(u, copyBufferBytes)
	if old != nil {
		src := io.Reader(old)
		if keep >= 0 {
			src = io.LimitReader(old, keep)
		}
		if _, err := io.Copy(bw, src); err != nil {
			return fsReply(x.ctx, x.log, "append", err)
		}
	}
	if e := x.receive(bw, ascii); e != nil {
		return e
	}
	if x.aborted.Load() {
		return errAborted
	}
	if err := bw.Flush(); err != nil {
		return fsReply(x.ctx, x.log, "write", err)
	}
	if err := u.Close(); err != nil {
		return fsReply(x.ctx, x.log, "close", err)
	}
	return errTransferOK
}

func (c *session) cmdList(arg string) error { return c.list(listArg(arg), formatLIST) }
func (c *session) cmdNlst(arg string) error { return c.list(listArg(arg), formatNLST) }

// cmdMlsd lists a directory with the facts of RFC 3659 §7; a file is
// refused with 501 (§7.2.1).
func (c *session) cmdMlsd(arg string) error {
	t, e := c.listTarget("mlsd", arg)
	if e == nil && (t.file != nil || t.pattern != "") {
		e = &Error{Code: 501, Message: "Not a directory."}
	}
	if e != nil {
		c.replyErr(e)
		return nil
	}
	return c.sendListing(t, formatMLSD)
}

func (c *session) list(arg string, format listFormat) error {
	t, e := c.listTarget("list", arg)
	if e != nil {
		c.replyErr(e)
		return nil
	}
	return c.sendListing(t, format)
}

// sendListing sends the listing of t on a data connection, streamed.
func (c *session) sendListing(t listTarget, format listFormat) error {
	l := c.lister(format)
	return c.startTransfer("Here comes the directory listing.", func(x *transfer) *Error {
		bw := bufio.NewWriterSize(x, copyBufferBytes/4)
		err := l.writeTarget(bw, t)
		if err == nil {
			err = bw.Flush()
		}
		switch {
		case err == nil:
			return errTransferOK
		case x.aborted.Load():
			return errAborted
		}
		if pe := new(fs.PathError); errors.As(err, &pe) {
			return fsReply(x.ctx, x.log, "list", err)
		}
		return x.netFailed(err)
	}, nil)
}

// cmdAbor aborts the transfer running (RFC 959 §4.1.3): its reply is
// "426", then ABOR's "226". Without a transfer, the data connection set
// up is closed and the reply is "225".
func (c *session) cmdAbor(string) error {
	x := c.xfer
	if x == nil {
		c.closeData()
		c.reply(225, "No transfer to ABOR.")
		return nil
	}
	select {
	case <-x.done:
	default:
		x.abort()
		<-x.done
		x.result = errAborted
	}
	c.finishTransfer()
	c.reply(226, "ABOR successful.")
	return nil
}
