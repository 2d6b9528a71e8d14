-- Frozen trigger SQL (sqlite); core/triggers.py. Never edit: a change is a new version.

-- @set row_counts:models
-- @triggers models.models_rows_insert models.models_rows_delete
-- @drop
DROP TRIGGER IF EXISTS models_rows_insert
;
DROP TRIGGER IF EXISTS models_rows_delete
;
-- @backfill
DELETE FROM row_count_slots WHERE table_name = 'models'
;
INSERT INTO row_count_slots (table_name, slot, row_total) SELECT 'models', 0, COUNT(*) FROM models
;
-- @create
CREATE TRIGGER models_rows_insert AFTER INSERT ON models BEGIN INSERT INTO row_count_slots (table_name, slot, row_total) VALUES ('models', 0, 1) ON CONFLICT (table_name, slot) DO UPDATE SET row_total = row_count_slots.row_total + EXCLUDED.row_total; END
;
CREATE TRIGGER models_rows_delete AFTER DELETE ON models BEGIN UPDATE row_count_slots SET row_total = row_total - 1 WHERE table_name = 'models' AND slot = 0; END
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

-- @set row_counts:images
-- @triggers images.images_rows_insert images.images_rows_delete
-- @drop
DROP TRIGGER IF EXISTS images_rows_insert
;
DROP TRIGGER IF EXISTS images_rows_delete
;
-- @backfill
DELETE FROM row_count_slots WHERE table_name = 'images'
;
INSERT INTO row_count_slots (table_name, slot, row_total) SELECT 'images', 0, COUNT(*) FROM images
;
-- @create
CREATE TRIGGER images_rows_insert AFTER INSERT ON images BEGIN INSERT INTO row_count_slots (table_name, slot, row_total) VALUES ('images', 0, 1) ON CONFLICT (table_name, slot) DO UPDATE SET row_total = row_count_slots.row_total + EXCLUDED.row_total; END
;
CREATE TRIGGER images_rows_delete AFTER DELETE ON images BEGIN UPDATE row_count_slots SET row_total = row_total - 1 WHERE table_name = 'images' AND slot = 0; END
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

-- @set row_counts:tasks
-- @triggers tasks.tasks_rows_insert tasks.tasks_rows_delete
-- @drop
DROP TRIGGER IF EXISTS tasks_rows_insert
;
DROP TRIGGER IF EXISTS tasks_rows_delete
;
-- @backfill
DELETE FROM row_count_slots WHERE table_name = 'tasks'
;
INSERT INTO row_count_slots (table_name, slot, row_total) SELECT 'tasks', 0, COUNT(*) FROM tasks
;
-- @create
CREATE TRIGGER tasks_rows_insert AFTER INSERT ON tasks BEGIN INSERT INTO row_count_slots (table_name, slot, row_total) VALUES ('tasks', 0, 1) ON CONFLICT (table_name, slot) DO UPDATE SET row_total = row_count_slots.row_total + EXCLUDED.row_total; END
;
CREATE TRIGGER tasks_rows_delete AFTER DELETE ON tasks BEGIN UPDATE row_count_slots SET row_total = row_total - 1 WHERE table_name = 'tasks' AND slot = 0; END
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
