// Package web is inetkit's HTTP service, built on net/http: a [FileServer]
// that serves the shared file root (read by anyone, written by logged-in
// users) and a [Server] that runs any [http.Handler] with every timeout and
// limit set and with the connection limits of package sockserver.
//
// The FileServer implements:
//
//   - GET and HEAD of files (RFC 9110 §9.3.1, §9.3.2) with byte ranges and
//     multiple ranges (RFC 9110 §14), strong entity tags made from the size
//     and modification time, and the conditional requests If-None-Match,
//     If-Modified-Since, If-Match, If-Unmodified-Since and If-Range
//     (RFC 9110 §13), through [http.ServeContent];
//   - gzip content coding (RFC 9110 §8.4.1.3) of text types for clients that
//     accept it, except for range requests;
//   - directory listings as HTML for browsers, or as JSON for
//     "Accept: application/json";
//   - PUT (RFC 9110 §9.3.4), which stores a file atomically and creates its
//     parent folders, and DELETE (RFC 9110 §9.3.5) of files and empty
//     folders, for users that Basic authentication (RFC 7617) lets write.
//
// Names that start with "." are hidden: they are never listed, served,
// written or deleted. A URL path is never cleaned into another name: a path
// with a "." or ".." element (after percent-decoding) is not found, one
// with a backslash or a NUL is a bad request, and one with empty elements
// ("//") is redirected to the path without them, so no spelling of a
// request reaches outside the file root. Symbolic links that lead outside
// it are not found, and not listed.
//
// The Server bounds the time to read request headers, the time a request
// body may stall, the time a write may make no progress, the life of an idle
// keep-alive connection, the size of request headers and bodies, and the
// connections open at once in total and per client address. It speaks
// HTTP/1.1, HTTP/2 over TLS (RFC 9113), and, if asked, HTTP/2 over
// cleartext with prior knowledge (RFC 9113 §3.3).
package web
