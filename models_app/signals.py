"""Receivers that keep models consistent when images go away."""

from django.utils import timezone

from models_app.models import SDModel


def drop_cover_image(sender, instance, **kwargs):
    """An image being deleted stops being any model's cover (pre_delete of images_app.Image)."""
    SDModel.objects.filter(cover_image=instance).update(cover_image=None, updated_at=timezone.now())
