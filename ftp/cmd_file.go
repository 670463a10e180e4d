package ftp

import (
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"
)

// File and directory commands: RFC 959 §4.1.1 and §4.1.3, RFC 3659 §3, §4
// and §7 (MDTM, SIZE, MLST).

func init() {
	addCommand(cmdSpec{run: (*session).cmdCwd, login: true, arg: argNeed}, "CWD", "XCWD")
	addCommand(cmdSpec{run: (*session).cmdCdup, login: true}, "CDUP", "XCUP")
	addCommand(cmdSpec{run: (*session).cmdPwd, login: true}, "PWD", "XPWD")
	addCommand(cmdSpec{run: (*session).cmdMkd, login: true, arg: argNeed, write: true}, "MKD", "XMKD")
	addCommand(cmdSpec{run: (*session).cmdRmd, login: true, arg: argNeed, write: true}, "RMD", "XRMD")
	addCommand(cmdSpec{run: (*session).cmdDele, login: true, arg: argNeed, write: true}, "DELE")
	addCommand(cmdSpec{run: (*session).cmdRnfr, login: true, arg: argNeed, write: true}, "RNFR")
	addCommand(cmdSpec{run: (*session).cmdRnto, login: true, arg: argNeed, write: true}, "RNTO")
	addCommand(cmdSpec{run: (*session).cmdSize, login: true, arg: argNeed}, "SIZE")
	addCommand(cmdSpec{run: (*session).cmdMdtm, login: true, arg: argNeed}, "MDTM")
	addCommand(cmdSpec{run: (*session).cmdMlst, login: true}, "MLST")
}

// resolve resolves the client's path p (see resolvePath); e is the reply
// for a path no file may have.
func (c *session) resolve(p string) (abs, name string, e *Error) {
	abs, name, ok := resolvePath(c.cwd, p)
	if !ok {
		return "", "", errInvalidName
	}
	return abs, name, nil
}

// stat resolves p and returns the file it names.
func (c *session) stat(op, p string) (abs, name string, fi fs.FileInfo, e *Error) {
	abs, name, e = c.resolve(p)
	if e != nil {
		return "", "", nil, e
	}
	fi, err := fs.Stat(c.fsys, name)
	if err != nil {
		if e = c.toReply(op, err); e == nil {
			e = errAborted
		}
		return "", "", nil, e
	}
	return abs, name, fi, nil
}

func (c *session) cmdCwd(arg string) error {
	return c.chdir(arg)
}

func (c *session) cmdCdup(string) error {
	return c.chdir("..")
}

func (c *session) chdir(p string) error {
	abs, _, fi, e := c.stat("cwd", p)
	if e != nil {
		c.replyErr(e)
		return nil
	}
	if !fi.IsDir() {
		c.reply(550, "Not a directory.")
		return nil
	}
	c.cwd = abs
	c.reply(250, "Directory successfully changed.")
	return nil
}

func (c *session) cmdPwd(string) error {
	c.reply(257, quotePath(c.cwd)+" is the current directory.")
	return nil
}

func (c *session) cmdMkd(arg string) error {
	abs, name, e := c.resolve(arg)
	if e != nil {
		c.replyErr(e)
		return nil
	}
	if err := c.wfs.Mkdir(name); err != nil {
		return c.failFS("mkdir", err)
	}
	c.reply(257, quotePath(abs)+" created.")
	return nil
}

func (c *session) cmdRmd(arg string) error {
	_, name, fi, e := c.stat("rmd", arg)
	if e == nil && !fi.IsDir() {
		e = &Error{Code: 550, Message: "Not a directory."}
	}
	if e == nil && name == "." {
		e = errReadOnly
	}
	if e != nil {
		c.replyErr(e)
		return nil
	}
	if err := c.wfs.Remove(name); err != nil {
		return c.failFS("rmd", err)
	}
	c.reply(250, "Remove directory operation successful.")
	return nil
}

func (c *session) cmdDele(arg string) error {
	_, name, fi, e := c.stat("dele", arg)
	if e == nil && fi.IsDir() {
		e = &Error{Code: 550, Message: "Is a directory."}
	}
	if e != nil {
		c.replyErr(e)
		return nil
	}
	if err := c.wfs.Remove(name); err != nil {
		return c.failFS("dele", err)
	}
	c.reply(250, "Delete operation successful.")
	return nil
}

func (c *session) cmdRnfr(arg string) error {
	_, name, _, e := c.stat("rnfr", arg)
	if e == nil && name == "." {
		e = errReadOnly
	}
	if e != nil {
		c.replyErr(e)
		return nil
	}
	c.rnfr = name
	c.reply(350, "Ready for RNTO.")
	return nil
}

func (c *session) cmdRnto(arg string) error {
	from := c.rnfr
	c.rnfr = ""
	if from == "" {
		return c.fail(&Error{Code: 503, Message: "RNFR required first."})
	}
	_, name, e := c.resolve(arg)
	if e != nil {
		c.replyErr(e)
		return nil
	}
	if err := c.wfs.Rename(from, name); err != nil {
		return c.failFS("rename", err)
	}
	c.reply(250, "Rename successful.")
	return nil
}

// cmdSize answers SIZE (RFC 3659 §4) with the size of the file as stored,
// in TYPE A too: the file is never read to count its line endings (as
// vsftpd does), so SIZE of a huge file costs nothing.
func (c *session) cmdSize(arg string) error {
	_, _, fi, e := c.stat("size", arg)
	if e == nil && !fi.Mode().IsRegular() {
		e = &Error{Code: 550, Message: "Could not get file size."}
	}
	if e != nil {
		c.replyErr(e)
		return nil
	}
	c.reply(213, strconv.FormatInt(fi.Size(), 10))
	return nil
}

// cmdMdtm answers MDTM (RFC 3659 §3) with the modification time, UTC.
func (c *session) cmdMdtm(arg string) error {
	_, _, fi, e := c.stat("mdtm", arg)
	if e == nil && !fi.Mode().IsRegular() {
		e = &Error{Code: 550, Message: "Could not get file modification time."}
	}
	if e != nil {
		c.replyErr(e)
		return nil
	}
	c.reply(213, fi.ModTime().UTC().Format(timeVal))
	return nil
}

// cmdMlst answers MLST (RFC 3659 §7.2): the facts of one file, over the
// control connection.
func (c *session) cmdMlst(arg string) error {
	if arg == "" {
		arg = "."
	}
	abs, name, fi, e := c.stat("mlst", arg)
	if e != nil {
		c.replyErr(e)
		return nil
	}
	l := c.lister(formatMLSD)
	kind := ""
	if name == "." || abs == c.cwd {
		kind = "cdir"
	}
	facts := l.factsOf(fi, name, kind)
	c.multi(250, "Listing "+abs, []string{facts + " " + abs}, "End")
	return nil
}

// lister returns a lister of the session's tree in format.
func (c *session) lister(format listFormat) *lister {
	return &lister{fsys: c.fsys, writable: c.wfs != nil, facts: c.facts, format: format, now: time.Now()}
}

// listArg splits the argument of LIST or NLST into its options ("-la"),
// which are ignored, and its path. -R asks for a recursion no server
// should do for a client (vsftpd's ls_recurse_enable=NO): it is ignored
// too.
func listArg(arg string) string {
	for strings.HasPrefix(arg, "-") {
		_, rest, _ := strings.Cut(arg, " ")
		arg = strings.TrimLeft(rest, " ")
	}
	return arg
}

// listTarget resolves what a listing command lists: a directory, a file,
// or the entries of a directory matching a glob in the last element of p.
// A glob elsewhere is refused: LIST */*/* never walks a tree.
func (c *session) listTarget(op, p string) (listTarget, *Error) {
	if p == "" {
		p = "."
	}
	dir, base := ".", p
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		dir, base = p[:i+1], p[i+1:]
	}
	if hasGlob(base) {
		if hasGlob(dir) {
			return listTarget{}, &Error{Code: 550, Message: "Wildcards are allowed in the last path element only."}
		}
		if _, err := path.Match(base, ""); err != nil {
			return listTarget{}, errInvalidName
		}
		_, name, fi, e := c.stat(op, dir)
		if e == nil && !fi.IsDir() {
			e = errNotExist
		}
		return listTarget{dir: name, pattern: base}, e
	}
	_, name, fi, e := c.stat(op, p)
	if e != nil {
		return listTarget{}, e
	}
	if !fi.IsDir() {
		return listTarget{file: fi, name: base, dir: name}, nil
	}
	return listTarget{dir: name}, nil
}
