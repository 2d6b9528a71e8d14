"""Tags (shared by models, images and tasks) and the key/value table of system facts."""

from django.db import models
from django.db.models.functions import Length
from django.utils import timezone

from core.db import NoCaseCharField
from core.tag_counts import CountedLink
from core.tags import TAG_NAME_MAX, fold_tag_name, get_or_create_tags
from core.text import LABEL_DB_REGEX

models.CharField.register_lookup(Length)


class TagManager(models.Manager):
    def named(self, names):
        """The tags for `names` (matched without regard to case), created on first use."""
        return get_or_create_tags(self.model, names)


class Tag(models.Model):
    """A free label. Names keep their first spelling; comparisons ignore case (D3)."""

    # Sorted without case (SQLite NOCASE, an ICU collation on PostgreSQL: core/db.py); `folded`
    # (all of Unicode, unique) is the identity that lookups use.
    name = NoCaseCharField(primary_key=True, max_length=TAG_NAME_MAX)
    folded = models.CharField(max_length=80, unique=True, editable=False)
    description = models.TextField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TagManager()

    class Meta:
        db_table = "tags"
        ordering = ["name"]
        indexes = [models.Index(fields=["-created_at"], name="idx_tags_created")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(name__length__gt=0) & models.Q(name__length__lte=TAG_NAME_MAX),
                name="tags_name_length",
            ),
            # No control characters (core/text.py), NUL included: with none, SQLite's LENGTH() above is exact.
            models.CheckConstraint(condition=models.Q(name__regex=LABEL_DB_REGEX), name="tags_name_printable"),
        ]

    def save(self, *args, **kwargs):
        self.folded = fold_tag_name(self.name)
        super().save(*args, **kwargs)

    def __str__(self):
        return self.name

    @classmethod
    def link_models(cls):
        """The concrete TagLink tables of the installed apps, in app order (found through the relations)."""
        return [rel.related_model for rel in cls._meta.related_objects if issubclass(rel.related_model, TagLink)]

    @classmethod
    def counted_links(cls):
        """core.tag_counts.CountedLink of each link table: the triggers that keep the counts."""
        counted = []
        for link in cls.link_models():
            entity = next(field for field in link._meta.fields if field.is_relation and field.name != "tag")
            counted.append(CountedLink(link._meta.db_table, entity.column, entity.related_model._meta.db_table,
                                       entity.related_model._meta.pk.column))
        return counted


class TagLink(models.Model):
    """Base of the tables that attach tags to an entity (model_tags, image_tags, task_tags).

    Subclasses add the foreign key to their entity and name the tag resource's attribute that counts
    their rows (`usage_count`, e.g. "image_count"), so tag usage is counted without importing them.
    """

    # not indexed alone: `(tag, entity_seq)` leads with it (core/row_keys.py)
    tag = models.ForeignKey("system_app.Tag", on_delete=models.CASCADE, db_column="tag_name", db_index=False)
    created_at = models.DateTimeField(default=timezone.now)
    # The entity's integer `seq`, copied by a trigger on insert (core/row_keys.py): tag conditions compare it
    entity_seq = models.BigIntegerField(null=True, editable=False, serialize=False)

    usage_count = None

    class Meta:
        abstract = True


class DerivedRows(models.Manager):
    """The default manager of a table the triggers derive from others: it lists nothing, so `dumpdata`
    leaves the rows out and `loaddata` rebuilds them from the link rows it loads."""

    def get_queryset(self):
        return super().get_queryset().none()


class DerivedTable(models.Model):
    """A table the triggers derive from others: `objects` reads it, the default manager (`derived`) lists nothing."""

    objects = models.Manager()
    derived = DerivedRows()

    class Meta:
        abstract = True
        default_manager_name = "derived"


class TagUsage(DerivedTable):
    """How many rows of one link table carry a tag: kept by triggers (core/tag_counts.py), read by the tag
    resource's usage counts. A tag without links has no row (count 0)."""

    tag_name = models.CharField(max_length=TAG_NAME_MAX)  # no foreign key: the tags delete trigger removes rows
    link = models.CharField(max_length=40)  # the link table, e.g. "image_tags"
    uses = models.IntegerField(default=0)

    class Meta(DerivedTable.Meta):
        db_table = "tag_usage"
        constraints = [models.UniqueConstraint(fields=["tag_name", "link"], name="tag_usage_pair")]


class RowCountSlot(DerivedTable):
    """Part of how many rows an entity table holds (images, models, tasks): kept by triggers (core/tag_counts.py),
    summed over a table's slots, the exact `meta.total` of an unfiltered list without counting. Concurrent writers
    add to different slots on PostgreSQL, so they do not queue for one row."""

    table_name = models.CharField(max_length=40)
    slot = models.SmallIntegerField()
    row_total = models.BigIntegerField(default=0)

    class Meta(DerivedTable.Meta):
        db_table = "row_count_slots"
        constraints = [models.UniqueConstraint(fields=["table_name", "slot"], name="row_count_slots_slot")]


class TagCounted(models.Model):
    """An entity with tags: `tag_count` is its number of tag links, kept by triggers (core/tag_counts.py).

    Saving a stored row never writes `tag_count` or `seq` (the value in memory may be stale); only the triggers do:
    `save()` names the fields it writes (`update_fields`, Django's public way to write some columns of a row).
    """

    # Not serialized: `loaddata` inserts 0 and the triggers count the link rows it loads after.
    tag_count = models.IntegerField(default=0, editable=False, serialize=False)
    # The integer key the link rows refer to (`entity_seq`), assigned by a trigger on insert (core/row_keys.py).
    seq = models.BigIntegerField(null=True, editable=False, serialize=False)

    MAINTAINED = ("tag_count", "seq")  # written by the database only

    class Meta:
        abstract = True

    def save(self, *args, force_insert=False, update_fields=None, **kwargs):
        """An update of a stored row (one read from the database, or `update_fields` given) writes every field but
        the maintained ones; an insert writes them all (0 and no key: the triggers count and key the new row)."""
        if update_fields is not None:
            update_fields = [name for name in update_fields if self._meta.get_field(name).attname not in self.MAINTAINED]
            if not update_fields:
                return
        elif not self._state.adding and not force_insert:  # the loaded fields, as Django writes them
            skipped = {*self.MAINTAINED, *self.get_deferred_fields()}
            update_fields = [field.name for field in self._meta.concrete_fields
                             if not field.primary_key and field.attname not in skipped]
        super().save(*args, force_insert=force_insert, update_fields=update_fields, **kwargs)


def keep_maintained_columns(sender, instance, raw=False, **kwargs):
    """pre_save: a raw save (`loaddata`, which calls `save_base`, not `save()`) of a TagCounted row that is already
    stored keeps the row's `tag_count` and `seq` (the fixture has neither: `serialize=False`): it writes them as
    the columns themselves (F expressions). A new row is inserted with 0 and no key, for the triggers to set."""
    if raw and isinstance(instance, TagCounted) and sender._base_manager.filter(pk=instance.pk).exists():
        for name in TagCounted.MAINTAINED:
            setattr(instance, name, models.F(name))


FACT_TYPES = ["string", "number", "boolean", "json"]


class SystemFact(models.Model):
    """One row of the `metadata` table: a typed fact about the installation."""

    key = models.CharField(primary_key=True, max_length=200)
    value = models.TextField(null=True, blank=True)
    type = models.CharField(max_length=10, default="string", choices=[(t, t) for t in FACT_TYPES])
    description = models.TextField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "metadata"
        constraints = [
            models.CheckConstraint(condition=models.Q(type__in=FACT_TYPES), name="metadata_type_valid"),
        ]

    def __str__(self):
        return f"{self.key}={self.value}"
