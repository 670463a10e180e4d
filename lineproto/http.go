package lineproto

import "bytes"

var httpMethods = [][]byte{
	[]byte("GET"), []byte("HEAD"), []byte("POST"), []byte("PUT"), []byte("DELETE"),
	[]byte("CONNECT"), []byte("OPTIONS"), []byte("TRACE"), []byte("PATCH"),
}

// IsHTTPRequest reports whether line, the first line of a command without
// its line ending, is the request line of HTTP (RFC 9112 §3): an HTTP
// method in upper case followed by a space, or three words of which the
// last starts with "HTTP/". A browser, a proxy or a cross-protocol attack
// from a web page talking to a line-protocol port sends one; the server
// should close the connection rather than answer the header lines that
// follow as commands.
func IsHTTPRequest(line []byte) bool {
	f := bytes.Fields(line)
	if len(f) == 0 {
		return false
	}
	if len(f) == 3 && bytes.HasPrefix(bytes.ToUpper(f[2]), []byte("HTTP/")) {
		return true
	}
	for _, m := range httpMethods {
		if bytes.Equal(f[0], m) && len(f) >= 2 && bytes.HasPrefix(f[1], []byte("/")) {
			return true
		}
	}
	return false
}
