package cli

import (
	"io"
	"os"

	"golang.org/x/term"
)

// terminal is the terminal of the interactive telnet client.
type terminal struct {
	in    *os.File
	fd    int
	saved *term.State // while in raw mode
}

// terminalOf returns the terminal r is, if it is one.
func terminalOf(r io.Reader) (*terminal, bool) {
	f, ok := r.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil, false
	}
	return &terminal{in: f, fd: int(f.Fd())}, true
}

// size returns the window size, or 0, 0 when unknown.
func (t *terminal) size() (width, height int) {
	w, h, err := term.GetSize(t.fd)
	if err != nil {
		return 0, 0
	}
	return w, h
}

// raw puts the terminal in raw mode, if it is not.
func (t *terminal) raw() error {
	if t.saved != nil {
		return nil
	}
	st, err := term.MakeRaw(t.fd)
	if err != nil {
		return err
	}
	t.saved = st
	return nil
}

// restore puts the terminal back in the mode it was in before raw.
func (t *terminal) restore() {
	if t.saved != nil {
		term.Restore(t.fd, t.saved)
		t.saved = nil
	}
}
