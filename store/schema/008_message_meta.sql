-- What the console lists and searches, kept beside the mail.
--
-- 1. Message and article ids are never given twice, so that "the messages
-- stored after id N" stays true after the newest message is deleted:
-- SQLite gives a new row the largest id in use plus one, the id of the row
-- just deleted. id_high holds the largest id a table held that is no longer
-- in it (kept by the triggers below, written only when the newest row is
-- deleted), and the store gives new rows ids above both. AUTOINCREMENT would
-- do the same, but it cannot be added to a table, and it writes a page of
-- sqlite_sequence at every commit that stores mail.
CREATE TABLE id_high (
	name TEXT PRIMARY KEY,                   -- 'messages' or 'news_articles'
	high INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO id_high (name, high) VALUES
	('messages', (SELECT coalesce(max(id), 0) FROM messages)),
	('news_articles', (SELECT coalesce(max(id), 0) FROM news_articles));

CREATE TRIGGER messages_id_high AFTER DELETE ON messages
WHEN OLD.id > (SELECT high FROM id_high WHERE name = 'messages')
BEGIN
	UPDATE id_high SET high = OLD.id WHERE name = 'messages';
END;

CREATE TRIGGER news_articles_id_high AFTER DELETE ON news_articles
WHEN OLD.id > (SELECT high FROM id_high WHERE name = 'news_articles')
BEGIN
	UPDATE id_high SET high = OLD.id WHERE name = 'news_articles';
END;

-- 2. Lists newest first: a mailbox's messages by id (an index on
-- mailbox_id is ordered by mailbox_id, then id), a group's articles by id.
CREATE INDEX messages_mailbox ON messages(mailbox_id);
CREATE INDEX news_numbers_group_article ON news_numbers(group_id, article_id);

-- 3. A mailbox's message count and how many of them have the \Seen flag,
-- kept by triggers, so that a list's Total and Unread cost no count of a
-- large mailbox. A message's flags are deleted (ON DELETE CASCADE) after
-- the message and before its AFTER DELETE triggers run, so its \Seen is
-- counted out BEFORE the delete; the flags trigger then finds no message
-- and changes nothing.
ALTER TABLE mailboxes ADD COLUMN total INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mailboxes ADD COLUMN seen INTEGER NOT NULL DEFAULT 0;
UPDATE mailboxes SET
	total = (SELECT count(*) FROM messages WHERE mailbox_id = mailboxes.id),
	seen = (SELECT count(*) FROM messages m WHERE m.mailbox_id = mailboxes.id
		AND EXISTS (SELECT 1 FROM flags f WHERE f.message_id = m.id AND f.flag = '\Seen' COLLATE NOCASE));

CREATE TRIGGER messages_count_insert AFTER INSERT ON messages BEGIN
	UPDATE mailboxes SET total = total + 1 WHERE id = NEW.mailbox_id;
END;

CREATE TRIGGER messages_count_delete BEFORE DELETE ON messages BEGIN
	UPDATE mailboxes SET total = total - 1,
		seen = seen - EXISTS (SELECT 1 FROM flags WHERE message_id = OLD.id AND flag = '\Seen' COLLATE NOCASE)
	WHERE id = OLD.mailbox_id;
END;

CREATE TRIGGER messages_count_move AFTER UPDATE OF mailbox_id ON messages
WHEN OLD.mailbox_id != NEW.mailbox_id
BEGIN
	UPDATE mailboxes SET total = total - 1,
		seen = seen - EXISTS (SELECT 1 FROM flags WHERE message_id = NEW.id AND flag = '\Seen' COLLATE NOCASE)
	WHERE id = OLD.mailbox_id;
	UPDATE mailboxes SET total = total + 1,
		seen = seen + EXISTS (SELECT 1 FROM flags WHERE message_id = NEW.id AND flag = '\Seen' COLLATE NOCASE)
	WHERE id = NEW.mailbox_id;
END;

CREATE TRIGGER flags_seen_insert AFTER INSERT ON flags
WHEN NEW.flag = '\Seen' COLLATE NOCASE
 AND (SELECT count(*) FROM flags WHERE message_id = NEW.message_id AND flag = '\Seen' COLLATE NOCASE) = 1
BEGIN
	UPDATE mailboxes SET seen = seen + 1 WHERE id = (SELECT mailbox_id FROM messages WHERE id = NEW.message_id);
END;

CREATE TRIGGER flags_seen_delete AFTER DELETE ON flags
WHEN OLD.flag = '\Seen' COLLATE NOCASE
 AND NOT EXISTS (SELECT 1 FROM flags WHERE message_id = OLD.message_id AND flag = '\Seen' COLLATE NOCASE)
BEGIN
	UPDATE mailboxes SET seen = seen - 1 WHERE id = (SELECT mailbox_id FROM messages WHERE id = OLD.message_id);
END;

-- 4. What a message list shows and searches of a mail body (shared by the
-- copies of a message), parsed when the body is stored, in the row that
-- names the body: it goes with the body, and storing it writes no page of
-- another table (a table of its own cost a tenth more CPU per delivery).
-- The bodies stored before this migration are parsed by the store's code;
-- the columns stay NULL for the bodies of news articles.
ALTER TABLE bodies ADD COLUMN from_addrs TEXT;     -- JSON [{"name","address"}], decoded (RFC 2047)
ALTER TABLE bodies ADD COLUMN to_addrs TEXT;
ALTER TABLE bodies ADD COLUMN cc_addrs TEXT;
ALTER TABLE bodies ADD COLUMN subject TEXT;        -- decoded
ALTER TABLE bodies ADD COLUMN date INTEGER;        -- the Date field, unix seconds; NULL if none or bad
ALTER TABLE bodies ADD COLUMN message_id TEXT;     -- without <>
ALTER TABLE bodies ADD COLUMN attachments INTEGER;
ALTER TABLE bodies ADD COLUMN snippet TEXT;        -- the start of the text, whitespace collapsed
ALTER TABLE bodies ADD COLUMN from_lc TEXT;        -- From's names and addresses, lower case
ALTER TABLE bodies ADD COLUMN to_lc TEXT;          -- To's and Cc's
ALTER TABLE bodies ADD COLUMN subject_lc TEXT;
ALTER TABLE bodies ADD COLUMN search BLOB;         -- from, to, cc, subject and text: UTF-8, lower case, at most 64 KiB
