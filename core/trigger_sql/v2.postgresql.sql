-- Frozen trigger SQL (postgresql); core/triggers.py. Never edit: a change is a new version.

-- @set row_counts:models
-- @triggers models.models_rows_insert models.models_rows_delete
-- @drop
DROP TRIGGER IF EXISTS models_rows_insert ON models
;
DROP FUNCTION IF EXISTS models_rows_insert()
;
DROP TRIGGER IF EXISTS models_rows_delete ON models
;
DROP FUNCTION IF EXISTS models_rows_delete()
;
-- @backfill
DELETE FROM row_count_slots WHERE table_name = 'models'
;
INSERT INTO row_count_slots (table_name, slot, row_total) SELECT 'models', 0, COUNT(*) FROM models
;
-- @create
CREATE OR REPLACE FUNCTION models_rows_insert() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO row_count_slots (table_name, slot, row_total) SELECT 'models', pg_backend_pid() % 16, COUNT(*) FROM new_rows ON CONFLICT (table_name, slot) DO UPDATE SET row_total = row_count_slots.row_total + EXCLUDED.row_total;
            RETURN NULL;
        END $$
;
CREATE TRIGGER models_rows_insert AFTER INSERT ON models REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION models_rows_insert()
;
CREATE OR REPLACE FUNCTION models_rows_delete() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO row_count_slots (table_name, slot, row_total) SELECT 'models', pg_backend_pid() % 16, -COUNT(*) FROM old_rows HAVING EXISTS (SELECT 1 FROM row_count_slots WHERE table_name = 'models') ON CONFLICT (table_name, slot) DO UPDATE SET row_total = row_count_slots.row_total + EXCLUDED.row_total;
            RETURN NULL;
        END $$
;
CREATE TRIGGER models_rows_delete AFTER DELETE ON models REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION models_rows_delete()
;

-- @set row_keys:models
-- @triggers models.models_seq_insert model_tags.model_tags_seq_insert
-- @drop
DROP TRIGGER IF EXISTS models_seq_insert ON models
;
DROP FUNCTION IF EXISTS models_seq_insert()
;
DROP TRIGGER IF EXISTS model_tags_seq_insert ON model_tags
;
DROP FUNCTION IF EXISTS model_tags_seq_insert()
;
-- @backfill
CREATE SEQUENCE IF NOT EXISTS models_seq_seq OWNED BY models.seq
;
ALTER SEQUENCE models_seq_seq OWNED BY models.seq
;
UPDATE models SET seq = nextval('models_seq_seq') WHERE seq IS NULL
;
UPDATE model_tags l SET entity_seq = e.seq FROM models e WHERE e.hash = l.model_hash AND l.entity_seq IS NULL
;
-- @create
CREATE SEQUENCE IF NOT EXISTS models_seq_seq OWNED BY models.seq
;
ALTER SEQUENCE models_seq_seq OWNED BY models.seq
;
SELECT setval('models_seq_seq', GREATEST((SELECT MAX(seq) FROM models), 0) + 1, false)
;
CREATE OR REPLACE FUNCTION models_seq_insert() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.seq IS NULL THEN NEW.seq := nextval('models_seq_seq'); END IF;
            RETURN NEW;
        END $$
;
CREATE TRIGGER models_seq_insert BEFORE INSERT ON models FOR EACH ROW EXECUTE FUNCTION models_seq_insert()
;
CREATE OR REPLACE FUNCTION model_tags_seq_insert() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            NEW.entity_seq := (SELECT seq FROM models WHERE hash = NEW.model_hash);
            RETURN NEW;
        END $$
;
CREATE TRIGGER model_tags_seq_insert BEFORE INSERT OR UPDATE OF model_hash ON model_tags FOR EACH ROW EXECUTE FUNCTION model_tags_seq_insert()
;

-- @set row_counts:images
-- @triggers images.images_rows_insert images.images_rows_delete
-- @drop
DROP TRIGGER IF EXISTS images_rows_insert ON images
;
DROP FUNCTION IF EXISTS images_rows_insert()
;
DROP TRIGGER IF EXISTS images_rows_delete ON images
;
DROP FUNCTION IF EXISTS images_rows_delete()
;
-- @backfill
DELETE FROM row_count_slots WHERE table_name = 'images'
;
INSERT INTO row_count_slots (table_name, slot, row_total) SELECT 'images', 0, COUNT(*) FROM images
;
-- @create
CREATE OR REPLACE FUNCTION images_rows_insert() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO row_count_slots (table_name, slot, row_total) SELECT 'images', pg_backend_pid() % 16, COUNT(*) FROM new_rows ON CONFLICT (table_name, slot) DO UPDATE SET row_total = row_count_slots.row_total + EXCLUDED.row_total;
            RETURN NULL;
        END $$
;
CREATE TRIGGER images_rows_insert AFTER INSERT ON images REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION images_rows_insert()
;
CREATE OR REPLACE FUNCTION images_rows_delete() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO row_count_slots (table_name, slot, row_total) SELECT 'images', pg_backend_pid() % 16, -COUNT(*) FROM old_rows HAVING EXISTS (SELECT 1 FROM row_count_slots WHERE table_name = 'images') ON CONFLICT (table_name, slot) DO UPDATE SET row_total = row_count_slots.row_total + EXCLUDED.row_total;
            RETURN NULL;
        END $$
;
CREATE TRIGGER images_rows_delete AFTER DELETE ON images REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION images_rows_delete()
;

-- @set row_keys:images
-- @triggers images.images_seq_insert image_tags.image_tags_seq_insert
-- @drop
DROP TRIGGER IF EXISTS images_seq_insert ON images
;
DROP FUNCTION IF EXISTS images_seq_insert()
;
DROP TRIGGER IF EXISTS image_tags_seq_insert ON image_tags
;
DROP FUNCTION IF EXISTS image_tags_seq_insert()
;
-- @backfill
CREATE SEQUENCE IF NOT EXISTS images_seq_seq OWNED BY images.seq
;
ALTER SEQUENCE images_seq_seq OWNED BY images.seq
;
UPDATE images SET seq = nextval('images_seq_seq') WHERE seq IS NULL
;
UPDATE image_tags l SET entity_seq = e.seq FROM images e WHERE e.hash = l.image_hash AND l.entity_seq IS NULL
;
-- @create
CREATE SEQUENCE IF NOT EXISTS images_seq_seq OWNED BY images.seq
;
ALTER SEQUENCE images_seq_seq OWNED BY images.seq
;
SELECT setval('images_seq_seq', GREATEST((SELECT MAX(seq) FROM images), 0) + 1, false)
;
CREATE OR REPLACE FUNCTION images_seq_insert() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.seq IS NULL THEN NEW.seq := nextval('images_seq_seq'); END IF;
            RETURN NEW;
        END $$
;
CREATE TRIGGER images_seq_insert BEFORE INSERT ON images FOR EACH ROW EXECUTE FUNCTION images_seq_insert()
;
CREATE OR REPLACE FUNCTION image_tags_seq_insert() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            NEW.entity_seq := (SELECT seq FROM images WHERE hash = NEW.image_hash);
            RETURN NEW;
        END $$
;
CREATE TRIGGER image_tags_seq_insert BEFORE INSERT OR UPDATE OF image_hash ON image_tags FOR EACH ROW EXECUTE FUNCTION image_tags_seq_insert()
;

-- @set row_counts:tasks
-- @triggers tasks.tasks_rows_insert tasks.tasks_rows_delete
-- @drop
DROP TRIGGER IF EXISTS tasks_rows_insert ON tasks
;
DROP FUNCTION IF EXISTS tasks_rows_insert()
;
DROP TRIGGER IF EXISTS tasks_rows_delete ON tasks
;
DROP FUNCTION IF EXISTS tasks_rows_delete()
;
-- @backfill
DELETE FROM row_count_slots WHERE table_name = 'tasks'
;
INSERT INTO row_count_slots (table_name, slot, row_total) SELECT 'tasks', 0, COUNT(*) FROM tasks
;
-- @create
CREATE OR REPLACE FUNCTION tasks_rows_insert() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO row_count_slots (table_name, slot, row_total) SELECT 'tasks', pg_backend_pid() % 16, COUNT(*) FROM new_rows ON CONFLICT (table_name, slot) DO UPDATE SET row_total = row_count_slots.row_total + EXCLUDED.row_total;
            RETURN NULL;
        END $$
;
CREATE TRIGGER tasks_rows_insert AFTER INSERT ON tasks REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tasks_rows_insert()
;
CREATE OR REPLACE FUNCTION tasks_rows_delete() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO row_count_slots (table_name, slot, row_total) SELECT 'tasks', pg_backend_pid() % 16, -COUNT(*) FROM old_rows HAVING EXISTS (SELECT 1 FROM row_count_slots WHERE table_name = 'tasks') ON CONFLICT (table_name, slot) DO UPDATE SET row_total = row_count_slots.row_total + EXCLUDED.row_total;
            RETURN NULL;
        END $$
;
CREATE TRIGGER tasks_rows_delete AFTER DELETE ON tasks REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION tasks_rows_delete()
;

-- @set row_keys:tasks
-- @triggers tasks.tasks_seq_insert task_tags.task_tags_seq_insert
-- @drop
DROP TRIGGER IF EXISTS tasks_seq_insert ON tasks
;
DROP FUNCTION IF EXISTS tasks_seq_insert()
;
DROP TRIGGER IF EXISTS task_tags_seq_insert ON task_tags
;
DROP FUNCTION IF EXISTS task_tags_seq_insert()
;
-- @backfill
CREATE SEQUENCE IF NOT EXISTS tasks_seq_seq OWNED BY tasks.seq
;
ALTER SEQUENCE tasks_seq_seq OWNED BY tasks.seq
;
UPDATE tasks SET seq = nextval('tasks_seq_seq') WHERE seq IS NULL
;
UPDATE task_tags l SET entity_seq = e.seq FROM tasks e WHERE e.id = l.task_id AND l.entity_seq IS NULL
;
-- @create
CREATE SEQUENCE IF NOT EXISTS tasks_seq_seq OWNED BY tasks.seq
;
ALTER SEQUENCE tasks_seq_seq OWNED BY tasks.seq
;
SELECT setval('tasks_seq_seq', GREATEST((SELECT MAX(seq) FROM tasks), 0) + 1, false)
;
CREATE OR REPLACE FUNCTION tasks_seq_insert() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.seq IS NULL THEN NEW.seq := nextval('tasks_seq_seq'); END IF;
            RETURN NEW;
        END $$
;
CREATE TRIGGER tasks_seq_insert BEFORE INSERT ON tasks FOR EACH ROW EXECUTE FUNCTION tasks_seq_insert()
;
CREATE OR REPLACE FUNCTION task_tags_seq_insert() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            NEW.entity_seq := (SELECT seq FROM tasks WHERE id = NEW.task_id);
            RETURN NEW;
        END $$
;
CREATE TRIGGER task_tags_seq_insert BEFORE INSERT OR UPDATE OF task_id ON task_tags FOR EACH ROW EXECUTE FUNCTION task_tags_seq_insert()
;
