package lineproto_test

import (
	"net/netip"
	"strconv"
)

func netipMust(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func itoa(i int) string { return strconv.Itoa(i) }
