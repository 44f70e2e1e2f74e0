"""The audit trail: append-only events linked into a hash chain."""

from django.conf import settings
from django.db import models
from django.db.models import F
from django.db.models.lookups import IsNull
from django.utils.translation import gettext_lazy as _

from .events import CLIENT_REQUEST_ID_KEY, Category, Outcome
from .expressions import FoldedUsername, MetadataText


class AppendOnlyError(Exception):
    """Raised when code tries to change or remove a recorded audit event."""


# What an event's metadata reads as when the stored JSON is beyond Python's json.
UNREADABLE_METADATA = {"unreadable_metadata": "stored metadata that Python's json cannot read"}


class TrailMetadataField(models.JSONField):
    """A JSONField that reads stored JSON Python cannot decode as UNREADABLE_METADATA.

    Both databases take JSON that Python's json will not read: a number of 5,000
    digits (int() stops at 4,300, a ValueError) or, on PostgreSQL, nesting 10,000 deep
    (a RecursionError). Only someone writing to the table directly stores such a
    thing (record_event never does); loading it raised on every page that showed the
    row (the admin list answered 500). Verification reads the text and names the row.
    """

    def from_db_value(self, value, expression, connection):
        try:
            return super().from_db_value(value, expression, connection)
        except (ValueError, RecursionError):
            return dict(UNREADABLE_METADATA)


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("Audit events cannot be updated.")

    def delete(self):
        raise AppendOnlyError("Audit events cannot be deleted; use the audit_retention command.")

    # The retention command is the one sanctioned path that removes rows. One DELETE
    # statement: no rows loaded into memory, no per-row signals for millions of rows.
    def _retention_delete(self) -> int:
        return self._raw_delete(self.db)


class AuditEvent(models.Model):
    """One security-relevant action, who did it, from where, and what it touched."""

    # NULL until the sealer links the event into the chain (audit/sealing/), then
    # filled once with prev_hash, hash and key_id; never changed after that.
    sequence = models.PositiveBigIntegerField(_("sequence"), unique=True, null=True, editable=False)
    timestamp = models.DateTimeField(_("timestamp"), editable=False)
    # Validated against audit.events at write time; not DB choices, so adding an event
    # type never needs a migration.
    event_type = models.CharField(_("event type"), max_length=40)
    category = models.CharField(_("category"), max_length=20, choices=Category.choices)
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_events",
        verbose_name=_("user"),
        # The trail must outlive its users; the username snapshot keeps who it was.
        db_constraint=False,
        # audit_user_seq (user, sequence) answers every lookup by user, including the
        # SET NULL when a user is deleted; a second index would only slow each insert.
        db_index=False,
    )
    username = models.CharField(_("username"), max_length=150, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=512, blank=True)
    request_id = models.CharField(_("request ID"), max_length=64, blank=True)
    resource_type = models.CharField(_("resource type"), max_length=20, blank=True)
    resource_id = models.CharField(_("resource ID"), max_length=64, blank=True)
    message = models.CharField(_("message"), max_length=500, blank=True)
    metadata = TrailMetadataField(_("metadata"), default=dict, blank=True)
    # NULL, not "", while unsealed: "no link yet" must never read as a link.
    prev_hash = models.CharField(  # noqa: DJ001
        _("previous hash"), max_length=64, null=True, editable=False
    )
    hash = models.CharField(_("hash"), max_length=64, null=True, editable=False)  # noqa: DJ001
    # Which AUDIT_CHAIN_KEYS key made `hash` (an HMAC); "" for the plain SHA-256 links
    # written before keyed links. Not hashed itself: the wrong id names a key under
    # which the link does not verify, so changing it is caught all the same.
    key_id = models.CharField(_("key ID"), max_length=16, blank=True, default="", editable=False)
    # What record_event wrote before the event was sealed: "<key id> <its clock> <nonce>
    # <MAC>", an HMAC of the fields and a random nonce under the chain key
    # (audit.sealing.refusals.writer_tag). The sealer links only events whose MAC holds: a
    # row INSERTed by anyone without the key is not, and a copy of a genuine row is
    # refused by the unique constraint below. "" on events linked as they were written
    # (seeded, key changes).
    writer_mac = models.CharField(
        _("writer MAC"), max_length=120, blank=True, default="", db_default="", editable=False
    )

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-sequence"]
        # Every listing orders by -sequence (the API's cursor, the admin), so each filter
        # column is paired with sequence: the index hands rows over already in order and
        # LIMIT stops early. Paired with timestamp instead, a filter with few or no
        # matches made PostgreSQL walk the whole sequence index backwards (see
        # docs/benchmark-notes.md).
        indexes = [
            models.Index(fields=["timestamp"], name="audit_ts"),
            models.Index(fields=["event_type", "sequence"], name="audit_type_seq"),
            models.Index(fields=["category", "sequence"], name="audit_cat_seq"),
            models.Index(fields=["user", "sequence"], name="audit_user_seq"),
            # A user's events of one type (the API's ?user_id=&event_type=): with only
            # the two above, a type the user never had walked all of the user's events
            # (441 ms p95 for 133,000 of them at 10M rows, docs/scale.md).
            models.Index(fields=["user", "event_type", "sequence"], name="audit_user_type_seq"),
            models.Index(fields=["username", "sequence"], name="audit_username_seq"),
            # Case-insensitive prefix search on the username (admin search box).
            # event_type and sequence make it covering: a prefix with many matches is
            # counted, filtered (reads hidden) and ordered from the index alone.
            models.Index(
                FoldedUsername("username"),
                F("event_type"),
                F("sequence"),
                name="audit_username_folded",
            ),
            models.Index(fields=["ip_address", "sequence"], name="audit_ip_seq"),
            models.Index(fields=["request_id"], name="audit_request"),
            # The X-Request-ID a caller sent (metadata.client_request_id, beside the
            # server's request_id): an index of only the events that have one, in
            # sequence order like the others, for the API's ?client_request_id=.
            models.Index(
                MetadataText(CLIENT_REQUEST_ID_KEY),
                F("sequence"),
                name="audit_client_request",
                condition=models.Q(IsNull(MetadataText(CLIENT_REQUEST_ID_KEY), False)),
            ),
            models.Index(fields=["resource_type", "resource_id"], name="audit_resource"),
            # The sealer's work list: only unsealed rows are in it, so it stays tiny.
            models.Index(
                fields=["timestamp", "id"],
                name="audit_unsealed",
                condition=models.Q(sequence__isnull=True),
            ),
        ]
        constraints = [
            # A genuine event's writer MAC is its own (a nonce in it): a second row with
            # one is a copy, MAC and all, INSERTed later. Linked, it passed for the same
            # event recorded twice; now the INSERT fails, on both databases.
            models.UniqueConstraint(
                fields=["writer_mac"],
                condition=~models.Q(writer_mac=""),
                name="audit_one_row_per_writer_mac",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.event_type} {self.outcome} {self.username or '-'}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("Audit events cannot be changed once recorded.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Audit events cannot be deleted; use the audit_retention command.")


class ChainHead(models.Model):
    """The newest link of the chain; its row lock serialises sealers.

    Exactly one row (id=1). It also lets verification notice when the newest events
    were removed: the head then points past the last row that exists.
    """

    sequence = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64)
    # The newest event's timestamp: the next one is never stamped earlier, even when
    # the system clock steps backwards, so verification can treat a step back as tampering.
    timestamp = models.DateTimeField(null=True, editable=False)
    # The newest event's key id: a writer whose signing key differs records the switch
    # (or rotation) as an event first, so every key change is a link of the chain.
    key_id = models.CharField(max_length=16, blank=True, default="", editable=False)

    def __str__(self) -> str:
        return f"head #{self.sequence}"


class AuditCheckpoint(models.Model):
    """A signed note of the chain's newest link, kept so a dashboard can show the last one.

    The signed JSON file handed to the operator is what proves the chain; this row is a
    copy for display, and the next checkpoint checks its event still holds this hash.
    """

    sequence = models.PositiveBigIntegerField()
    hash = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    signature = models.CharField(max_length=64)

    class Meta:
        ordering = ["-created_at", "-id"]
        get_latest_by = ["created_at", "id"]

    def __str__(self) -> str:
        return f"checkpoint #{self.sequence} at {self.created_at:%Y-%m-%d %H:%M}"


class AuditLease(models.Model):
    """Who holds a lease on a background job of the trail, and until when.

    "sealer": the one sealer that may link events (audit/lease.py), with a generation
    that fences a holder out once another took over. "checkpoint_signer": the worker
    last seen signing checkpoints (no exclusivity: any worker may sign), so a signer
    that stopped is noticed. Times are the database's clock on PostgreSQL.
    """

    name = models.CharField(primary_key=True, max_length=32)
    holder = models.CharField(max_length=200, blank=True)
    generation = models.PositiveBigIntegerField(default=0)
    renewed_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    # The holder's PostgreSQL session (pid and start, which tell a reused pid apart):
    # the session a taker ends when the holder is gone (see audit/lease.py).
    backend_pid = models.IntegerField(null=True, blank=True)
    backend_start = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} lease of {self.holder or 'nobody'} until {self.expires_at}"


class MerkleNodeQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("Merkle tree nodes cannot be updated.")

    def delete(self):
        raise AppendOnlyError("Merkle tree nodes cannot be deleted.")


class MerkleNode(models.Model):
    """The RFC 6962 hash of one complete subtree of the audit trail's Merkle tree.

    Level L, index k covers leaves [k * 2**L, (k + 1) * 2**L); level 0 holds the leaf
    hashes. Only complete subtrees are stored, so a row never changes once written
    (audit.transparency.verifier.merkle builds every root and proof from O(log n) of them).
    """

    # (level, index) is the key: no id column, and no second index over ~2 rows a leaf.
    pk = models.CompositePrimaryKey("level", "index")
    level = models.PositiveSmallIntegerField()
    index = models.PositiveBigIntegerField()
    # Raw SHA-256 bytes: half the size of hex.
    hash = models.BinaryField(max_length=32)

    objects = MerkleNodeQuerySet.as_manager()

    def __str__(self) -> str:
        return f"node {self.level}/{self.index}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("Merkle tree nodes cannot be changed once stored.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Merkle tree nodes cannot be deleted.")


class TreeCheckpointQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("Tree checkpoints cannot be updated.")

    def delete(self):
        raise AppendOnlyError("Tree checkpoints cannot be deleted.")


class TreeCheckpoint(models.Model):
    """A signed tlog checkpoint of the Merkle tree (c2sp.org/tlog-checkpoint), as signed.

    The database's copy of what the worker also writes to AUDIT_CHECKPOINT_DIR. One per
    tree size; never changed or removed (the model, its queryset and, on PostgreSQL, a
    trigger refuse), so verify_audit_chain treats a file without its row as tampering.
    """

    size = models.PositiveBigIntegerField(unique=True)
    # Raw SHA-256 bytes of the root, as in the note's third line (base64 there).
    root_hash = models.BinaryField(max_length=32)
    # The whole signed note: text, blank line, signature lines.
    note = models.TextField()
    created_at = models.DateTimeField()

    objects = TreeCheckpointQuerySet.as_manager()

    class Meta:
        ordering = ["-size"]
        get_latest_by = "size"

    def __str__(self) -> str:
        return f"tree checkpoint of size {self.size}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("Tree checkpoints cannot be changed once stored.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Tree checkpoints cannot be deleted.")


class AuditStreamPosition(models.Model):
    """How far the SIEM stream got: the last event sequence and checkpoint id it wrote.

    One row (name "stream"), advanced by the sealer lease holder in the transaction that
    wrote the lines (audit/siem/streamer.py), so a sealer taking over goes on from here.
    """

    name = models.CharField(primary_key=True, max_length=32)
    sequence = models.PositiveBigIntegerField(default=0)
    checkpoint_id = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} streamed up to #{self.sequence}"


class WitnessCosignatureQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("Witness cosignatures cannot be updated.")

    def delete(self):
        raise AppendOnlyError("Witness cosignatures cannot be deleted.")


class WitnessCosignature(models.Model):
    """A witness's cosignature of a stored tree checkpoint (c2sp.org/tlog-cosignature).

    Accepted only when it verifies with a key in AUDIT_WITNESS_KEYS; never changed or
    removed (the model, its queryset and, on PostgreSQL, a trigger refuse). The line is
    kept as the witness wrote it, so the cosigned note is the checkpoint plus these lines.
    """

    checkpoint = models.ForeignKey(
        TreeCheckpoint, on_delete=models.PROTECT, related_name="cosignatures"
    )
    witness_name = models.CharField(max_length=200)
    witness_key_id = models.PositiveBigIntegerField()
    # The witness's clock (POSIX seconds) as signed, and the signature line's base64.
    timestamp = models.PositiveBigIntegerField()
    signature = models.TextField()
    received_at = models.DateTimeField()

    objects = WitnessCosignatureQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["checkpoint", "witness_name", "witness_key_id"],
                name="audit_one_cosignature_per_witness_key",
            )
        ]

    def __str__(self) -> str:
        return f"cosignature by {self.witness_name} of tree size {self.checkpoint_id}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("Witness cosignatures cannot be changed once stored.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Witness cosignatures cannot be deleted.")
