package nntp_test

import (
	"testing"

	"github.com/inetkit/inetkit/internal/prototest"
)

// TestConn_reader runs the reader commands in each state: no group
// selected, an empty group, a group with articles.
func TestConn_reader(t *testing.T) {
	s := newServer(t, newSpool())
	c, r := greeted(t, s)
	prototest.Run(t, c, r, `
C: CAPABILITIES
S: 101 Capability list:
S: VERSION 2
S: READER
S: IHAVE
S: POST
S: NEWNEWS
S: HDR
S: OVER MSGID
S: LIST ACTIVE NEWSGROUPS OVERVIEW.FMT HEADERS ACTIVE.TIMES DISTRIB.PATS
S: AUTHINFO USER SASL
S: SASL PLAIN
S: IMPLEMENTATION inetkit
S: .
C: MODE READER
S: 200 Posting allowed
C: ARTICLE
S: 412 No newsgroup selected
C: HEAD 1
S: 412 *
C: STAT
S: 412 *
C: NEXT
S: 412 *
C: LAST
S: 412 *
C: OVER
S: 412 *
C: HDR Subject
S: 412 *
C: LISTGROUP
S: 412 *
C: GROUP no.such.group
S: 411 No such newsgroup
C: GROUP misc.test
S: 211 0 1 0 misc.test
C: ARTICLE
S: 420 Current article number is invalid
C: NEXT
S: 420 *
C: ARTICLE 1
S: 423 No article with that number
C: ARTICLE <nope@example.org>
S: 430 No article with that message-id
C: OVER 1-
S: 423 No articles in that range
C: XOVER 1-4294967295
S: 423 *
C: LISTGROUP misc.test
S: 211 0 1 0 misc.test list follows
S: .
C: POST
S: 340 *
C: From: Alice <alice@example.org>
C: Newsgroups: misc.test,alt.test
C: Subject: first
C: Message-ID: <one@example.org>
C: Date: Mon, 01 Jan 2024 00:00:00 +0000
C:
C: hello
C: .
S: 240 Article received OK <one@example.org>
C: POST
S: 340 *
C: From: Bob <bob@example.org>
C: Newsgroups: misc.test
C: Subject: Re: first
C: References: <one@example.org>
C: Message-ID: <two@example.org>
C: Date: Mon, 01 Jan 2024 00:01:00 +0000
C:
C: line 1
C: line 2
C: .
S: 240 Article received OK <two@example.org>
C: GROUP misc.test
S: 211 2 1 2 misc.test
C: STAT
S: 223 1 <one@example.org>
C: NEXT
S: 223 2 <two@example.org>
C: NEXT
S: 421 No next article in this group
C: LAST
S: 223 1 <one@example.org>
C: LAST
S: 422 No previous article in this group
C: HEAD
S: 221 1 <one@example.org>
S: Path: news.test!not-for-mail
S: From: Alice <alice@example.org>
S: Newsgroups: misc.test,alt.test
S: Subject: first
S: Message-ID: <one@example.org>
S: Date: Mon, 01 Jan 2024 00:00:00 +0000
S: Xref: news.test misc.test:1 alt.test:1
S: .
C: BODY 2
S: 222 2 <two@example.org>
S: line 1
S: line 2
S: .
C: ARTICLE <two@example.org>
S: 220 0 <two@example.org>
S: Path: news.test!not-for-mail
S: From: Bob <bob@example.org>
S: Newsgroups: misc.test
S: Subject: Re: first
S: References: <one@example.org>
S: Message-ID: <two@example.org>
S: Date: Mon, 01 Jan 2024 00:01:00 +0000
S: Xref: news.test misc.test:2
S:
S: line 1
S: line 2
S: .
C: STAT
S: 223 2 <two@example.org>
C: STAT <one@example.org>
S: 223 0 <one@example.org>
C: LISTGROUP
S: 211 2 1 2 misc.test list follows
S: 1
S: 2
S: .
C: LISTGROUP misc.test 2-
S: 211 2 1 2 misc.test list follows
S: 2
S: .
C: OVER 1-2
S: 224 Overview information follows
S: 1	first	Alice <alice@example.org>	Mon, 01 Jan 2024 00:00:00 +0000	<one@example.org>		*	1	Xref: news.test misc.test:1 alt.test:1
S: 2	Re: first	Bob <bob@example.org>	Mon, 01 Jan 2024 00:01:00 +0000	<two@example.org>	<one@example.org>	*	2	Xref: news.test misc.test:2
S: .
C: OVER <two@example.org>
S: 224 *
S: 0	Re: first	*
S: .
C: OVER
S: 224 *
S: 1	first	*
S: .
C: HDR Subject 1-
S: 225 Headers follow
S: 1 first
S: 2 Re: first
S: .
C: XHDR references 2
S: 221 Headers follow
S: 2 <one@example.org>
S: .
C: HDR Newsgroups <one@example.org>
S: 225 *
S: 0 misc.test,alt.test
S: .
C: HDR :lines 1-2
S: 225 *
S: 1 1
S: 2 2
S: .
C: HDR :nosuch 1
S: 501 *
C: GROUP alt.test
S: 211 1 1 1 alt.test
C: ARTICLE 2
S: 423 *
C: LIST
S: 215 List of newsgroups follows
S: alt.test 1 1 y
S: misc.test 2 1 y
S: .
C: LIST ACTIVE misc.*
S: 215 *
S: misc.test 2 1 y
S: .
C: LIST ACTIVE *,!misc.*
S: 215 *
S: alt.test 1 1 y
S: .
C: LIST NEWSGROUPS
S: 215 *
S: alt.test	
S: misc.test	
S: .
C: LIST ACTIVE.TIMES a*
S: 215 *
S: alt.test * news
S: .
C: LIST OVERVIEW.FMT
S: 215 *
S: Subject:
S: From:
S: Date:
S: Message-ID:
S: References:
S: :bytes
S: :lines
S: Xref:full
S: .
C: LIST HEADERS
S: 215 *
S: :
S: :bytes
S: :lines
S: .
C: LIST DISTRIB.PATS
S: 215 *
S: .
C: LIST NOSUCH
S: 501 *
C: NEWGROUPS 19700101 000000 GMT
S: 231 *
S: alt.test 1 1 y
S: misc.test 2 1 y
S: .
C: NEWGROUPS 20991231 235959 GMT
S: 231 *
S: .
C: NEWNEWS * 700101 000000
S: 230 *
S: <one@example.org>
S: <two@example.org>
S: .
C: NEWNEWS alt.* 19700101 000000 GMT
S: 230 *
S: <one@example.org>
S: .
C: NEWNEWS * 19701301 000000 GMT
S: 501 *
C: DATE
S: 111 ??????????????
C: HELP
S: 100 Help text follows
`)
	for {
		if l := readLine(t, c, r); l == "." {
			break
		}
	}
	prototest.Run(t, c, r, `
C: XYZZY
S: 500 Unknown command
C: GROUP
S: 501 Syntax error
C: QUIT
S: 205 closing connection
`)
	if rest, eof := readAll(t, c, r); rest != "" || !eof {
		t.Errorf("after QUIT: %q, eof %v", rest, eof)
	}
}
