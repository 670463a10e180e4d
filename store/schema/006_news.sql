-- Netnews (NNTP, RFC 3977): newsgroups, articles, and the number each
-- article has in each group it is filed in. high is the last number given
-- in the group: it never goes back, so a number is never given twice, even
-- after articles are removed. Article bodies are kept in body_chunks, as
-- mail bodies are; the header is kept whole (without Xref), with the
-- overview fields beside it.
CREATE TABLE news_groups (
	id          INTEGER PRIMARY KEY,
	name        TEXT NOT NULL UNIQUE,
	description TEXT NOT NULL DEFAULT '',
	status      TEXT NOT NULL DEFAULT 'y',    -- 'y', 'n' or 'm' (RFC 3977 §7.6.3)
	created     INTEGER NOT NULL,             -- unix seconds
	high        INTEGER NOT NULL DEFAULT 0    -- the last article number given
);

CREATE TABLE news_articles (
	id         INTEGER PRIMARY KEY,
	message_id TEXT NOT NULL UNIQUE,
	header     BLOB NOT NULL,                -- CRLF lines, no Xref, no empty line
	body_id    INTEGER NOT NULL REFERENCES bodies(id),
	bytes      INTEGER NOT NULL,             -- header, empty line and body
	lines      INTEGER NOT NULL,             -- of the body
	subject    TEXT NOT NULL,
	sender     TEXT NOT NULL,                -- the From field
	date       TEXT NOT NULL,                -- the Date field as written
	refs       TEXT NOT NULL,                -- the References field
	xref       TEXT NOT NULL,                -- "group:n ..." in Newsgroups order
	arrived    INTEGER NOT NULL              -- unix nanoseconds
);
CREATE INDEX news_articles_arrived ON news_articles(arrived);

CREATE TABLE news_numbers (
	group_id   INTEGER NOT NULL REFERENCES news_groups(id) ON DELETE CASCADE,
	number     INTEGER NOT NULL,
	article_id INTEGER NOT NULL REFERENCES news_articles(id) ON DELETE CASCADE,
	PRIMARY KEY (group_id, number)
) WITHOUT ROWID;
CREATE INDEX news_numbers_article ON news_numbers(article_id);

CREATE TRIGGER news_bodies_gc AFTER DELETE ON news_articles
WHEN NOT EXISTS (SELECT 1 FROM news_articles WHERE body_id = OLD.body_id)
 AND NOT EXISTS (SELECT 1 FROM messages WHERE body_id = OLD.body_id)
BEGIN
	DELETE FROM bodies WHERE id = OLD.body_id;
END;

-- The group every store has, for trying a news client at once.
INSERT INTO news_groups (name, description, created)
VALUES ('inetkit.test', 'Tests of inetkit''s news server', CAST(strftime('%s', 'now') AS INTEGER));
