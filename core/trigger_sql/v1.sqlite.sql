-- Frozen trigger SQL (sqlite); core/triggers.py. Never edit: a change is a new version.

-- @set tag_usage_delete:tags
-- @triggers tags.tags_usage_delete
-- @drop
DROP TRIGGER IF EXISTS tags_usage_delete
;
-- @backfill
-- @create
CREATE TRIGGER tags_usage_delete AFTER DELETE ON tags BEGIN DELETE FROM tag_usage WHERE tag_name = OLD.name; END
;

-- @set link_counts:model_tags
-- @triggers model_tags.model_tags_count_insert model_tags.model_tags_count_delete model_tags.model_tags_count_update
-- @drop
DROP TRIGGER IF EXISTS model_tags_count_insert
;
DROP TRIGGER IF EXISTS model_tags_count_delete
;
DROP TRIGGER IF EXISTS model_tags_count_update
;
-- @backfill
UPDATE models SET tag_count = (SELECT COUNT(*) FROM model_tags WHERE model_tags.model_hash = models.hash)
;
DELETE FROM tag_usage WHERE link = 'model_tags'
;
INSERT INTO tag_usage (tag_name, link, uses) SELECT tag_name, 'model_tags', COUNT(*) FROM model_tags GROUP BY tag_name
;
-- @create
CREATE TRIGGER model_tags_count_insert AFTER INSERT ON model_tags BEGIN UPDATE models SET tag_count = tag_count + 1 WHERE hash = NEW.model_hash; INSERT INTO tag_usage (tag_name, link, uses) VALUES (NEW.tag_name, 'model_tags', 1) ON CONFLICT (tag_name, link) DO UPDATE SET uses = uses + 1; END
;
CREATE TRIGGER model_tags_count_delete AFTER DELETE ON model_tags BEGIN UPDATE models SET tag_count = tag_count - 1 WHERE hash = OLD.model_hash; UPDATE tag_usage SET uses = uses - 1 WHERE tag_name = OLD.tag_name AND link = 'model_tags'; END
;
CREATE TRIGGER model_tags_count_update AFTER UPDATE OF tag_name, model_hash ON model_tags BEGIN UPDATE models SET tag_count = tag_count - 1 WHERE hash = OLD.model_hash; UPDATE tag_usage SET uses = uses - 1 WHERE tag_name = OLD.tag_name AND link = 'model_tags'; UPDATE models SET tag_count = tag_count + 1 WHERE hash = NEW.model_hash; INSERT INTO tag_usage (tag_name, link, uses) VALUES (NEW.tag_name, 'model_tags', 1) ON CONFLICT (tag_name, link) DO UPDATE SET uses = uses + 1; END
;

-- @set row_counts:models
-- @triggers models.models_rows_insert models.models_rows_delete
-- @drop
DROP TRIGGER IF EXISTS models_rows_insert
;
DROP TRIGGER IF EXISTS models_rows_delete
;
-- @backfill
DELETE FROM row_counts WHERE table_name = 'models'
;
INSERT INTO row_counts (table_name, row_total) SELECT 'models', COUNT(*) FROM models
;
-- @create
CREATE TRIGGER models_rows_insert AFTER INSERT ON models BEGIN INSERT INTO row_counts (table_name, row_total) VALUES ('models', 1) ON CONFLICT (table_name) DO UPDATE SET row_total = row_total + 1; END
;
CREATE TRIGGER models_rows_delete AFTER DELETE ON models BEGIN UPDATE row_counts SET row_total = row_total - 1 WHERE table_name = 'models'; END
;

-- @set row_keys:models
-- @triggers models.models_seq_insert model_tags.model_tags_seq_insert model_tags.model_tags_seq_update
-- @drop
DROP TRIGGER IF EXISTS models_seq_insert
;
DROP TRIGGER IF EXISTS model_tags_seq_insert
;
DROP TRIGGER IF EXISTS model_tags_seq_update
;
-- @backfill
UPDATE models SET seq = rowid + (SELECT COALESCE(MAX(seq), 0) FROM models WHERE seq IS NOT NULL) WHERE seq IS NULL
;
UPDATE model_tags SET entity_seq = (SELECT seq FROM models WHERE hash = model_tags.model_hash) WHERE entity_seq IS NULL
;
-- @create
CREATE TRIGGER models_seq_insert AFTER INSERT ON models WHEN NEW.seq IS NULL BEGIN UPDATE models SET seq = (SELECT COALESCE(MAX(seq), 0) + 1 FROM models WHERE seq IS NOT NULL) WHERE rowid = NEW.rowid; END
;
CREATE TRIGGER model_tags_seq_insert AFTER INSERT ON model_tags BEGIN UPDATE model_tags SET entity_seq = (SELECT seq FROM models WHERE hash = NEW.model_hash) WHERE rowid = NEW.rowid; END
;
CREATE TRIGGER model_tags_seq_update AFTER UPDATE OF model_hash ON model_tags BEGIN UPDATE model_tags SET entity_seq = (SELECT seq FROM models WHERE hash = NEW.model_hash) WHERE rowid = NEW.rowid; END
;

-- @set link_counts:image_tags
-- @triggers image_tags.image_tags_count_insert image_tags.image_tags_count_delete image_tags.image_tags_count_update
-- @drop
DROP TRIGGER IF EXISTS image_tags_count_insert
;
DROP TRIGGER IF EXISTS image_tags_count_delete
;
DROP TRIGGER IF EXISTS image_tags_count_update
;
-- @backfill
UPDATE images SET tag_count = (SELECT COUNT(*) FROM image_tags WHERE image_tags.image_hash = images.hash)
;
DELETE FROM tag_usage WHERE link = 'image_tags'
;
INSERT INTO tag_usage (tag_name, link, uses) SELECT tag_name, 'image_tags', COUNT(*) FROM image_tags GROUP BY tag_name
;
-- @create
CREATE TRIGGER image_tags_count_insert AFTER INSERT ON image_tags BEGIN UPDATE images SET tag_count = tag_count + 1 WHERE hash = NEW.image_hash; INSERT INTO tag_usage (tag_name, link, uses) VALUES (NEW.tag_name, 'image_tags', 1) ON CONFLICT (tag_name, link) DO UPDATE SET uses = uses + 1; END
;
CREATE TRIGGER image_tags_count_delete AFTER DELETE ON image_tags BEGIN UPDATE images SET tag_count = tag_count - 1 WHERE hash = OLD.image_hash; UPDATE tag_usage SET uses = uses - 1 WHERE tag_name = OLD.tag_name AND link = 'image_tags'; END
;
CREATE TRIGGER image_tags_count_update AFTER UPDATE OF tag_name, image_hash ON image_tags BEGIN UPDATE images SET tag_count = tag_count - 1 WHERE hash = OLD.image_hash; UPDATE tag_usage SET uses = uses - 1 WHERE tag_name = OLD.tag_name AND link = 'image_tags'; UPDATE images SET tag_count = tag_count + 1 WHERE hash = NEW.image_hash; INSERT INTO tag_usage (tag_name, link, uses) VALUES (NEW.tag_name, 'image_tags', 1) ON CONFLICT (tag_name, link) DO UPDATE SET uses = uses + 1; END
;

-- @set row_counts:images
-- @triggers images.images_rows_insert images.images_rows_delete
-- @drop
DROP TRIGGER IF EXISTS images_rows_insert
;
DROP TRIGGER IF EXISTS images_rows_delete
;
-- @backfill
DELETE FROM row_counts WHERE table_name = 'images'
;
INSERT INTO row_counts (table_name, row_total) SELECT 'images', COUNT(*) FROM images
;
-- @create
CREATE TRIGGER images_rows_insert AFTER INSERT ON images BEGIN INSERT INTO row_counts (table_name, row_total) VALUES ('images', 1) ON CONFLICT (table_name) DO UPDATE SET row_total = row_total + 1; END
;
CREATE TRIGGER images_rows_delete AFTER DELETE ON images BEGIN UPDATE row_counts SET row_total = row_total - 1 WHERE table_name = 'images'; END
;

-- @set row_keys:images
-- @triggers images.images_seq_insert image_tags.image_tags_seq_insert image_tags.image_tags_seq_update
-- @drop
DROP TRIGGER IF EXISTS images_seq_insert
;
DROP TRIGGER IF EXISTS image_tags_seq_insert
;
DROP TRIGGER IF EXISTS image_tags_seq_update
;
-- @backfill
UPDATE images SET seq = rowid + (SELECT COALESCE(MAX(seq), 0) FROM images WHERE seq IS NOT NULL) WHERE seq IS NULL
;
UPDATE image_tags SET entity_seq = (SELECT seq FROM images WHERE hash = image_tags.image_hash) WHERE entity_seq IS NULL
;
-- @create
CREATE TRIGGER images_seq_insert AFTER INSERT ON images WHEN NEW.seq IS NULL BEGIN UPDATE images SET seq = (SELECT COALESCE(MAX(seq), 0) + 1 FROM images WHERE seq IS NOT NULL) WHERE rowid = NEW.rowid; END
;
CREATE TRIGGER image_tags_seq_insert AFTER INSERT ON image_tags BEGIN UPDATE image_tags SET entity_seq = (SELECT seq FROM images WHERE hash = NEW.image_hash) WHERE rowid = NEW.rowid; END
;
CREATE TRIGGER image_tags_seq_update AFTER UPDATE OF image_hash ON image_tags BEGIN UPDATE image_tags SET entity_seq = (SELECT seq FROM images WHERE hash = NEW.image_hash) WHERE rowid = NEW.rowid; END
;

-- @set link_counts:task_tags
-- @triggers task_tags.task_tags_count_insert task_tags.task_tags_count_delete task_tags.task_tags_count_update
-- @drop
DROP TRIGGER IF EXISTS task_tags_count_insert
;
DROP TRIGGER IF EXISTS task_tags_count_delete
;
DROP TRIGGER IF EXISTS task_tags_count_update
;
-- @backfill
UPDATE tasks SET tag_count = (SELECT COUNT(*) FROM task_tags WHERE task_tags.task_id = tasks.id)
;
DELETE FROM tag_usage WHERE link = 'task_tags'
;
INSERT INTO tag_usage (tag_name, link, uses) SELECT tag_name, 'task_tags', COUNT(*) FROM task_tags GROUP BY tag_name
;
-- @create
CREATE TRIGGER task_tags_count_insert AFTER INSERT ON task_tags BEGIN UPDATE tasks SET tag_count = tag_count + 1 WHERE id = NEW.task_id; INSERT INTO tag_usage (tag_name, link, uses) VALUES (NEW.tag_name, 'task_tags', 1) ON CONFLICT (tag_name, link) DO UPDATE SET uses = uses + 1; END
;
CREATE TRIGGER task_tags_count_delete AFTER DELETE ON task_tags BEGIN UPDATE tasks SET tag_count = tag_count - 1 WHERE id = OLD.task_id; UPDATE tag_usage SET uses = uses - 1 WHERE tag_name = OLD.tag_name AND link = 'task_tags'; END
;
CREATE TRIGGER task_tags_count_update AFTER UPDATE OF tag_name, task_id ON task_tags BEGIN UPDATE tasks SET tag_count = tag_count - 1 WHERE id = OLD.task_id; UPDATE tag_usage SET uses = uses - 1 WHERE tag_name = OLD.tag_name AND link = 'task_tags'; UPDATE tasks SET tag_count = tag_count + 1 WHERE id = NEW.task_id; INSERT INTO tag_usage (tag_name, link, uses) VALUES (NEW.tag_name, 'task_tags', 1) ON CONFLICT (tag_name, link) DO UPDATE SET uses = uses + 1; END
;

-- @set row_counts:tasks
-- @triggers tasks.tasks_rows_insert tasks.tasks_rows_delete
-- @drop
DROP TRIGGER IF EXISTS tasks_rows_insert
;
DROP TRIGGER IF EXISTS tasks_rows_delete
;
-- @backfill
DELETE FROM row_counts WHERE table_name = 'tasks'
;
INSERT INTO row_counts (table_name, row_total) SELECT 'tasks', COUNT(*) FROM tasks
;
-- @create
CREATE TRIGGER tasks_rows_insert AFTER INSERT ON tasks BEGIN INSERT INTO row_counts (table_name, row_total) VALUES ('tasks', 1) ON CONFLICT (table_name) DO UPDATE SET row_total = row_total + 1; END
;
CREATE TRIGGER tasks_rows_delete AFTER DELETE ON tasks BEGIN UPDATE row_counts SET row_total = row_total - 1 WHERE table_name = 'tasks'; END
;

-- @set row_keys:tasks
-- @triggers tasks.tasks_seq_insert task_tags.task_tags_seq_insert task_tags.task_tags_seq_update
-- @drop
DROP TRIGGER IF EXISTS tasks_seq_insert
;
DROP TRIGGER IF EXISTS task_tags_seq_insert
;
DROP TRIGGER IF EXISTS task_tags_seq_update
;
-- @backfill
UPDATE tasks SET seq = rowid + (SELECT COALESCE(MAX(seq), 0) FROM tasks WHERE seq IS NOT NULL) WHERE seq IS NULL
;
UPDATE task_tags SET entity_seq = (SELECT seq FROM tasks WHERE id = task_tags.task_id) WHERE entity_seq IS NULL
;
-- @create
CREATE TRIGGER tasks_seq_insert AFTER INSERT ON tasks WHEN NEW.seq IS NULL BEGIN UPDATE tasks SET seq = (SELECT COALESCE(MAX(seq), 0) + 1 FROM tasks WHERE seq IS NOT NULL) WHERE rowid = NEW.rowid; END
;
CREATE TRIGGER task_tags_seq_insert AFTER INSERT ON task_tags BEGIN UPDATE task_tags SET entity_seq = (SELECT seq FROM tasks WHERE id = NEW.task_id) WHERE rowid = NEW.rowid; END
;
CREATE TRIGGER task_tags_seq_update AFTER UPDATE OF task_id ON task_tags BEGIN UPDATE task_tags SET entity_seq = (SELECT seq FROM tasks WHERE id = NEW.task_id) WHERE rowid = NEW.rowid; END
;
