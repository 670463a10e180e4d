package imapwire

import (
	"strconv"
	"time"
)

var months = [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// parseDate parses date-text: date-day "-" date-month "-" date-year, with a
// day of one or two digits, as a time at midnight UTC (RFC 9051 §9).
func parseDate(s string) (time.Time, bool) {
	i := 0
	day := 0
	for i < len(s) && i < 2 && isDigit(s[i]) {
		day = day*10 + int(s[i]-'0')
		i++
	}
	if i == 0 || i+1+3+1+4 != len(s) || s[i] != '-' || s[i+4] != '-' {
		return time.Time{}, false
	}
	m := month(s[i+1 : i+4])
	year, ok := digits(s[i+5:])
	if m == 0 || !ok || day < 1 || day > daysIn(time.Month(m), year) {
		return time.Time{}, false
	}
	return time.Date(year, time.Month(m), day, 0, 0, 0, 0, time.UTC), true
}

// parseDateTime parses the inside of date-time (RFC 9051 §9):
// date-day-fixed "-" date-month "-" date-year SP time SP zone, where
// date-day-fixed is (SP DIGIT) / 2DIGIT. Clients also send one digit with no
// space ("1-Feb-2024"), which is accepted.
func parseDateTime(s string) (time.Time, bool) {
	if len(s) > 0 && s[0] == ' ' {
		s = s[1:]
	}
	if len(s) == len("1-Jan-2000 00:00:00 +0000") {
		s = "0" + s
	}
	if len(s) != len("01-Jan-2000 00:00:00 +0000") || s[2] != '-' || s[6] != '-' || s[11] != ' ' ||
		s[14] != ':' || s[17] != ':' || s[20] != ' ' || (s[21] != '+' && s[21] != '-') {
		return time.Time{}, false
	}
	day, ok1 := digits(s[0:2])
	m := month(s[3:6])
	year, ok2 := digits(s[7:11])
	hh, ok3 := digits(s[12:14])
	mm, ok4 := digits(s[15:17])
	ss, ok5 := digits(s[18:20])
	zh, ok6 := digits(s[22:24])
	zm, ok7 := digits(s[24:26])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7) || m == 0 || day < 1 || day > daysIn(time.Month(m), year) ||
		hh > 23 || mm > 59 || ss > 60 || zm > 59 {
		return time.Time{}, false
	}
	off := zh*3600 + zm*60
	if s[21] == '-' {
		off = -off
	}
	if ss == 60 {
		ss = 59 // a leap second, which time.Time cannot hold
	}
	return time.Date(year, time.Month(m), day, hh, mm, ss, 0, time.FixedZone("", off)), true
}

func month(s string) int {
	if len(s) != 3 {
		return 0
	}
	for i, m := range months {
		if upper(s[0]) == upper(m[0]) && upper(s[1]) == upper(m[1]) && upper(s[2]) == upper(m[2]) {
			return i + 1
		}
	}
	return 0
}

func digits(s string) (int, bool) {
	if len(s) == 0 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

func daysIn(m time.Month, year int) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// AppendDate appends t's date in date-text form ("2-Jan-2006", RFC 9051 §9)
// to b.
func AppendDate(b []byte, t time.Time) []byte {
	y, m, d := t.Date()
	b = strconv.AppendInt(b, int64(d), 10)
	b = append(b, '-')
	b = append(b, months[m-1]...)
	b = append(b, '-')
	return appendPad(b, y, 4)
}

// AppendDateTime appends t as the inside of a date-time
// ("02-Jan-2006 15:04:05 -0700", RFC 9051 §9) to b, without quotes.
func AppendDateTime(b []byte, t time.Time) []byte {
	y, m, d := t.Date()
	hh, mm, ss := t.Clock()
	_, off := t.Zone()
	b = appendPad(b, d, 2)
	b = append(b, '-')
	b = append(b, months[m-1]...)
	b = append(b, '-')
	b = appendPad(b, y, 4)
	b = append(b, ' ')
	b = appendPad(b, hh, 2)
	b = append(b, ':')
	b = appendPad(b, mm, 2)
	b = append(b, ':')
	b = appendPad(b, ss, 2)
	b = append(b, ' ')
	if off < 0 {
		b = append(b, '-')
		off = -off
	} else {
		b = append(b, '+')
	}
	b = appendPad(b, off/3600, 2)
	return appendPad(b, off%3600/60, 2)
}

func appendPad(b []byte, n, width int) []byte {
	var tmp [20]byte
	s := strconv.AppendInt(tmp[:0], int64(n), 10)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}
