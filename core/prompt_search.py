"""Word search over prompts: `filter[prompt][contains]` on tasks and images (docs/query-engine.md, "Prompt search").

A prompt is searched by its words: the query's words (runs of letters and digits, any case) must all be words of
the prompt, the last one as the start of a word when the query ends in it (`pine fo` finds "misty pine forest";
`pine` finds "pineapple" too, `pine,` or `pine ` does not). Punctuation and query syntax (`"`, `*`, `-`, `:`,
`NEAR`, `AND`) are separators or plain words, never operators: the words are quoted into the match expression. A query without a word (only punctuation) matches the text as a substring, as
`contains` does on other attributes.

- **SQLite**: an FTS5 table per searched table, `<table>_prompt_fts` (unicode61 tokenizer, diacritics kept), whose
  rowid is the row's `seq` (core/row_keys.py: stable, unlike SQLite's own rowid, which VACUUM may renumber). A
  trigger set (`PromptSearch`, frozen in core/trigger_sql/ like the others, core/triggers.py) keeps it equal to the
  rows on every write path: an insert (the row's `seq` arrives by an UPDATE of the row-keys trigger), an update of
  the text, a delete. Its backfill creates the table if missing and refills it, so the repair after `migrate`
  rebuilds it.
- **PostgreSQL**: a GIN expression index on `to_tsvector('simple', <text>)`, which the database keeps right by
  itself: no trigger, and the set holds only the index.

Both answer a condition as a list of keys (`WordsMatch`: `seq IN (...)`); `any_of` combines the images' two lists.

The searched text of each table is a column or a metadata key of the same row (`SearchedText`); an image's prompt
is its task's prompt or its own metadata `prompt`, combined by the image resource (images_app/api/resources.py).
"""

import re

from django.db import connection
from django.db.models import BooleanField, Func, Q

from core.triggers import TriggerSet

WORD_RE = re.compile(r"[^\W_]+")  # what both databases' tokenizers call a word (`_` separates, as there)
MAX_WORDS = 32  # bounds the match expression; words past it are ignored (the answer can only grow)


def query_words(text):
    """The words of a search text, lower-cased, at most MAX_WORDS (the rest are ignored)."""
    return WORD_RE.findall(text.lower())[:MAX_WORDS]


def last_is_prefix(text):
    """Whether the text ends in a word (`pine fo`), which then matches the start of a word; after a space or
    punctuation (`pine `, `pine,`) the last word is whole."""
    return bool(text) and WORD_RE.fullmatch(text[-1]) is not None


def fts5_match(words, prefix):
    """An FTS5 match expression: every word as a quoted string (so never an operator), the last a prefix."""
    return " ".join(f'"{word}"' for word in words) + ("*" if prefix else "")


def tsquery(words, prefix):
    """A to_tsquery text: the words ANDed, the last a prefix (words hold letters and digits only)."""
    return " & ".join(words[:-1] + [words[-1] + (":*" if prefix else "")])


class SearchedText:
    """The searched text of one table: `sqlite` and `postgresql` write it from a row reference (`NEW`, `OLD`, a
    column prefix); `columns`, the columns it reads (the update trigger's `UPDATE OF`)."""

    def __init__(self, table, columns, sqlite, postgresql):
        self.table, self.columns = table, columns
        self.sqlite, self.postgresql = sqlite, postgresql

    @property
    def fts(self):
        return f"{self.table}_prompt_fts"

    @property
    def index(self):
        return f"idx_{self.table}_prompt_words"


TASK_PROMPTS = SearchedText("tasks", ("prompt",), "{row}prompt", "{row}prompt")
IMAGE_PROMPTS = SearchedText("images", ("metadata",), "json_extract({row}metadata, '$.prompt')",
                             "({row}metadata ->> 'prompt')")
SEARCHED = (TASK_PROMPTS, IMAGE_PROMPTS)


class PromptSearch(TriggerSet):
    """The FTS5 table of one table's searched text and its triggers (SQLite), its GIN index (PostgreSQL)."""

    def __init__(self, searched: SearchedText):
        self.searched = searched
        self.name = f"prompt_search:{searched.table}"

    def triggers(self, vendor):
        t = self.searched.table
        if vendor != "sqlite":
            return []
        return [(t, f"{t}_prompt_insert"), (t, f"{t}_prompt_update"), (t, f"{t}_prompt_delete")]

    def drop_sql(self, vendor):
        if vendor == "sqlite":
            return super().drop_sql(vendor)
        return [f"DROP INDEX IF EXISTS {self.searched.index}"]

    def backfill_sql(self, vendor):
        s = self.searched
        if vendor != "sqlite":
            return []
        text = s.sqlite.format(row="")
        return [f"CREATE VIRTUAL TABLE IF NOT EXISTS {s.fts} USING fts5(prompt, "
                f"tokenize = 'unicode61 remove_diacritics 0')",
                f"DELETE FROM {s.fts}",
                f"INSERT INTO {s.fts} (rowid, prompt) SELECT seq, {text} FROM {s.table} "
                f"WHERE seq IS NOT NULL AND {text} IS NOT NULL"]

    def create_sql(self, vendor):
        s = self.searched
        if vendor != "sqlite":
            return [f"CREATE INDEX IF NOT EXISTS {s.index} ON {s.table} USING gin "
                    f"(to_tsvector('simple'::regconfig, {s.postgresql.format(row='')}))"]
        new, old = s.sqlite.format(row="NEW."), s.sqlite.format(row="OLD.")
        insert = f"INSERT INTO {s.fts} (rowid, prompt) SELECT NEW.seq, {new} WHERE NEW.seq IS NOT NULL AND {new} IS NOT NULL;"
        delete = f"DELETE FROM {s.fts} WHERE rowid = OLD.seq;"
        return [
            # a row inserted with its key (else the row-keys trigger's UPDATE of `seq` brings it)
            f"CREATE TRIGGER {s.table}_prompt_insert AFTER INSERT ON {s.table} WHEN NEW.seq IS NOT NULL "
            f"BEGIN {insert} END",
            # Django's save() writes every column: only a changed key or text touches the index
            f"CREATE TRIGGER {s.table}_prompt_update AFTER UPDATE OF seq, {', '.join(s.columns)} ON {s.table} "
            f"WHEN OLD.seq IS NOT NEW.seq OR {old} IS NOT {new} BEGIN {delete} {insert} END",
            f"CREATE TRIGGER {s.table}_prompt_delete AFTER DELETE ON {s.table} BEGIN {delete} END",
        ]


def prompt_search_sets():
    return [PromptSearch(searched) for searched in SEARCHED]


def drop_fts_table(table):
    """The reverse step of a migration that installed the set of `table`: its FTS5 table goes too (SQLite)."""

    def drop(apps, schema_editor):
        if schema_editor.connection.vendor == "sqlite":
            schema_editor.execute(f"DROP TABLE IF EXISTS {table}_prompt_fts")

    return drop


class WordsMatch(Func):
    """True for the rows whose searched text (`searched`) holds every word of `words` (query_words), the last as a
    prefix if `prefix`: `seq IN (the keys of the matching rows)`, from the FTS5 table on SQLite, from the GIN index
    on PostgreSQL (`to_tsvector(...) @@ to_tsquery(...)`, the index's expression). A list of keys, not a per-row
    test, so that the images' condition (its own text or its task's) is two lists the planner ORs by index."""

    conditional = True
    output_field = BooleanField()

    def __init__(self, seq, *, searched: SearchedText, words, prefix=True):
        if not words:
            raise ValueError("a word search needs a word")
        self.searched, self.words, self.prefix = searched, list(words), prefix
        super().__init__(seq)

    def as_sqlite(self, compiler, connection, **extra):
        seq_sql, params = compiler.compile(self.get_source_expressions()[0])
        fts = self.searched.fts
        return f"{seq_sql} IN (SELECT rowid FROM {fts} WHERE {fts} MATCH %s)", [*params, fts5_match(self.words, self.prefix)]

    def as_postgresql(self, compiler, connection, **extra):
        seq_sql, params = compiler.compile(self.get_source_expressions()[0])
        s = self.searched
        return (f"{seq_sql} IN (SELECT seq FROM {s.table} WHERE to_tsvector('simple'::regconfig, "
                f"{s.postgresql.format(row='')}) @@ to_tsquery('simple'::regconfig, %s))",
                [*params, tsquery(self.words, self.prefix)])


def any_of(model, conditions):
    """The rows of `model` that meet any of `conditions` (each a `Q` answered by an index, e.g. a WordsMatch): their
    OR on SQLite, whose MULTI-INDEX OR reads each list by its index; on PostgreSQL `seq IN` the UNION ALL of their
    lists, one semi-join (an OR of `IN` subqueries is a filter run over every row there)."""
    if connection.vendor == "postgresql":
        lists = [model._default_manager.filter(condition).values("seq") for condition in conditions]
        return Q(seq__in=lists[0].union(*lists[1:], all=True))
    combined = Q()
    for condition in conditions:
        combined |= condition
    return combined
