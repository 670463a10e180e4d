package lineproto

// UpperASCII returns s with the ASCII letters a to z upper-cased and every
// other octet as it is. Protocol keywords (commands, capability names,
// arguments such as "TLS" or "ON") are case-insensitive ASCII (RFC 5234
// §2.3): strings.ToUpper would also map non-ASCII letters onto ASCII ones
// ("ſtat" to "STAT", "ı" to "I"), so that a word that is no keyword would
// be taken for one.
func UpperASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if 'a' <= s[i] && s[i] <= 'z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'a' <= b[j] && b[j] <= 'z' {
					b[j] -= 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
