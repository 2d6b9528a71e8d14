-- Frozen trigger SQL (sqlite); core/triggers.py. Never edit: a change is a new version.

-- @set prompt_search:tasks
-- @triggers tasks.tasks_prompt_insert tasks.tasks_prompt_update tasks.tasks_prompt_delete
-- @drop
DROP TRIGGER IF EXISTS tasks_prompt_insert
;
DROP TRIGGER IF EXISTS tasks_prompt_update
;
DROP TRIGGER IF EXISTS tasks_prompt_delete
;
-- @backfill
CREATE VIRTUAL TABLE IF NOT EXISTS tasks_prompt_fts USING fts5(prompt, tokenize = 'unicode61 remove_diacritics 0')
;
DELETE FROM tasks_prompt_fts
;
INSERT INTO tasks_prompt_fts (rowid, prompt) SELECT seq, prompt FROM tasks WHERE seq IS NOT NULL AND prompt IS NOT NULL
;
-- @create
CREATE TRIGGER tasks_prompt_insert AFTER INSERT ON tasks WHEN NEW.seq IS NOT NULL BEGIN INSERT INTO tasks_prompt_fts (rowid, prompt) SELECT NEW.seq, NEW.prompt WHERE NEW.seq IS NOT NULL AND NEW.prompt IS NOT NULL; END
;
CREATE TRIGGER tasks_prompt_update AFTER UPDATE OF seq, prompt ON tasks WHEN OLD.seq IS NOT NEW.seq OR OLD.prompt IS NOT NEW.prompt BEGIN DELETE FROM tasks_prompt_fts WHERE rowid = OLD.seq; INSERT INTO tasks_prompt_fts (rowid, prompt) SELECT NEW.seq, NEW.prompt WHERE NEW.seq IS NOT NULL AND NEW.prompt IS NOT NULL; END
;
CREATE TRIGGER tasks_prompt_delete AFTER DELETE ON tasks BEGIN DELETE FROM tasks_prompt_fts WHERE rowid = OLD.seq; END
;

-- @set prompt_search:images
-- @triggers images.images_prompt_insert images.images_prompt_update images.images_prompt_delete
-- @drop
DROP TRIGGER IF EXISTS images_prompt_insert
;
DROP TRIGGER IF EXISTS images_prompt_update
;
DROP TRIGGER IF EXISTS images_prompt_delete
;
-- @backfill
CREATE VIRTUAL TABLE IF NOT EXISTS images_prompt_fts USING fts5(prompt, tokenize = 'unicode61 remove_diacritics 0')
;
DELETE FROM images_prompt_fts
;
INSERT INTO images_prompt_fts (rowid, prompt) SELECT seq, json_extract(metadata, '$.prompt') FROM images WHERE seq IS NOT NULL AND json_extract(metadata, '$.prompt') IS NOT NULL
;
-- @create
CREATE TRIGGER images_prompt_insert AFTER INSERT ON images WHEN NEW.seq IS NOT NULL BEGIN INSERT INTO images_prompt_fts (rowid, prompt) SELECT NEW.seq, json_extract(NEW.metadata, '$.prompt') WHERE NEW.seq IS NOT NULL AND json_extract(NEW.metadata, '$.prompt') IS NOT NULL; END
;
CREATE TRIGGER images_prompt_update AFTER UPDATE OF seq, metadata ON images WHEN OLD.seq IS NOT NEW.seq OR json_extract(OLD.metadata, '$.prompt') IS NOT json_extract(NEW.metadata, '$.prompt') BEGIN DELETE FROM images_prompt_fts WHERE rowid = OLD.seq; INSERT INTO images_prompt_fts (rowid, prompt) SELECT NEW.seq, json_extract(NEW.metadata, '$.prompt') WHERE NEW.seq IS NOT NULL AND json_extract(NEW.metadata, '$.prompt') IS NOT NULL; END
;
CREATE TRIGGER images_prompt_delete AFTER DELETE ON images BEGIN DELETE FROM images_prompt_fts WHERE rowid = OLD.seq; END
;
