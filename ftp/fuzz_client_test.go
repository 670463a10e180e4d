package ftp

import (
	"bufio"
	"errors"
	"io"
	"maps"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestReadReply(t *testing.T) {
	tests := []struct {
		name string
		in   string
		code int
		text string
	}{
		{"single", "220 Service ready\r\n", 220, "Service ready"},
		{"LF only", "200 OK\n", 200, "OK"},
		{"code alone", "200\r\n", 200, ""},
		{"multi-line FEAT", "211-Features:\r\n EPRT\r\n MLST type*;size*;\r\n211 End\r\n", 211, "Features:\n EPRT\n MLST type*;size*;\nEnd"},
		{"lines inside start with anything", "123-first\r\n123-again\r\n456 other code\r\n\r\n1234\r\n123 last\r\n", 123,
			"first\n123-again\n456 other code\n\n1234\nlast"},
		{"ended by the code alone", "211-a\r\n211\r\n", 211, "a\n"},
		{"CR inside kept", "200 a\rb\r\r\n", 200, "a\rb\r"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := bufio.NewReader(strings.NewReader(tc.in + "999 next"))
			code, text, err := readReply(r)
			if err != nil || code != tc.code || text != tc.text {
				t.Errorf("readReply(%q) = %d, %q, %v; want %d, %q, nil", tc.in, code, text, err, tc.code, tc.text)
			}
			if rest, _ := io.ReadAll(r); string(rest) != "999 next" {
				t.Errorf("readReply(%q) left %q; want the next reply", tc.in, rest)
			}
		})
	}
}

func TestReadReply_bad(t *testing.T) {
	long := strings.Repeat("x", maxReadReplyBytes)
	tests := []struct {
		name  string
		in    string
		proto bool // a ProtocolError; else io.ErrUnexpectedEOF
	}{
		{"empty", "", false},
		{"EOF in a line", "220 Serv", false},
		{"EOF in a multi-line reply", "211-a\r\n b\r\n", false},
		{"short", "22\r\n", true},
		{"not digits", "abc def\r\n", true},
		{"code 600", "600 x\r\n", true},
		{"code 260", "260 x\r\n", true},
		{"no separator", "220x\r\n", true},
		{"too long", "220 " + long + "\r\n", true},
		{"too long, multi-line", "211-a\r\n" + strings.Repeat(long[:1000]+"\r\n", 1100) + "211 b\r\n", true},
		{"too many lines", "211-a\r\n" + strings.Repeat("\r\n", maxReadReplyLines) + "211 b\r\n", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, text, err := readReply(bufio.NewReader(strings.NewReader(tc.in)))
			var pe textproto.ProtocolError
			if tc.proto && !errors.As(err, &pe) || !tc.proto && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("readReply() = %d, %.40q, %v; want a protocol error %v", code, text, err, tc.proto)
			}
		})
	}
}

// formatTestReply writes a reply as a server would: text's lines after
// the code, "-" on all but the last.
func formatTestReply(code int, text string) string {
	ls := strings.Split(text, "\n")
	c := strconv.Itoa(code)
	if len(ls) == 1 {
		return c + " " + text + "\r\n"
	}
	var sb strings.Builder
	sb.WriteString(c + "-" + ls[0] + "\r\n")
	for _, l := range ls[1 : len(ls)-1] {
		sb.WriteString(l + "\r\n")
	}
	sb.WriteString(c + " " + ls[len(ls)-1] + "\r\n")
	return sb.String()
}

// FuzzReadReply checks that readReply never panics, returns a valid code,
// and reads the same reply again from the reply written back.
func FuzzReadReply(f *testing.F) {
	for _, s := range []string{
		"220 Service ready for new user.\r\n",
		"211-Features:\r\n MDTM\r\n REST STREAM\r\n SIZE\r\n MLST type*;size*;modify*;\r\n211 End\r\n",
		"123-First line\r\nSecond line\r\n  234 A line beginning with numbers\r\n123 The last line\r\n",
		"250-Listing /pub\r\n type=dir;modify=20240102030405; /pub\r\n250 End\r\n",
		"227 Entering Passive Mode (127,0,0,1,4,1).\n",
		"200\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		code, text, err := readReply(bufio.NewReader(strings.NewReader(string(in))))
		if err != nil {
			return
		}
		if code < 100 || code > 559 {
			t.Fatalf("readReply(%q) code %d", in, code)
		}
		again := formatTestReply(code, text)
		code2, text2, err := readReply(bufio.NewReader(strings.NewReader(again)))
		if err != nil || code2 != code || text2 != text {
			t.Errorf("readReply(%q) = %d, %q; written back as %q, read as %d, %q, %v", in, code, text, again, code2, text2, err)
		}
	})
}

// FuzzParseListLine checks that parseListLine never panics and that an
// entry it returns has a name that is part of the line.
func FuzzParseListLine(f *testing.F) {
	for _, s := range []string{
		"-rw-r--r--    1 0        0               6 Dec 03 11:19 a.txt",
		"drwxr-xr-x    2 0        0            4096 Jan  5  2021 pub",
		"lrwxrwxrwx    1 0        0               5 Mar 01 10:00 link -> a.txt",
		"-rw-r--r--+ 1 u g 3 2024-01-02 15:04 iso",
		"01-02-24  03:04PM       <DIR>          name",
		"12-31-99  12:30AM              1234 file with spaces.txt",
		"total 12",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		e, ok := parseListLine(line, listNow)
		if !ok {
			return
		}
		if e.Name == "" || !strings.Contains(line, e.Name) {
			t.Errorf("parseListLine(%q).Name = %q: not in the line", line, e.Name)
		}
		if e.Facts != nil || e.Type < EntryFile || e.Type > EntryOther {
			t.Errorf("parseListLine(%q) = %+v", line, e)
		}
	})
}

// formatTestMLSx writes an entry's facts, in order of name, and its name,
// as MLSD does.
func formatTestMLSx(e Entry) string {
	var sb strings.Builder
	for _, k := range slices.Sorted(maps.Keys(e.Facts)) {
		sb.WriteString(k + "=" + e.Facts[k] + ";")
	}
	return sb.String() + " " + e.Name
}

// FuzzParseMLSxEntry checks that parseMLSxEntry never panics, and that
// the entry it returns, written back, parses the same.
func FuzzParseMLSxEntry(f *testing.F) {
	for _, s := range []string{
		"type=file;size=1024;modify=20240102030405;perm=adfrw; name with  spaces",
		"Type=dir;Modify=19991231235959.5;UNIX.mode=0755; pub",
		"type=OS.unix=slink:/etc/x;size=6; ln;x=y",
		" bare",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		e, err := parseMLSxEntry(line)
		if err != nil {
			return
		}
		again := formatTestMLSx(e)
		e2, err := parseMLSxEntry(again)
		if err != nil || e2.Name != e.Name || e2.Type != e.Type || e2.Size != e.Size || !e2.ModTime.Equal(e.ModTime) ||
			!maps.Equal(e2.Facts, e.Facts) {
			t.Errorf("parseMLSxEntry(%q) = %+v; written back as %q, parsed as %+v, %v", line, e, again, e2, err)
		}
		if !e.ModTime.IsZero() && e.ModTime.Location() != time.UTC {
			t.Errorf("parseMLSxEntry(%q).ModTime = %v; want UTC", line, e.ModTime)
		}
	})
}
