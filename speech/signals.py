"""A clip's file goes when the clip goes (API delete, admin delete, user deleted)."""

from django.db.models.signals import post_delete
from django.dispatch import receiver

from speech.models import SpeechClip


@receiver(post_delete, sender=SpeechClip)
def delete_clip_file(sender, instance: SpeechClip, **kwargs) -> None:
    if instance.file:
        instance.file.delete(save=False)
