# A copy of a genuine row, writer MAC and all, INSERTed later was linked like the
# original when stamped within a minute of it (README, Tamper evidence). Genuine events
# never share a writer MAC (its nonce, audit.sealing.refusals.writer_tag), so a unique
# index on it refuses the copy's INSERT, on SQLite and PostgreSQL alike.
#
# An index cannot be made over rows that already repeat a MAC: they are named first,
# and the migration stops. On PostgreSQL the index is built with the table locked
# against writes: seconds per million rows.

from django.db import migrations, models


class RepeatedWriterMac(Exception):
    pass


def refuse_repeated_macs(apps, schema_editor):
    AuditEvent = apps.get_model("audit", "AuditEvent")
    repeated = (
        AuditEvent.objects.using(schema_editor.connection.alias)
        .exclude(writer_mac="")
        .values("writer_mac")
        .annotate(rows=models.Count("id"))
        .filter(rows__gt=1)
        .values_list("writer_mac", flat=True)[:10]
    )
    copies = [
        list(
            AuditEvent.objects.using(schema_editor.connection.alias)
            .filter(writer_mac=mac)
            .order_by("id")
            .values_list("id", flat=True)
        )
        for mac in repeated
    ]
    if copies:
        raise RepeatedWriterMac(
            "these audit events repeat another's writer MAC (ids, the oldest first): "
            f"{copies}. A copy inserted into the table repeats its original's; two genuine "
            "events could repeat one only before writer MACs carried a nonce, with every "
            "field and the writer's clock reading to the microsecond alike. Compare the rows "
            "(verify_audit_chain names the events it refuses) and keep the evidence before "
            "anything is removed; the unique index cannot be made while they repeat."
        )


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0023_tree_inserts_by_role"),
    ]

    operations = [
        migrations.RunPython(refuse_repeated_macs, migrations.RunPython.noop, elidable=False),
        migrations.AddConstraint(
            model_name="auditevent",
            constraint=models.UniqueConstraint(
                condition=models.Q(("writer_mac", ""), _negated=True),
                fields=("writer_mac",),
                name="audit_one_row_per_writer_mac",
            ),
        ),
    ]
