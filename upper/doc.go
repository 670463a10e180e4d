// Package upper implements the uppercase service of the Python socket
// tutorial that inetkit grew from: a client sends text, the server answers
// with the text upper-cased.
//
// The reply is exactly what the tutorial's Python server computes, with one
// difference: where Python's server crashes on bytes that are not UTF-8, this
// package passes them through. For any input p the reply is Python's
//
//	p.decode('utf-8', 'surrogateescape').upper().encode('utf-8', 'surrogateescape')
//
// that is, full Unicode case mapping ("straße" becomes "STRASSE", "ﬁ" becomes
// "FI") with every byte outside a valid UTF-8 sequence left as it is. [Append],
// [Bytes], [String] and [Transformer] compute it.
//
// [Handler] serves the service over a stream connection in one of three modes
// (see [Mode]); [PacketHandler] serves it over datagrams. Both run on package
// sockserver. [Exchange] and [Stream] are the client side.
package upper
