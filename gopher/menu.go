package gopher

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Limits of ParseMenu.
const (
	// MaxMenuLineBytes is the longest menu line ParseMenu keeps; the rest of
	// a longer line is dropped.
	MaxMenuLineBytes = 8 << 10
	// MaxMenuLines is the most lines ParseMenu reads before it gives up
	// with ErrMenuTooLarge.
	MaxMenuLines = 1 << 16
)

// ErrMenuTooLarge is returned by ParseMenu for a menu of more than
// MaxMenuLines lines.
var ErrMenuTooLarge = errors.New("gopher: menu too large")

// ErrInvalidItem is returned by MenuWriter.Item for an item that cannot be
// written as a menu line: a selector or host holding TAB, CR, LF or NUL,
// or a type that is not a printable ASCII character.
var ErrInvalidItem = errors.New("gopher: invalid menu item")

// A MenuWriter writes a menu (RFC 1436 §3.8): one line per item, each
// ending in CRLF, and, on Close, the line holding only "." that ends it.
// Items without a host get the host and port of the request, which are the
// server's. A MenuWriter is not safe for concurrent use.
type MenuWriter struct {
	w    io.Writer
	host string
	port int
	err  error
}

// NewMenuWriter returns a MenuWriter that writes to w the menu answering
// r. r may be nil: items then need a host and port of their own.
func NewMenuWriter(w io.Writer, r *Request) *MenuWriter {
	m := &MenuWriter{w: w}
	if r != nil {
		m.host, m.port = r.Host, r.Port
	}
	return m
}

// Item writes it. An empty Host is the request's host, a zero Port the
// request's port (or 70 for an item with a host of its own). Control
// characters of Display are replaced by spaces; an item whose selector or
// host holds TAB, CR, LF or NUL is not written and ErrInvalidItem returned.
func (m *MenuWriter) Item(it Item) error {
	if it.Type <= 0x20 || it.Type >= 0x7f || unsafeField(it.Selector) || unsafeField(it.Host) {
		return ErrInvalidItem
	}
	if it.Host == "" {
		it.Host = m.host
		if it.Port == 0 {
			it.Port = m.port
		}
	}
	if it.Port == 0 {
		it.Port = DefaultPort
	}
	return m.line(it.String())
}

// Info writes text as info lines (type "i"), one per line of text. TABs
// and other control characters are replaced by spaces.
func (m *MenuWriter) Info(text string) error {
	text = strings.TrimSuffix(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	for line := range strings.SplitSeq(text, "\n") {
		if err := m.line(Item{Type: TypeInfo, Display: line, Host: m.host, Port: m.port}.String()); err != nil {
			return err
		}
	}
	return nil
}

// Error writes an error item (type "3") with text msg.
func (m *MenuWriter) Error(msg string) error {
	return m.line("3" + clean(msg) + "\t\terror.host\t1")
}

// Close writes the "." line that ends the menu. It does not close the
// underlying writer.
func (m *MenuWriter) Close() error { return m.line(".") }

func (m *MenuWriter) line(s string) error {
	if m.err != nil {
		return m.err
	}
	_, m.err = io.WriteString(m.w, s+"\r\n")
	return m.err
}

// ParseMenu reads a menu, leniently, as the servers in the wild send them:
// lines may end in LF or CRLF, fields may be missing (an item then has an
// empty selector or host, or port 0) and the "." line that ends a menu may
// be missing (the menu then ends at EOF). Empty lines are skipped, and so
// is what follows the "." line. Fields beyond the fourth (Gopher+) are
// dropped, lines longer than MaxMenuLineBytes are cut, and a menu of more
// than MaxMenuLines lines returns the items before that and
// ErrMenuTooLarge.
func ParseMenu(r io.Reader) ([]Item, error) {
	br := bufio.NewReaderSize(r, 4096)
	var items []Item
	for n := 0; ; n++ {
		if n >= MaxMenuLines {
			return items, ErrMenuTooLarge
		}
		line, err := readMenuLine(br)
		if err != nil && !errors.Is(err, io.EOF) {
			return items, fmt.Errorf("gopher: reading menu: %w", err)
		}
		if line == "." {
			return items, nil
		}
		if line != "" {
			items = append(items, parseItem(line))
		}
		if err != nil {
			return items, nil
		}
	}
}

// readMenuLine returns the next line without its line ending, cut to
// MaxMenuLineBytes. It returns io.EOF with the last line if that has no
// line ending.
func readMenuLine(br *bufio.Reader) (string, error) {
	var b []byte
	for {
		frag, err := br.ReadSlice('\n')
		if len(b) < MaxMenuLineBytes {
			b = append(b, frag[:min(len(frag), MaxMenuLineBytes-len(b))]...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err == nil || len(frag) > 0 && frag[len(frag)-1] == '\n' {
			b = trimEOL(b)
			return string(b), nil
		}
		return string(trimEOL(b)), err
	}
}

func trimEOL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// parseItem parses one non-empty menu line.
func parseItem(line string) Item {
	it := Item{Type: Type(line[0])}
	fields := strings.SplitN(line[1:], "\t", 5)
	it.Display = fields[0]
	if len(fields) > 1 {
		it.Selector = fields[1]
	}
	if len(fields) > 2 {
		it.Host = strings.TrimSpace(fields[2])
	}
	if len(fields) > 3 {
		if p, err := strconv.Atoi(strings.TrimSpace(fields[3])); err == nil && p > 0 && p <= 65535 {
			it.Port = p
		}
	}
	return it
}
