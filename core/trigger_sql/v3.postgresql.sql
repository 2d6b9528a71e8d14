-- Frozen trigger SQL (postgresql); core/triggers.py. Never edit: a change is a new version.

-- @set prompt_search:tasks
-- @triggers 
-- @drop
DROP INDEX IF EXISTS idx_tasks_prompt_words
;
-- @backfill
-- @create
CREATE INDEX IF NOT EXISTS idx_tasks_prompt_words ON tasks USING gin (to_tsvector('simple'::regconfig, prompt))
;

-- @set prompt_search:images
-- @triggers 
-- @drop
DROP INDEX IF EXISTS idx_images_prompt_words
;
-- @backfill
-- @create
CREATE INDEX IF NOT EXISTS idx_images_prompt_words ON images USING gin (to_tsvector('simple'::regconfig, (metadata ->> 'prompt')))
;
