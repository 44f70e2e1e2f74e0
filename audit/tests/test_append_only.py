"""Recorded audit events cannot be changed or removed, in Python or (PostgreSQL) in SQL."""

import secrets

import psycopg
import pytest
from django.contrib.auth import get_user_model
from django.db import DatabaseError, connection, transaction

from audit.models import (
    AppendOnlyError,
    AuditEvent,
    MerkleNode,
    TreeCheckpoint,
    WitnessCosignature,
)
from audit.retention import PRUNE_ROLE
from audit.roles import COSIGNATURE_ROLE, SEALER_ROLE
from audit.sealing.batches import seal_pending
from audit.services import record_event
from audit.tests.fixtures import drain_sealer
from audit.tests.tamper import TABLE
from audit.transparency.tree_heads import sign_tree_head
from audit.verification.verify import verify_chain

# The append-only trigger is PostgreSQL-only; SQLite relies on the model guards.
postgresql_only = pytest.mark.postgresql


@pytest.fixture
def event(db, user):
    record_event(event_type="auth_login", user=user)
    return record_event(event_type="task_create", user=user, resource_id=7, message="made")


def refused_sql(sql: str, params=()) -> None:
    """Assert the database refuses a statement (inside a savepoint, so the test goes on)."""
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, params)


# --- The model and queryset guards (both databases) -----------------------------


def test_saving_a_recorded_event_raises(event):
    event.message = "changed"
    with pytest.raises(AppendOnlyError):
        event.save()
    assert AuditEvent.objects.get(pk=event.pk).message == "made"


def test_deleting_a_recorded_event_raises(event):
    with pytest.raises(AppendOnlyError):
        event.delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_queryset_update_raises(event):
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(message="changed")
    assert AuditEvent.objects.get(pk=event.pk).message == "made"


def test_queryset_delete_raises(event):
    with pytest.raises(AppendOnlyError, match="audit_retention"):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.count() == 2


def test_bulk_update_raises(event):
    event.message = "changed"
    # bulk_update opens its own atomic block; the savepoint keeps the test usable.
    with pytest.raises(AppendOnlyError), transaction.atomic():
        AuditEvent.objects.bulk_update([event], ["message"])
    assert AuditEvent.objects.get(pk=event.pk).message == "made"


@pytest.mark.django_db(transaction=True)
def test_deleting_a_user_keeps_their_events_and_the_chain(user):
    record_event(event_type="auth_login", user=user)
    record_event(event_type="auth_logout", user=user)
    user_id = user.pk
    get_user_model().objects.filter(pk=user_id).delete()
    drain_sealer()
    *events, deletion = AuditEvent.objects.order_by("sequence")
    assert [(e.user_id, e.username) for e in events] == [(None, "alice"), (None, "alice")]
    # The deletion is recorded too (from a shell here: no signed-in actor).
    assert (deletion.event_type, deletion.resource_id) == ("user_delete", str(user_id))
    assert deletion.metadata["target"] == "alice"
    assert not AuditEvent.objects.filter(user_id=user_id).exists()
    assert verify_chain().ok


# --- The PostgreSQL trigger --------------------------------------------------------


@postgresql_only
def test_raw_update_is_refused(event):
    refused_sql(f"UPDATE {TABLE} SET message = 'changed' WHERE id = %s", [event.pk])  # noqa: S608
    assert AuditEvent.objects.get(pk=event.pk).message == "made"


@postgresql_only
def test_raw_update_of_hash_columns_is_refused(event):
    refused_sql(f"UPDATE {TABLE} SET hash = prev_hash")  # noqa: S608


@postgresql_only
def test_raw_delete_is_refused(event):
    refused_sql(f"DELETE FROM {TABLE} WHERE id = %s", [event.pk])  # noqa: S608
    assert AuditEvent.objects.count() == 2


@postgresql_only
def test_base_manager_cannot_get_around_the_guards(event):
    # The base manager is a plain QuerySet: only the trigger stands in its way.
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent._base_manager.filter(pk=event.pk).update(message="changed")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent._base_manager.filter(pk=event.pk)._raw_delete(connection.alias)
    assert AuditEvent.objects.get(pk=event.pk).message == "made"


@postgresql_only
def test_nulling_user_id_while_changing_anything_else_is_refused(event):
    refused_sql(
        f"UPDATE {TABLE} SET user_id = NULL, username = 'someone' WHERE id = %s",  # noqa: S608
        [event.pk],
    )


@postgresql_only
def test_pointing_an_event_at_another_user_is_refused(event, make_user):
    other = make_user()
    refused_sql(f"UPDATE {TABLE} SET user_id = %s WHERE id = %s", [other.pk, event.pk])  # noqa: S608


@postgresql_only
def test_nulling_user_id_alone_is_allowed(event):
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {TABLE} SET user_id = NULL WHERE id = %s", [event.pk])  # noqa: S608
    assert AuditEvent.objects.get(pk=event.pk).user_id is None


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_delete_is_allowed_only_to_the_prune_role(user):
    for _ in range(3):
        record_event(event_type="auth_login", user=user)
    drain_sealer()
    # The setting that once let any session delete now changes nothing.
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("SET LOCAL audit.allow_prune = 'on'")
        cursor.execute(f"DELETE FROM {TABLE} WHERE sequence = 1")  # noqa: S608
    assert AuditEvent.objects.count() == 3
    # As the prune role (this test's superuser may switch to any role; see below).
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL ROLE {PRUNE_ROLE}")
        cursor.execute(f"DELETE FROM {TABLE} WHERE sequence = 1")  # noqa: S608
    assert AuditEvent.objects.count() == 2
    # SET LOCAL ended with that transaction: the next one, or autocommit, is refused.
    refused_sql(f"DELETE FROM {TABLE} WHERE sequence = 2")  # noqa: S608
    with pytest.raises(DatabaseError, match="append-only"), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {TABLE} WHERE sequence = 3")  # noqa: S608
    assert AuditEvent.objects.count() == 2


@pytest.fixture
def application_session(transactional_db):
    """Yield a connection to the test database as an ordinary application role.

    The tests connect as a superuser, who may switch to any role and drop any trigger:
    what the trigger is for is a role like this one, with the rights the web and the
    worker need (every table, DELETE included) but no membership in the prune role.
    """
    role = f"audit_test_app_{secrets.token_hex(4)}"
    settings = connection.settings_dict
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {role} LOGIN")
        cursor.execute(
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}"
        )
    session = psycopg.connect(
        host=settings["HOST"],
        port=settings["PORT"] or 5432,
        dbname=settings["NAME"],
        user=role,
        autocommit=True,
    )
    try:
        yield session
    finally:
        session.close()
        with connection.cursor() as cursor:
            cursor.execute(f"DROP OWNED BY {role}")
            cursor.execute(f"DROP ROLE {role}")


@postgresql_only
def test_an_application_role_cannot_delete_whatever_it_sets(application_session, user):
    for _ in range(3):
        record_event(event_type="auth_login", user=user)
    drain_sealer()

    def refused(*statements: str, match: str) -> None:
        with pytest.raises(psycopg.Error, match=match), application_session.transaction():
            for statement in statements:
                application_session.execute(statement)

    # It holds DELETE on the table; the trigger still refuses, the setting notwithstanding.
    refused(
        "SET LOCAL audit.allow_prune = 'on'",
        f"DELETE FROM {TABLE} WHERE sequence = 1",  # noqa: S608
        match="append-only",
    )
    # And it may not become the prune role.
    refused(f"SET LOCAL ROLE {PRUNE_ROLE}", match="permission denied to set role")
    assert AuditEvent.objects.count() == 3


@postgresql_only
def test_an_application_role_granted_all_privileges_cannot_truncate(application_session, user):
    # GRANT ALL PRIVILEGES, the usual grant to a role that owns nothing, includes
    # TRUNCATE, which fires no DELETE trigger: the events, the tree and the signed
    # checkpoints went in one statement each, whatever the DELETE triggers said.
    for _ in range(3):
        record_event(event_type="auth_login", user=user)
    drain_sealer()
    sign_tree_head()
    role = application_session.execute("SELECT current_user").fetchone()[0]
    with connection.cursor() as cursor:
        cursor.execute(f"GRANT ALL PRIVILEGES ON ALL TABLES IN SCHEMA public TO {role}")
    tables = (TABLE, "audit_merklenode", "audit_treecheckpoint", "audit_witnesscosignature")
    for table in tables:
        with (
            pytest.raises(psycopg.Error, match=f"{table} is append-only: TRUNCATE refused"),
            application_session.transaction(),
        ):
            application_session.execute(f"TRUNCATE {table} CASCADE")
    assert AuditEvent.objects.count() == 3
    assert TreeCheckpoint.objects.count() == 1
    assert verify_chain().ok


@postgresql_only
def test_no_setting_lets_an_application_role_delete_link_or_forge(application_session, settings):
    for _ in range(3):
        record_event(event_type="auth_login", username="alice")
    drain_sealer()
    sign_tree_head()
    unsealed = record_event(event_type="auth_login", username="bob")
    assert AuditEvent.objects.get(pk=unsealed.pk).sequence is None
    settings_said = ("SET LOCAL audit.allow_prune = 'on'", "SET LOCAL audit.sealing = 'on'")

    def refused(statement: str, params=(), *, match: str) -> None:
        with pytest.raises(psycopg.Error, match=match), application_session.transaction():
            for said in settings_said:
                application_session.execute(said)
            application_session.execute(statement, params)

    refused(f"DELETE FROM {TABLE} WHERE sequence = 1", match="append-only")  # noqa: S608
    refused(f"DELETE FROM {TABLE} WHERE id = %s", [unsealed.pk], match="append-only")  # noqa: S608
    # Linking the unsealed row with links of its own choosing, as the sealer alone may.
    refused(
        f"UPDATE {TABLE} SET sequence = 4, prev_hash = 'a', hash = 'b' WHERE id = %s",  # noqa: S608
        [unsealed.pk],
        match="append-only",
    )
    refused(
        f"INSERT INTO {TABLE} (sequence, timestamp, event_type, category, outcome,"  # noqa: S608
        " username, user_agent, request_id, resource_type, resource_id, message,"
        " metadata, prev_hash, hash, key_id, writer_mac) VALUES (9, now(), 'x', 'audit',"
        " 'success', '', '', '', '', '', '', '{}', 'a', 'b', '', '')",
        match="only the sealer",
    )
    for statement in (
        "DELETE FROM audit_treecheckpoint",
        "UPDATE audit_treecheckpoint SET note = ''",
    ):
        refused(statement, match="append-only")
    refused(f"SET LOCAL ROLE {SEALER_ROLE}", match="permission denied to set role")
    refused(f"SET LOCAL ROLE {PRUNE_ROLE}", match="permission denied to set role")
    assert AuditEvent.objects.count() == 4
    assert TreeCheckpoint.objects.count() == 1
    # The real sealer still links it, and the chain holds.
    seal_pending()
    assert AuditEvent.objects.get(pk=unsealed.pk).sequence == 4
    assert verify_chain().ok


@postgresql_only
def test_a_member_of_the_sealer_role_links_rows_as_the_sealer_does(application_session, settings):
    settings.AUDIT_SEALING = "background"
    unsealed = record_event(event_type="auth_login", username="bob")
    role = application_session.execute("SELECT current_user").fetchone()[0]
    with connection.cursor() as cursor:
        cursor.execute(f"GRANT {SEALER_ROLE} TO {role}")
    with application_session.transaction():
        application_session.execute(f"SET LOCAL ROLE {SEALER_ROLE}")
        application_session.execute(
            f"UPDATE {TABLE} SET sequence = 1, prev_hash = 'a', hash = 'b' WHERE id = %s",  # noqa: S608
            [unsealed.pk],
        )
    assert AuditEvent.objects.get(pk=unsealed.pk).sequence == 1
    with connection.cursor() as cursor:
        cursor.execute(f"REVOKE {SEALER_ROLE} FROM {role}")


@postgresql_only
def test_an_application_role_cannot_insert_into_the_tree_its_checkpoints_or_cosignatures(
    application_session, user
):
    # Each INSERT below jammed a background job for good: a node at the next leaf index
    # failed every sealing round on the primary key, a checkpoint of a larger size every
    # signing ("the tree was cut back"), a cosignature row under a witness's name kept
    # the witness's real one out. Only the role that writes each table may now.
    for _ in range(3):
        record_event(event_type="auth_login", user=user)
    drain_sealer()
    checkpoint = sign_tree_head()
    assert checkpoint is not None
    jams = {
        "audit_merklenode": (
            "INSERT INTO audit_merklenode (level, index, hash) VALUES (0, 3, %s)",
            [b"\0" * 32],
        ),
        "audit_treecheckpoint": (
            "INSERT INTO audit_treecheckpoint (size, root_hash, note, created_at)"
            " VALUES (1000, %s, 'forged', now())",
            [b"\0" * 32],
        ),
        "audit_witnesscosignature": (
            "INSERT INTO audit_witnesscosignature (checkpoint_id, witness_name,"
            " witness_key_id, timestamp, signature, received_at)"
            " VALUES (%s, 'witness.example', 1, 0, 'forged', now())",
            [checkpoint.pk],
        ),
    }
    for table, (statement, params) in jams.items():
        with (
            pytest.raises(psycopg.Error, match=f"{table} takes rows only from the role"),
            application_session.transaction(),
        ):
            application_session.execute(statement, params)
    # The roles that write them are not its to take either.
    for role in (SEALER_ROLE, COSIGNATURE_ROLE):
        with (
            pytest.raises(psycopg.Error, match="permission denied to set role"),
            application_session.transaction(),
        ):
            application_session.execute(f"SET LOCAL ROLE {role}")
    # The sealer and the signer, switching to their role, go on.
    record_event(event_type="auth_logout", user=user)
    drain_sealer()
    assert sign_tree_head().size == 4
    assert verify_chain().ok


@postgresql_only
def test_members_of_the_writing_roles_insert_as_them(application_session, user):
    record_event(event_type="auth_login", user=user)
    drain_sealer()
    checkpoint = sign_tree_head()
    role = application_session.execute("SELECT current_user").fetchone()[0]
    with connection.cursor() as cursor:
        cursor.execute(f"GRANT {SEALER_ROLE}, {COSIGNATURE_ROLE} TO {role}")
    try:
        with application_session.transaction():
            application_session.execute(f"SET LOCAL ROLE {SEALER_ROLE}")
            application_session.execute(
                "INSERT INTO audit_merklenode (level, index, hash) VALUES (0, 1, %s)",
                [b"\1" * 32],
            )
        with application_session.transaction():
            application_session.execute(f"SET LOCAL ROLE {COSIGNATURE_ROLE}")
            application_session.execute(
                "INSERT INTO audit_witnesscosignature (checkpoint_id, witness_name,"
                " witness_key_id, timestamp, signature, received_at)"
                " VALUES (%s, 'witness.example', 1, 0, 'x', now())",
                [checkpoint.pk],
            )
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"REVOKE {SEALER_ROLE}, {COSIGNATURE_ROLE} FROM {role}")
    assert MerkleNode.objects.filter(level=0, index=1).exists()
    assert WitnessCosignature.objects.filter(checkpoint=checkpoint).count() == 1


@postgresql_only
def test_an_application_role_cannot_move_an_unsealed_events_timestamp(
    application_session, settings
):
    # The writer MAC cannot cover a stamp PostgreSQL makes at the INSERT (it bounds it to
    # the writer's reading, within a minute); the trigger refuses the UPDATE instead,
    # to every role but the sealer linking the row (README, Tamper evidence).
    settings.AUDIT_SEALING = "background"
    unsealed = record_event(event_type="auth_login", username="bob")
    with (
        pytest.raises(psycopg.Error, match="append-only"),
        application_session.transaction(),
    ):
        application_session.execute(
            f"UPDATE {TABLE} SET timestamp = timestamp - interval '30 seconds' WHERE id = %s",  # noqa: S608
            [unsealed.pk],
        )
    assert AuditEvent.objects.get(pk=unsealed.pk).timestamp == unsealed.timestamp
