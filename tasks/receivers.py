"""Remove a deleted task's files after commit; record the deletions no service made."""

from django.db import transaction
from django.db.models import Model, QuerySet
from django.db.models.signals import post_delete
from django.dispatch import receiver

from accounts.actor import current_actor

from .documents import remove_derived
from .models import OcrPage, OcrTask
from .services.deletion import record_task_delete, recorded_deletions
from .uploads import remove_stored
from .web.thumbnails import remove_thumbnail


@receiver(post_delete, sender=OcrTask, dispatch_uid="remove_task_files")
def remove_task_files(sender, instance: OcrTask, **kwargs) -> None:
    """Remove the task's upload, searchable PDF and thumbnail once its row is gone."""
    name, pdf, pk = instance.file.name, instance.searchable_pdf.name, instance.pk
    transaction.on_commit(lambda: remove_stored(name))
    transaction.on_commit(lambda: remove_derived(pdf))
    transaction.on_commit(lambda: remove_thumbnail(pk))


@receiver(post_delete, sender=OcrTask, dispatch_uid="audit_task_delete")
def audit_unrecorded_task_delete(
    sender, instance: OcrTask, origin: Model | QuerySet | None = None, **kwargs
) -> None:
    """Record task_delete for a deletion no service recorded.

    Every surface deletes through tasks.services, which records the event itself. What
    is left: a cascade (a user deleted with their tasks, from any surface) and tasks
    deleted by hand from a shell, attributed to whoever is acting (accounts.actor).
    """
    if instance.pk in recorded_deletions.get():
        return
    actor = current_actor()
    # The surface (admin, api, shell, command) and, outside a request, the command or
    # the operating-system account.
    details = dict(actor.details)
    surface = details.pop("via")
    origin_model = type(origin) if isinstance(origin, Model) else getattr(origin, "model", OcrTask)
    if origin_model is OcrTask:
        record_task_delete(instance, actor=actor.user, via=surface, **details)
    else:
        record_task_delete(
            instance,
            actor=actor.user,
            via="cascade",
            cascade_from=origin_model._meta.label_lower,
            surface=surface,
            **details,
        )


@receiver(post_delete, sender=OcrPage, dispatch_uid="remove_page_image")
def remove_page_image(sender, instance: OcrPage, **kwargs) -> None:
    """Remove a turned page's stored image once its row is gone (task deleted or re-read)."""
    name = instance.image.name
    if name:
        transaction.on_commit(lambda: remove_derived(name))
