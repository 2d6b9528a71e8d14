-- Frozen trigger SQL (postgresql); core/triggers.py. Never edit: a change is a new version.

-- @set tag_usage_delete:tags
-- @triggers tags.tags_usage_delete
-- @drop
DROP TRIGGER IF EXISTS tags_usage_delete ON tags
;
DROP FUNCTION IF EXISTS tags_usage_delete()
;
-- @backfill
-- @create
CREATE OR REPLACE FUNCTION tags_usage_delete() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN DELETE FROM tag_usage WHERE tag_name = OLD.name; RETURN NULL; END $$
;
CREATE TRIGGER tags_usage_delete AFTER DELETE ON tags FOR EACH ROW EXECUTE FUNCTION tags_usage_delete()
;

-- @set link_counts:model_tags
-- @triggers model_tags.model_tags_count_insert model_tags.model_tags_count_delete model_tags.model_tags_count_update
-- @drop
DROP TRIGGER IF EXISTS model_tags_count_insert ON model_tags
;
DROP FUNCTION IF EXISTS model_tags_count_insert()
;
DROP TRIGGER IF EXISTS model_tags_count_delete ON model_tags
;
DROP FUNCTION IF EXISTS model_tags_count_delete()
;
DROP TRIGGER IF EXISTS model_tags_count_update ON model_tags
;
DROP FUNCTION IF EXISTS model_tags_count_update()
;
-- @backfill
UPDATE models SET tag_count = (SELECT COUNT(*) FROM model_tags WHERE model_tags.model_hash = models.hash)
;
DELETE FROM tag_usage WHERE link = 'model_tags'
;
INSERT INTO tag_usage (tag_name, link, uses) SELECT tag_name, 'model_tags', COUNT(*) FROM model_tags GROUP BY tag_name
;
-- @create
CREATE OR REPLACE FUNCTION model_tags_count_insert() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM pg_advisory_xact_lock(7246512001);
            UPDATE models e SET tag_count = e.tag_count + d.n
                FROM (SELECT model_hash AS k, COUNT(*) AS n FROM new_rows GROUP BY 1) d WHERE e.hash = d.k;
            INSERT INTO tag_usage (tag_name, link, uses)
                SELECT tag_name, 'model_tags', +COUNT(*) FROM new_rows GROUP BY 1 ORDER BY 1
                ON CONFLICT (tag_name, link) DO UPDATE SET uses = tag_usage.uses + EXCLUDED.uses;
                RETURN NULL;
            END $$
;
CREATE TRIGGER model_tags_count_insert AFTER INSERT ON model_tags REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION model_tags_count_insert()
;
CREATE OR REPLACE FUNCTION model_tags_count_delete() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM pg_advisory_xact_lock(7246512001);
            UPDATE models e SET tag_count = e.tag_count - d.n
                FROM (SELECT model_hash AS k, COUNT(*) AS n FROM old_rows GROUP BY 1) d WHERE e.hash = d.k;
            INSERT INTO tag_usage (tag_name, link, uses)
                SELECT tag_name, 'model_tags', -COUNT(*) FROM old_rows GROUP BY 1 ORDER BY 1
                ON CONFLICT (tag_name, link) DO UPDATE SET uses = tag_usage.uses + EXCLUDED.uses;
                RETURN NULL;
            END $$
;
CREATE TRIGGER model_tags_count_delete AFTER DELETE ON model_tags REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION model_tags_count_delete()
;
CREATE OR REPLACE FUNCTION model_tags_count_update() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM pg_advisory_xact_lock(7246512001);
            UPDATE models e SET tag_count = e.tag_count - d.n
                FROM (SELECT model_hash AS k, COUNT(*) AS n FROM old_rows GROUP BY 1) d WHERE e.hash = d.k;
            INSERT INTO tag_usage (tag_name, link, uses)
                SELECT tag_name, 'model_tags', -COUNT(*) FROM old_rows GROUP BY 1 ORDER BY 1
                ON CONFLICT (tag_name, link) DO UPDATE SET uses = tag_usage.uses + EXCLUDED.uses;
            UPDATE models e SET tag_count = e.tag_count + d.n
                FROM (SELECT model_hash AS k, COUNT(*) AS n FROM new_rows GROUP BY 1) d WHERE e.hash = d.k;
            INSERT INTO tag_usage (tag_name, link, uses)
                SELECT tag_name, 'model_tags', +COUNT(*) FROM new_rows GROUP BY 1 ORDER BY 1
                ON CONFLICT (tag_name, link) DO UPDATE SET uses = tag_usage.uses + EXCLUDED.uses;
                RETURN NULL;
            END $$
;
CREATE TRIGGER model_tags_count_update AFTER UPDATE ON model_tags REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION model_tags_count_update()
;

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
DELETE FROM row_counts WHERE table_name = 'models'
;
INSERT INTO row_counts (table_name, row_total) SELECT 'models', COUNT(*) FROM models
;
-- @create
CREATE OR REPLACE FUNCTION models_rows_insert() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO row_counts (table_name, row_total) SELECT 'models', COUNT(*) FROM new_rows
                ON CONFLICT (table_name) DO UPDATE SET row_total = row_counts.row_total + EXCLUDED.row_total;
            RETURN NULL;
        END $$
;
CREATE TRIGGER models_rows_insert AFTER INSERT ON models REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION models_rows_insert()
;
CREATE OR REPLACE FUNCTION models_rows_delete() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE row_counts SET row_total = row_total - (SELECT COUNT(*) FROM old_rows) WHERE table_name = 'models';
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
CREATE SEQUENCE IF NOT EXISTS models_seq_seq
;
UPDATE models SET seq = nextval('models_seq_seq') WHERE seq IS NULL
;
UPDATE model_tags l SET entity_seq = e.seq FROM models e WHERE e.hash = l.model_hash AND l.entity_seq IS NULL
;
-- @create
CREATE SEQUENCE IF NOT EXISTS models_seq_seq
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

-- @set link_counts:image_tags
-- @triggers image_tags.image_tags_count_insert image_tags.image_tags_count_delete image_tags.image_tags_count_update
-- @drop
DROP TRIGGER IF EXISTS image_tags_count_insert ON image_tags
;
DROP FUNCTION IF EXISTS image_tags_count_insert()
;
DROP TRIGGER IF EXISTS image_tags_count_delete ON image_tags
;
DROP FUNCTION IF EXISTS image_tags_count_delete()
;
DROP TRIGGER IF EXISTS image_tags_count_update ON image_tags
;
DROP FUNCTION IF EXISTS image_tags_count_update()
;
-- @backfill
UPDATE images SET tag_count = (SELECT COUNT(*) FROM image_tags WHERE image_tags.image_hash = images.hash)
;
DELETE FROM tag_usage WHERE link = 'image_tags'
;
INSERT INTO tag_usage (tag_name, link, uses) SELECT tag_name, 'image_tags', COUNT(*) FROM image_tags GROUP BY tag_name
;
-- @create
CREATE OR REPLACE FUNCTION image_tags_count_insert() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM pg_advisory_xact_lock(7246512001);
            UPDATE images e SET tag_count = e.tag_count + d.n
                FROM (SELECT image_hash AS k, COUNT(*) AS n FROM new_rows GROUP BY 1) d WHERE e.hash = d.k;
            INSERT INTO tag_usage (tag_name, link, uses)
                SELECT tag_name, 'image_tags', +COUNT(*) FROM new_rows GROUP BY 1 ORDER BY 1
                ON CONFLICT (tag_name, link) DO UPDATE SET uses = tag_usage.uses + EXCLUDED.uses;
                RETURN NULL;
            END $$
;
CREATE TRIGGER image_tags_count_insert AFTER INSERT ON image_tags REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION image_tags_count_insert()
;
CREATE OR REPLACE FUNCTION image_tags_count_delete() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM pg_advisory_xact_lock(7246512001);
            UPDATE images e SET tag_count = e.tag_count - d.n
                FROM (SELECT image_hash AS k, COUNT(*) AS n FROM old_rows GROUP BY 1) d WHERE e.hash = d.k;
            INSERT INTO tag_usage (tag_name, link, uses)
                SELECT tag_name, 'image_tags', -COUNT(*) FROM old_rows GROUP BY 1 ORDER BY 1
                ON CONFLICT (tag_name, link) DO UPDATE SET uses = tag_usage.uses + EXCLUDED.uses;
                RETURN NULL;
            END $$
;
CREATE TRIGGER image_tags_count_delete AFTER DELETE ON image_tags REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION image_tags_count_delete()
;
CREATE OR REPLACE FUNCTION image_tags_count_update() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM pg_advisory_xact_lock(7246512001);
            UPDATE images e SET tag_count = e.tag_count - d.n
                FROM (SELECT image_hash AS k, COUNT(*) AS n FROM old_rows GROUP BY 1) d WHERE e.hash = d.k;
            INSERT INTO tag_usage (tag_name, link, uses)
                SELECT tag_name, 'image_tags', -COUNT(*) FROM old_rows GROUP BY 1 ORDER BY 1
                ON CONFLICT (tag_name, link) DO UPDATE SET uses = tag_usage.uses + EXCLUDED.uses;
            UPDATE images e SET tag_count = e.tag_count + d.n
                FROM (SELECT image_hash AS k, COUNT(*) AS n FROM new_rows GROUP BY 1) d WHERE e.hash = d.k;
            INSERT INTO tag_usage (tag_name, link, uses)
                SELECT tag_name, 'image_tags', +COUNT(*) FROM new_rows GROUP BY 1 ORDER BY 1
                ON CONFLICT (tag_name, link) DO UPDATE SET uses = tag_usage.uses + EXCLUDED.uses;
                RETURN NULL;
            END $$
;
CREATE TRIGGER image_tags_count_update AFTER UPDATE ON image_tags REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION image_tags_count_update()
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
DELETE FROM row_counts WHERE table_name = 'images'
;
INSERT INTO row_counts (table_name, row_total) SELECT 'images', COUNT(*) FROM images
;
-- @create
CREATE OR REPLACE FUNCTION images_rows_insert() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO row_counts (table_name, row_total) SELECT 'images', COUNT(*) FROM new_rows
                ON CONFLICT (table_name) DO UPDATE SET row_total = row_counts.row_total + EXCLUDED.row_total;
            RETURN NULL;
        END $$
;
CREATE TRIGGER images_rows_insert AFTER INSERT ON images REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION images_rows_insert()
;
CREATE OR REPLACE FUNCTION images_rows_delete() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE row_counts SET row_total = row_total - (SELECT COUNT(*) FROM old_rows) WHERE table_name = 'images';
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
CREATE SEQUENCE IF NOT EXISTS images_seq_seq
;
UPDATE images SET seq = nextval('images_seq_seq') WHERE seq IS NULL
;
UPDATE image_tags l SET entity_seq = e.seq FROM images e WHERE e.hash = l.image_hash AND l.entity_seq IS NULL
;
-- @create
CREATE SEQUENCE IF NOT EXISTS images_seq_seq
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

-- @set link_counts:task_tags
-- @triggers task_tags.task_tags_count_insert task_tags.task_tags_count_delete task_tags.task_tags_count_update
-- @drop
DROP TRIGGER IF EXISTS task_tags_count_insert ON task_tags
;
DROP FUNCTION IF EXISTS task_tags_count_insert()
;
DROP TRIGGER IF EXISTS task_tags_count_delete ON task_tags
;
DROP FUNCTION IF EXISTS task_tags_count_delete()
;
DROP TRIGGER IF EXISTS task_tags_count_update ON task_tags
;
DROP FUNCTION IF EXISTS task_tags_count_update()
;
-- @backfill
UPDATE tasks SET tag_count = (SELECT COUNT(*) FROM task_tags WHERE task_tags.task_id = tasks.id)
;
DELETE FROM tag_usage WHERE link = 'task_tags'
;
INSERT INTO tag_usage (tag_name, link, uses) SELECT tag_name, 'task_tags', COUNT(*) FROM task_tags GROUP BY tag_name
;
-- @create
CREATE OR REPLACE FUNCTION task_tags_count_insert() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM pg_advisory_xact_lock(7246512001);
            UPDATE tasks e SET tag_count = e.tag_count + d.n
                FROM (SELECT task_id AS k, COUNT(*) AS n FROM new_rows GROUP BY 1) d WHERE e.id = d.k;
            INSERT INTO tag_usage (tag_name, link, uses)
                SELECT tag_name, 'task_tags', +COUNT(*) FROM new_rows GROUP BY 1 ORDER BY 1
                ON CONFLICT (tag_name, link) DO UPDATE SET uses = tag_usage.uses + EXCLUDED.uses;
                RETURN NULL;
            END $$
;
CREATE TRIGGER task_tags_count_insert AFTER INSERT ON task_tags REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION task_tags_count_insert()
;
CREATE OR REPLACE FUNCTION task_tags_count_delete() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM pg_advisory_xact_lock(7246512001);
            UPDATE tasks e SET tag_count = e.tag_count - d.n
                FROM (SELECT task_id AS k, COUNT(*) AS n FROM old_rows GROUP BY 1) d WHERE e.id = d.k;
            INSERT INTO tag_usage (tag_name, link, uses)
                SELECT tag_name, 'task_tags', -COUNT(*) FROM old_rows GROUP BY 1 ORDER BY 1
                ON CONFLICT (tag_name, link) DO UPDATE SET uses = tag_usage.uses + EXCLUDED.uses;
                RETURN NULL;
            END $$
;
CREATE TRIGGER task_tags_count_delete AFTER DELETE ON task_tags REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION task_tags_count_delete()
;
CREATE OR REPLACE FUNCTION task_tags_count_update() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM pg_advisory_xact_lock(7246512001);
            UPDATE tasks e SET tag_count = e.tag_count - d.n
                FROM (SELECT task_id AS k, COUNT(*) AS n FROM old_rows GROUP BY 1) d WHERE e.id = d.k;
            INSERT INTO tag_usage (tag_name, link, uses)
                SELECT tag_name, 'task_tags', -COUNT(*) FROM old_rows GROUP BY 1 ORDER BY 1
                ON CONFLICT (tag_name, link) DO UPDATE SET uses = tag_usage.uses + EXCLUDED.uses;
            UPDATE tasks e SET tag_count = e.tag_count + d.n
                FROM (SELECT task_id AS k, COUNT(*) AS n FROM new_rows GROUP BY 1) d WHERE e.id = d.k;
            INSERT INTO tag_usage (tag_name, link, uses)
                SELECT tag_name, 'task_tags', +COUNT(*) FROM new_rows GROUP BY 1 ORDER BY 1
                ON CONFLICT (tag_name, link) DO UPDATE SET uses = tag_usage.uses + EXCLUDED.uses;
                RETURN NULL;
            END $$
;
CREATE TRIGGER task_tags_count_update AFTER UPDATE ON task_tags REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION task_tags_count_update()
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
DELETE FROM row_counts WHERE table_name = 'tasks'
;
INSERT INTO row_counts (table_name, row_total) SELECT 'tasks', COUNT(*) FROM tasks
;
-- @create
CREATE OR REPLACE FUNCTION tasks_rows_insert() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO row_counts (table_name, row_total) SELECT 'tasks', COUNT(*) FROM new_rows
                ON CONFLICT (table_name) DO UPDATE SET row_total = row_counts.row_total + EXCLUDED.row_total;
            RETURN NULL;
        END $$
;
CREATE TRIGGER tasks_rows_insert AFTER INSERT ON tasks REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tasks_rows_insert()
;
CREATE OR REPLACE FUNCTION tasks_rows_delete() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE row_counts SET row_total = row_total - (SELECT COUNT(*) FROM old_rows) WHERE table_name = 'tasks';
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
CREATE SEQUENCE IF NOT EXISTS tasks_seq_seq
;
UPDATE tasks SET seq = nextval('tasks_seq_seq') WHERE seq IS NULL
;
UPDATE task_tags l SET entity_seq = e.seq FROM tasks e WHERE e.id = l.task_id AND l.entity_seq IS NULL
;
-- @create
CREATE SEQUENCE IF NOT EXISTS tasks_seq_seq
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
