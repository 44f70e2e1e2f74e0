"""Audit every change to users and groups, whichever way it is made.

Accounts change through the Django admin, the API, `createsuperuser`, `changepassword`,
`ensure_admin` and a shell; no service of ours sees them all, so model signals do
(pre_save / post_save / m2m_changed / post_delete, as django-auditlog does). The actor
comes from the request being served (audit.middleware), else the command or shell.
"""

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import get_hasher, identify_hasher
from django.contrib.auth.models import Group, Permission
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete, pre_save
from django.dispatch import receiver

from audit.services import record_event

from .actor import current_actor
from .tokens import revoke_all_tokens

User = get_user_model()

# What user_update reports, old and new value. Never the password field: its change is
# a password_change event that names who changed it, never the hash.
TRACKED_FIELDS = (
    "username",
    "email",
    "first_name",
    "last_name",
    "is_active",
    "is_staff",
    "is_superuser",
)
BEFORE = "_audit_before"


def record_account_event(
    *, event_type: str, resource_type: str, resource_id: Any, metadata: dict[str, Any]
) -> None:
    """Record an account event attributed to the current actor."""
    actor = current_actor()
    record_event(
        event_type=event_type,
        user=actor.user,
        resource_type=resource_type,
        resource_id=resource_id,
        metadata={**metadata, **actor.details},
    )


def record_user_update(user, metadata: dict[str, Any]) -> None:
    """Record a user_update of `user`: the account is the resource, named in `target`."""
    record_account_event(
        event_type="user_update",
        resource_type="user",
        resource_id=user.pk,
        metadata={"target": user.get_username(), **metadata},
    )


def permission_names(pks) -> list[str]:
    """Return "app_label.codename" for permission ids, sorted."""
    rows = Permission.objects.filter(pk__in=pks).values_list("content_type__app_label", "codename")
    return sorted(f"{app}.{codename}" for app, codename in rows)


def group_names(pks) -> list[str]:
    return sorted(Group.objects.filter(pk__in=pks).values_list("name", flat=True))


@receiver(pre_save, sender=User, dispatch_uid="audit_user_before_save")
def remember_user_before_save(sender, instance, update_fields=None, **kwargs) -> None:
    # Raw saves (loaddata) included: a fixture can make a superuser as well as a shell can.
    if instance.pk is None:
        return
    watched = {*TRACKED_FIELDS, "password"}
    if update_fields is not None and not watched & set(update_fields):
        return  # last_login after every sign-in: nothing an auditor asked for
    before = sender.objects.filter(pk=instance.pk).values(*TRACKED_FIELDS, "password").first()
    setattr(instance, BEFORE, before)


@receiver(post_save, sender=User, dispatch_uid="audit_user_saved")
def audit_user_saved(sender, instance, created, **kwargs) -> None:
    if created:
        record_account_event(
            event_type="user_create",
            resource_type="user",
            resource_id=instance.pk,
            metadata={
                "target": instance.get_username(),
                "fields": {name: getattr(instance, name) for name in TRACKED_FIELDS},
                "usable_credentials": instance.has_usable_password(),
            },
        )
        return
    before = instance.__dict__.pop(BEFORE, None)
    if before is None:
        return
    changes = {
        name: {"old": before[name], "new": getattr(instance, name)}
        for name in TRACKED_FIELDS
        if before[name] != getattr(instance, name)
    }
    if changes:
        record_user_update(instance, {"changes": changes})
    changed = before["password"] != instance.password
    if changed and not is_rehash(instance, before["password"], kwargs.get("update_fields")):
        audit_password_change(instance)


def is_rehash(user, old_hash: str, update_fields) -> bool:
    """Return whether a new hash only re-encodes the same secret (hasher upgrade at sign-in).

    Django's upgrade (AbstractBaseUser.check_password) saves only the password and clears
    the raw one set_password kept; and it runs only for a hash the current hashers would
    replace. Setting the same password again is a change the user asked for: recorded,
    and it ends their tokens.
    """
    if getattr(user, "_password", None) is not None:
        return False
    if update_fields is None or set(update_fields) != {"password"}:
        return False
    try:
        hasher = identify_hasher(old_hash)
    except ValueError:
        return False
    preferred = get_hasher("default")
    return hasher.algorithm != preferred.algorithm or preferred.must_update(old_hash)


def audit_password_change(user) -> None:
    """Record a password change and revoke every token issued before it."""
    actor = current_actor()
    # Any path that changes the password ends every API token: a stolen refresh token
    # must not outlive the password it was obtained with.
    revoked = revoke_all_tokens(user=user)
    record_event(
        event_type="password_change",
        user=actor.user,
        resource_type="user",
        resource_id=user.pk,
        metadata={
            "target": user.get_username(),
            "by": actor.by(user),
            "usable": user.has_usable_password(),
            "tokens_revoked": revoked,
            **actor.details,
        },
    )


@receiver(post_delete, sender=User, dispatch_uid="audit_user_deleted")
def audit_user_deleted(sender, instance, **kwargs) -> None:
    record_account_event(
        event_type="user_delete",
        resource_type="user",
        resource_id=instance.pk,
        metadata={
            "target": instance.get_username(),
            "fields": {name: getattr(instance, name) for name in TRACKED_FIELDS},
        },
    )


def m2m_ids(sender, instance, action: str, pk_set, related_field: str) -> set | None:
    """Return the ids added or removed, keeping what a clear is about to remove."""
    if action == "pre_clear":
        manager = getattr(instance, related_field)
        instance.__dict__[f"_audit_cleared_{related_field}"] = set(
            manager.values_list("pk", flat=True)
        )
        return None
    if action == "post_clear":
        return instance.__dict__.pop(f"_audit_cleared_{related_field}", set())
    if action in ("post_add", "post_remove"):
        return set(pk_set or ())
    return None


def change_key(action: str, what: str) -> str:
    return f"{what}_added" if action == "post_add" else f"{what}_removed"


@receiver(m2m_changed, sender=User.groups.through, dispatch_uid="audit_user_groups")
def audit_user_groups(sender, instance, action, reverse, pk_set, **kwargs) -> None:
    field = "user_set" if reverse else "groups"
    ids = m2m_ids(sender, instance, action, pk_set, field)
    if not ids:
        return
    if reverse:
        # group.user_set.add(...): one event per user, naming this group.
        for user in User.objects.filter(pk__in=ids):
            record_user_update(user, {change_key(action, "groups"): [instance.name]})
        return
    record_user_update(instance, {change_key(action, "groups"): group_names(ids)})


@receiver(m2m_changed, sender=User.user_permissions.through, dispatch_uid="audit_user_permissions")
def audit_user_permissions(sender, instance, action, reverse, pk_set, **kwargs) -> None:
    if reverse:
        # permission.user_set.add(...): rare; recorded per user like the forward case.
        ids = m2m_ids(sender, instance, action, pk_set, "user_set")
        if not ids:
            return
        name = permission_names([instance.pk])
        for user in User.objects.filter(pk__in=ids):
            record_user_update(user, {change_key(action, "permissions"): name})
        return
    ids = m2m_ids(sender, instance, action, pk_set, "user_permissions")
    if not ids:
        return
    record_user_update(instance, {change_key(action, "permissions"): permission_names(ids)})


@receiver(pre_save, sender=Group, dispatch_uid="audit_group_before_save")
def remember_group_before_save(sender, instance, **kwargs) -> None:
    if instance.pk is not None:
        instance.__dict__[BEFORE] = sender.objects.filter(pk=instance.pk).values("name").first()


@receiver(post_save, sender=Group, dispatch_uid="audit_group_saved")
def audit_group_saved(sender, instance, created, **kwargs) -> None:
    if created:
        metadata: dict[str, Any] = {"action": "create", "name": instance.name}
    else:
        before = instance.__dict__.pop(BEFORE, None)
        if before is None or before["name"] == instance.name:
            return
        metadata = {
            "action": "rename",
            "changes": {"name": {"old": before["name"], "new": instance.name}},
        }
    record_account_event(
        event_type="group_update", resource_type="group", resource_id=instance.pk, metadata=metadata
    )


@receiver(pre_delete, sender=Group, dispatch_uid="audit_group_before_delete")
def remember_group_before_delete(sender, instance, **kwargs) -> None:
    # The memberships are deleted with the group in one cascade, which sends no
    # m2m_changed: without this, members would lose its permissions off the record.
    instance.__dict__[BEFORE] = {
        "members": list(instance.user_set.order_by("pk")),
        "permissions": permission_names(instance.permissions.values_list("pk", flat=True)),
    }


@receiver(post_delete, sender=Group, dispatch_uid="audit_group_deleted")
def audit_group_deleted(sender, instance, **kwargs) -> None:
    before = instance.__dict__.pop(BEFORE, None) or {"members": [], "permissions": []}
    members = before["members"]
    for user in members:
        record_user_update(user, {"groups_removed": [instance.name]})
    record_account_event(
        event_type="group_update",
        resource_type="group",
        resource_id=instance.pk,
        metadata={
            "action": "delete",
            "name": instance.name,
            "members": sorted(user.get_username() for user in members),
            "permissions": before["permissions"],
        },
    )


@receiver(m2m_changed, sender=Group.permissions.through, dispatch_uid="audit_group_permissions")
def audit_group_permissions(sender, instance, action, reverse, pk_set, **kwargs) -> None:
    if reverse:
        ids = m2m_ids(sender, instance, action, pk_set, "group_set")
        groups = list(Group.objects.filter(pk__in=ids or ()))
        names = permission_names([instance.pk])
    else:
        ids = m2m_ids(sender, instance, action, pk_set, "permissions")
        groups = [instance] if ids else []
        names = permission_names(ids or ())
    for group in groups:
        record_account_event(
            event_type="group_update",
            resource_type="group",
            resource_id=group.pk,
            metadata={
                "action": "permissions",
                "name": group.name,
                change_key(action, "permissions"): names,
            },
        )
