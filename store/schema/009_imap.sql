-- The state of inetkit's own IMAP server (internal/imapd), kept beside the
-- mail so that every writer (SMTP delivery, POP3, the console, both IMAP
-- servers) keeps it right through the triggers below, whatever its code.
--
-- 1. Mod-sequences (RFC 7162 §3.1): each mailbox counts its changes in
-- highest_modseq, which never goes back; a message's modseq is the value the
-- counter had after the message's last change (added, moved in, a flag set
-- or cleared). Messages stored before this migration get their UID (UIDs
-- grow with time), and each mailbox uid_next - 1, at least 1.
ALTER TABLE mailboxes ADD COLUMN highest_modseq INTEGER NOT NULL DEFAULT 1;
ALTER TABLE messages ADD COLUMN modseq INTEGER;
UPDATE messages SET modseq = uid;
UPDATE mailboxes SET highest_modseq = max(uid_next - 1, 1);
CREATE INDEX messages_modseq ON messages(mailbox_id, modseq);

-- The UIDs expunged, with the modseq of their expunge, for QRESYNC's
-- VANISHED (RFC 7162 §3.2.5). They are kept as long as their mailbox:
-- one short row per expunge.
CREATE TABLE expunged (
	mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
	uid        INTEGER NOT NULL,
	modseq     INTEGER NOT NULL,
	PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;
CREATE INDEX expunged_modseq ON expunged(mailbox_id, modseq);

-- The keywords a mailbox's messages have or had, in the order they were
-- first used, for FLAGS and PERMANENTFLAGS (RFC 9051 §7.3.5).
CREATE TABLE keywords (
	id         INTEGER PRIMARY KEY,
	mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
	name       TEXT NOT NULL,
	UNIQUE (mailbox_id, name COLLATE NOCASE)
);
INSERT OR IGNORE INTO keywords (mailbox_id, name)
SELECT m.mailbox_id, f.flag FROM flags f JOIN messages m ON m.id = f.message_id
WHERE f.flag NOT LIKE '\%' ORDER BY m.mailbox_id, m.uid;

CREATE TRIGGER flags_keyword_insert AFTER INSERT ON flags WHEN NEW.flag NOT LIKE '\%' BEGIN
	INSERT OR IGNORE INTO keywords (mailbox_id, name)
	SELECT mailbox_id, NEW.flag FROM messages WHERE id = NEW.message_id;
END;

-- A message stored without a modseq gets the mailbox's next one. (A
-- mailbox being deleted, whose row is gone when ON DELETE CASCADE removes
-- its messages, keeps no tombstone.)
CREATE TRIGGER messages_modseq_insert AFTER INSERT ON messages WHEN NEW.modseq IS NULL BEGIN
	UPDATE mailboxes SET highest_modseq = highest_modseq + 1 WHERE id = NEW.mailbox_id;
	UPDATE messages SET modseq = (SELECT highest_modseq FROM mailboxes WHERE id = NEW.mailbox_id) WHERE id = NEW.id;
END;

CREATE TRIGGER messages_modseq_delete AFTER DELETE ON messages
WHEN EXISTS (SELECT 1 FROM mailboxes WHERE id = OLD.mailbox_id)
BEGIN
	UPDATE mailboxes SET highest_modseq = highest_modseq + 1 WHERE id = OLD.mailbox_id;
	INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq)
	VALUES (OLD.mailbox_id, OLD.uid, (SELECT highest_modseq FROM mailboxes WHERE id = OLD.mailbox_id));
END;

-- A message moved to another mailbox (RENAME of INBOX) is expunged from
-- one and new in the other, with its keywords.
CREATE TRIGGER messages_modseq_move AFTER UPDATE OF mailbox_id ON messages
WHEN OLD.mailbox_id != NEW.mailbox_id
BEGIN
	UPDATE mailboxes SET highest_modseq = highest_modseq + 1 WHERE id IN (OLD.mailbox_id, NEW.mailbox_id);
	INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq)
	VALUES (OLD.mailbox_id, OLD.uid, (SELECT highest_modseq FROM mailboxes WHERE id = OLD.mailbox_id));
	DELETE FROM expunged WHERE mailbox_id = NEW.mailbox_id AND uid = NEW.uid;
	UPDATE messages SET modseq = (SELECT highest_modseq FROM mailboxes WHERE id = NEW.mailbox_id) WHERE id = NEW.id;
	INSERT OR IGNORE INTO keywords (mailbox_id, name)
	SELECT NEW.mailbox_id, flag FROM flags WHERE message_id = NEW.id AND flag NOT LIKE '\%';
END;

-- A flag set or cleared is a change of its message. (The flags of a
-- deleted message, removed by ON DELETE CASCADE, find no message.)
CREATE TRIGGER flags_modseq_insert AFTER INSERT ON flags BEGIN
	UPDATE mailboxes SET highest_modseq = highest_modseq + 1
	WHERE id = (SELECT mailbox_id FROM messages WHERE id = NEW.message_id);
	UPDATE messages SET modseq = (SELECT highest_modseq FROM mailboxes WHERE id = messages.mailbox_id)
	WHERE id = NEW.message_id;
END;

CREATE TRIGGER flags_modseq_delete AFTER DELETE ON flags BEGIN
	UPDATE mailboxes SET highest_modseq = highest_modseq + 1
	WHERE id = (SELECT mailbox_id FROM messages WHERE id = OLD.message_id);
	UPDATE messages SET modseq = (SELECT highest_modseq FROM mailboxes WHERE id = messages.mailbox_id)
	WHERE id = OLD.message_id;
END;

-- 2. \Recent (RFC 3501 §2.3.2): the messages with uid >= recent_uid are
-- new to every session. A session that selects the mailbox read-write
-- takes them, moving recent_uid to uid_next. The mail stored before this
-- migration is not recent.
ALTER TABLE mailboxes ADD COLUMN recent_uid INTEGER NOT NULL DEFAULT 1;
UPDATE mailboxes SET recent_uid = uid_next;

-- 3. Subscriptions (RFC 9051 §6.3.7), by name: a name need not exist, and
-- deleting or renaming a mailbox leaves its subscription. The old
-- mailboxes.subscribed column is kept in step for the server that reads it.
CREATE TABLE subscriptions (
	user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	name    TEXT NOT NULL,
	PRIMARY KEY (user_id, name)
) WITHOUT ROWID;
INSERT INTO subscriptions (user_id, name) SELECT user_id, name FROM mailboxes WHERE subscribed;

CREATE TRIGGER mailboxes_subscribed_insert AFTER INSERT ON mailboxes WHEN NEW.subscribed BEGIN
	INSERT OR IGNORE INTO subscriptions (user_id, name) VALUES (NEW.user_id, NEW.name);
END;

CREATE TRIGGER mailboxes_subscribed_on AFTER UPDATE OF subscribed ON mailboxes
WHEN NEW.subscribed AND NOT OLD.subscribed
BEGIN
	INSERT OR IGNORE INTO subscriptions (user_id, name) VALUES (NEW.user_id, NEW.name);
END;

CREATE TRIGGER mailboxes_subscribed_off AFTER UPDATE OF subscribed ON mailboxes
WHEN OLD.subscribed AND NOT NEW.subscribed
BEGIN
	DELETE FROM subscriptions WHERE user_id = NEW.user_id AND name = NEW.name;
END;

-- 4. A user's imap_version grows at every change of the list of its
-- mailboxes or subscriptions, so that its sessions hear of it (with the
-- sum of its mailboxes' highest_modseq, for changes of messages).
ALTER TABLE users ADD COLUMN imap_version INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER mailboxes_version_insert AFTER INSERT ON mailboxes BEGIN
	UPDATE users SET imap_version = imap_version + 1 WHERE id = NEW.user_id;
END;
CREATE TRIGGER mailboxes_version_delete AFTER DELETE ON mailboxes BEGIN
	UPDATE users SET imap_version = imap_version + 1 WHERE id = OLD.user_id;
END;
CREATE TRIGGER mailboxes_version_update AFTER UPDATE OF name, special_use ON mailboxes BEGIN
	UPDATE users SET imap_version = imap_version + 1 WHERE id = NEW.user_id;
END;
CREATE TRIGGER subscriptions_version_insert AFTER INSERT ON subscriptions BEGIN
	UPDATE users SET imap_version = imap_version + 1 WHERE id = NEW.user_id;
END;
CREATE TRIGGER subscriptions_version_delete AFTER DELETE ON subscriptions BEGIN
	UPDATE users SET imap_version = imap_version + 1 WHERE id = OLD.user_id;
END;

-- 5. What SORT and THREAD (RFC 5256) and the sent-date SEARCH keys read
-- of a mail body, computed once per body (shared by its copies). NULL
-- sort_subject means not computed yet: the store computes it on first use
-- (the bodies stored before this migration, and those delivered without it).
ALTER TABLE bodies ADD COLUMN sort_date INTEGER;          -- the Date field, unix seconds; NULL if none
ALTER TABLE bodies ADD COLUMN sort_date_zone INTEGER;     -- its zone, seconds east of UTC (SENTON compares dates there)
ALTER TABLE bodies ADD COLUMN sort_subject TEXT;          -- base subject (RFC 5256 §2.1)
ALTER TABLE bodies ADD COLUMN sort_has_re INTEGER;
ALTER TABLE bodies ADD COLUMN sort_from TEXT;
ALTER TABLE bodies ADD COLUMN sort_to TEXT;
ALTER TABLE bodies ADD COLUMN sort_cc TEXT;
ALTER TABLE bodies ADD COLUMN sort_display_from TEXT;
ALTER TABLE bodies ADD COLUMN sort_display_to TEXT;
ALTER TABLE bodies ADD COLUMN sort_message_id TEXT;
ALTER TABLE bodies ADD COLUMN sort_in_reply_to TEXT;
ALTER TABLE bodies ADD COLUMN sort_references TEXT;     -- ids separated by line feeds
