package ftp

import (
	"net/netip"
	"testing"
)

func TestParsePORT(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want string // "" for an error
	}{
		{"127,0,0,1,4,1", "127.0.0.1:1025"},
		{"10,1,2,3,255,255", "10.1.2.3:65535"},
		{" 127, 0,0,1,0,21", "127.0.0.1:21"},
		{"127,0,0,1,4", ""},
		{"127,0,0,1,4,1,1", ""},
		{"127,0,0,256,4,1", ""},
		{"127,0,0,-1,4,1", ""},
		{"127,0,0,1,4,", ""},
		{"1,2,3,4,5,0x1", ""},
		{"", ""},
	} {
		ap, err := parsePORT(tt.in)
		if tt.want == "" {
			if err == nil {
				t.Errorf("parsePORT(%q) = %v; want an error", tt.in, ap)
			}
			continue
		}
		if err != nil || ap.String() != tt.want {
			t.Errorf("parsePORT(%q) = %v, %v; want %s", tt.in, ap, err, tt.want)
		}
	}
}

func TestParseEPRT(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want string
	}{
		{"|1|132.235.1.2|6275|", "132.235.1.2:6275"},
		{"|2|1080::8:800:200C:417A|5282|", "[1080::8:800:200c:417a]:5282"},
		{"!1!127.0.0.1!2000!", "127.0.0.1:2000"},
		{"|2|127.0.0.1|2000|", ""}, // protocol and address disagree
		{"|1|::1|2000|", ""},
		{"|1|127.0.0.1|0|", ""},
		{"|1|127.0.0.1|65536|", ""},
		{"|1|127.0.0.1|20|x", ""},
		{"|3|127.0.0.1|2000|", ""},
		{"|2|fe80::1%eth0|2000|", ""},
		{" 1 127.0.0.1 2000 ", ""},
		{"", ""},
	} {
		ap, err := parseEPRT(tt.in)
		if tt.want == "" {
			if err == nil {
				t.Errorf("parseEPRT(%q) = %v; want an error", tt.in, ap)
			}
			continue
		}
		if err != nil || ap.String() != tt.want {
			t.Errorf("parseEPRT(%q) = %v, %v; want %s", tt.in, ap, err, tt.want)
		}
	}
}

func TestParseReplies(t *testing.T) {
	for in, want := range map[string]string{
		"Entering Passive Mode (127,0,0,1,195,80).": "127.0.0.1:50000",
		"Entering Passive Mode 127,0,0,1,195,80":    "127.0.0.1:50000",
		"=127,0,0,1,195,80":                         "127.0.0.1:50000",
		"Entering Passive Mode (1,2,3)":             "",
		"Entering Passive Mode (300,0,0,1,195,80)":  "",
	} {
		ap, err := parsePASVReply(in)
		if want == "" {
			if err == nil {
				t.Errorf("parsePASVReply(%q) = %v; want an error", in, ap)
			}
		} else if err != nil || ap.String() != want {
			t.Errorf("parsePASVReply(%q) = %v, %v; want %s", in, ap, err, want)
		}
	}
	for in, want := range map[string]int{
		"Entering Extended Passive Mode (|||6446|)": 6446,
		"EPSV ok (!!!1025!)":                        1025,
		"Entering Extended Passive Mode (|||0|)":    -1,
		"Entering Extended Passive Mode (||6446|)":  -1,
		"Entering Extended Passive Mode":            -1,
	} {
		p, err := parseEPSVReply(in)
		if want < 0 {
			if err == nil {
				t.Errorf("parseEPSVReply(%q) = %d; want an error", in, p)
			}
		} else if err != nil || int(p) != want {
			t.Errorf("parseEPSVReply(%q) = %d, %v; want %d", in, p, err, want)
		}
	}
}

func TestFormatRoundTrip(t *testing.T) {
	for _, s := range []string{"127.0.0.1:1025", "[::1]:2121", "[::ffff:10.0.0.1]:65535"} {
		ap := netip.MustParseAddrPort(s)
		got, err := parseEPRT(formatEPRT(ap))
		if err != nil || got != netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()) {
			t.Errorf("parseEPRT(formatEPRT(%v)) = %v, %v", ap, got, err)
		}
		if ap.Addr().Unmap().Is4() {
			got, err := parsePORT(formatPORT(ap))
			if err != nil || got.Addr() != ap.Addr().Unmap() || got.Port() != ap.Port() {
				t.Errorf("parsePORT(formatPORT(%v)) = %v, %v", ap, got, err)
			}
		}
	}
}

func FuzzAddress(f *testing.F) {
	for _, s := range []string{"127,0,0,1,4,1", "|1|127.0.0.1|2000|", "|2|::1|2000|", "(|||6446|)", "Entering Passive Mode (1,2,3,4,5,6)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ap, err := parsePORT(s); err == nil {
			if got, err := parsePORT(formatPORT(ap)); err != nil || got != ap {
				t.Errorf("PORT %q: %v does not round-trip: %v, %v", s, ap, got, err)
			}
		}
		if ap, err := parseEPRT(s); err == nil {
			if ap.Port() == 0 || ap.Addr().Zone() != "" {
				t.Errorf("EPRT %q accepted %v", s, ap)
			}
			if got, err := parseEPRT(formatEPRT(ap)); err != nil || got != ap {
				t.Errorf("EPRT %q: %v does not round-trip: %v, %v", s, ap, got, err)
			}
		}
		parsePASVReply(s)
		if p, err := parseEPSVReply(s); err == nil && p == 0 {
			t.Errorf("EPSV reply %q gave port 0", s)
		}
	})
}
