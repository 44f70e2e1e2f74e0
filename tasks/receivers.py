"""Record every task deletion, from any surface, exactly once; remove files after commit."""

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from audit.client import current_request
from audit.services import record_event

from .models import OcrPage, OcrTask
from .outputs import remove_derived
from .services import current_deletion
from .thumbnails import remove_thumbnail
from .uploads import remove_stored


@receiver(post_delete, sender=OcrTask, dispatch_uid="audit_task_delete")
def audit_task_delete(sender, instance: OcrTask, **kwargs) -> None:
    deletion = current_deletion.get()
    request = current_request.get()
    if deletion is not None:
        actor, via, client = deletion.actor, deletion.via, deletion.client
    else:
        # A delete no service announced (Django admin, shell): attribute it to the
        # logged-in user of the current request, if any.
        user = getattr(request, "user", None)
        actor = user if user is not None and user.is_authenticated else None
        match = getattr(request, "resolver_match", None)
        via = "admin" if match is not None and match.namespace == "admin" else "other"
        client = None
    record_event(
        event_type="task_delete",
        user=actor,
        request=request if client is None else None,
        client=client,
        resource_type="task",
        resource_id=instance.pk,
        metadata={
            "via": via,
            "owner": instance.owner.get_username() if instance.owner_id else "",
            "filename": instance.original_name,
            "status": instance.status,
        },
    )
    name, pk = instance.file.name, instance.pk
    transaction.on_commit(lambda: remove_stored(name))
    pdf = instance.searchable_pdf.name
    transaction.on_commit(lambda: remove_derived(pdf))
    transaction.on_commit(lambda: remove_thumbnail(pk))


@receiver(post_delete, sender=OcrPage, dispatch_uid="remove_page_image")
def remove_page_image(sender, instance: OcrPage, **kwargs) -> None:
    """Remove a turned page's stored image once its row is gone (task deleted or re-read)."""
    name = instance.image.name
    if name:
        transaction.on_commit(lambda: remove_derived(name))
