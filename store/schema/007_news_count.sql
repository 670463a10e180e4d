-- A group's article count, kept by triggers, so that GROUP, LIST and the
-- group check of every POST read it instead of counting the group's
-- numbers (which grew with the group: most of a POST's CPU at 100,000
-- articles).
ALTER TABLE news_groups ADD COLUMN count INTEGER NOT NULL DEFAULT 0;
UPDATE news_groups SET count = (SELECT count(*) FROM news_numbers WHERE group_id = news_groups.id);

CREATE TRIGGER news_numbers_count_insert AFTER INSERT ON news_numbers BEGIN
	UPDATE news_groups SET count = count + 1 WHERE id = NEW.group_id;
END;

CREATE TRIGGER news_numbers_count_delete AFTER DELETE ON news_numbers BEGIN
	UPDATE news_groups SET count = count - 1 WHERE id = OLD.group_id;
END;
