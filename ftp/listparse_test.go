package ftp

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// listNow is the time the listings of the tests were made.
var listNow = time.Date(2024, time.March, 10, 12, 0, 0, 0, time.UTC)

func TestParseListLine(t *testing.T) {
	tests := []struct {
		name string
		line string
		want Entry
		ok   bool
	}{
		{"vsftpd file with time", "-rw-r--r--    1 0        0               6 Dec 03 11:19 a.txt",
			Entry{Name: "a.txt", Type: EntryFile, Size: 6, ModTime: time.Date(2023, 12, 3, 11, 19, 0, 0, time.UTC)}, true},
		{"time this year", "-rw-r--r--    1 ftp      ftp            10 Mar 09 08:05 new",
			Entry{Name: "new", Type: EntryFile, Size: 10, ModTime: time.Date(2024, 3, 9, 8, 5, 0, 0, time.UTC)}, true},
		{"dir with year", "drwxr-xr-x    2 0        0            4096 Jan  5  2021 pub",
			Entry{Name: "pub", Type: EntryDir, Size: 4096, ModTime: time.Date(2021, 1, 5, 0, 0, 0, 0, time.UTC)}, true},
		{"name with spaces", "-rw-r--r-- 1 user group 1234 Feb 29 2020 my  file .txt ",
			Entry{Name: "my  file .txt ", Type: EntryFile, Size: 1234, ModTime: time.Date(2020, 2, 29, 0, 0, 0, 0, time.UTC)}, true},
		{"symlink", "lrwxrwxrwx    1 0        0               5 Mar 01 10:00 link -> a.txt",
			Entry{Name: "link", Type: EntryLink, Size: 5, ModTime: time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)}, true},
		{"no group", "-rw-r--r--   1 owner   77 Jul 14  1999 old",
			Entry{Name: "old", Type: EntryFile, Size: 77, ModTime: time.Date(1999, 7, 14, 0, 0, 0, 0, time.UTC)}, true},
		{"long-iso, ACL mark", "-rw-r--r--+ 1 u g 3 2024-01-02 15:04 iso",
			Entry{Name: "iso", Type: EntryFile, Size: 3, ModTime: time.Date(2024, 1, 2, 15, 4, 0, 0, time.UTC)}, true},
		{"device", "crw-rw-rw- 1 0 0 0 Jan 01 2000 null",
			Entry{Name: "null", Type: EntryOther, Size: 0, ModTime: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)}, true},
		{"CR", "-rw-r--r-- 1 u g 1 Jan 01 2000 cr\r",
			Entry{Name: "cr", Type: EntryFile, Size: 1, ModTime: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)}, true},
		{"DOS dir", "01-02-24  03:04PM       <DIR>          name",
			Entry{Name: "name", Type: EntryDir, Size: -1, ModTime: time.Date(2024, 1, 2, 15, 4, 0, 0, time.UTC)}, true},
		{"DOS file", "12-31-99  12:30AM              1234 file with spaces.txt",
			Entry{Name: "file with spaces.txt", Type: EntryFile, Size: 1234, ModTime: time.Date(1999, 12, 31, 0, 30, 0, 0, time.UTC)}, true},
		{"DOS four-digit year, 24 h", "07-04-2021  17:45                 0 empty",
			Entry{Name: "empty", Type: EntryFile, Size: 0, ModTime: time.Date(2021, 7, 4, 17, 45, 0, 0, time.UTC)}, true},
		{"total", "total 12", Entry{}, false},
		{"blank", "", Entry{}, false},
		{"no name", "-rw-r--r-- 1 u g 1 Jan 01 2000", Entry{}, false},
		{"no name, space", "-rw-r--r-- 1 u g 1 Jan 01 2000 ", Entry{}, false},
		{"bad mode", "xrw-r--r-- 1 u g 1 Jan 01 2000 x", Entry{}, false},
		{"bad month", "-rw-r--r-- 1 u g 1 Foo 01 2000 x", Entry{}, false},
		{"DOS bad time", "01-02-24  13:04PM  <DIR>  x", Entry{}, false},
		{"DOS bad size", "01-02-24  03:04PM  12x  x", Entry{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseListLine(tc.line, listNow)
			if ok != tc.ok {
				t.Fatalf("parseListLine(%q) = %+v, %v; want ok %v", tc.line, got, ok, tc.ok)
			}
			if diff := cmp.Diff(tc.want, got); ok && diff != "" {
				t.Errorf("parseListLine(%q) mismatch (-want +got):\n%s", tc.line, diff)
			}
		})
	}
}

func TestParseMLSxEntry(t *testing.T) {
	tests := []struct {
		name string
		line string
		want Entry
	}{
		{"file", "type=file;size=1024;modify=20240102030405;perm=adfrw; name with  spaces",
			Entry{Name: "name with  spaces", Type: EntryFile, Size: 1024, ModTime: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
				Facts: map[string]string{"type": "file", "size": "1024", "modify": "20240102030405", "perm": "adfrw"}}},
		{"dir, fraction, upper-case facts", "Type=dir;Modify=19991231235959.5;UNIX.mode=0755; pub",
			Entry{Name: "pub", Type: EntryDir, Size: -1, ModTime: time.Date(1999, 12, 31, 23, 59, 59, 5e8, time.UTC),
				Facts: map[string]string{"type": "dir", "modify": "19991231235959.5", "unix.mode": "0755"}}},
		{"cdir", "type=cdir;sizd=4096; /pub",
			Entry{Name: "/pub", Type: EntryDir, Size: 4096, Facts: map[string]string{"type": "cdir", "sizd": "4096"}}},
		{"slink with = in value", "type=OS.unix=slink:/etc/x;size=6; ln;x=y",
			Entry{Name: "ln;x=y", Type: EntryLink, Size: 6, Facts: map[string]string{"type": "OS.unix=slink:/etc/x", "size": "6"}}},
		{"no facts", " bare", Entry{Name: "bare", Type: EntryOther, Size: -1, Facts: map[string]string{}}},
		{"space in value", "unix.owner=a b;type=file; f", Entry{Name: "f", Type: EntryFile, Size: -1,
			Facts: map[string]string{"unix.owner": "a b", "type": "file"}}},
		{"bad size and time kept as facts", "type=file;size=x;modify=2024; f",
			Entry{Name: "f", Type: EntryFile, Size: -1, Facts: map[string]string{"type": "file", "size": "x", "modify": "2024"}}},
		{"leading space of name kept", "type=file;  lead", Entry{Name: " lead", Type: EntryFile, Size: -1,
			Facts: map[string]string{"type": "file"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseMLSxEntry(tc.line)
			if err != nil {
				t.Fatalf("parseMLSxEntry(%q) = %v", tc.line, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("parseMLSxEntry(%q) mismatch (-want +got):\n%s", tc.line, diff)
			}
		})
	}
	for _, bad := range []string{
		"", "type=file;", "type=file;name", "type=file name", "=x; n", "type; n", "type=file; ", "a;b=c; n",
	} {
		if e, err := parseMLSxEntry(bad); err == nil {
			t.Errorf("parseMLSxEntry(%q) = %+v; want an error", bad, e)
		}
	}
}

func TestParseFactTime(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"20240102030405", time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), true},
		{"20240102030405.123", time.Date(2024, 1, 2, 3, 4, 5, 123e6, time.UTC), true},
		{"20240102030405.", time.Time{}, false},
		{"2024010203040", time.Time{}, false},
		{"20241302030405", time.Time{}, false},
		{"2024010203040x", time.Time{}, false},
		{"+0240102030405", time.Time{}, false},
	} {
		got, err := parseFactTime(tc.in)
		if (err == nil) != tc.ok || !got.Equal(tc.want) {
			t.Errorf("parseFactTime(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestUnquote257(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{`"/" is the current directory`, "/", true},
		{`"/a ""b"" c" created`, `/a "b" c`, true},
		{`""""`, `"`, true},
		{`"/unterminated`, "", false},
		{`/noquote`, "", false},
	} {
		got, ok := unquote257(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("unquote257(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
