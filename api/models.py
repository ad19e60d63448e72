"""What the API itself keeps: the responses of POSTs sent with an `Idempotency-Key`.

See api/idempotency.py for the protocol. A row holds no key and no readable body: the key
is reduced to a digest together with its client (a person's user id; a partner's user id
and API key id), and the stored body is encrypted with a key derived from the server's
secret and the client's raw key, so the table alone reveals neither (a partner's new API
key, say, shown once in a response).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class IdempotencyState(models.TextChoices):
    IN_PROGRESS = "in_progress", _("In progress")
    COMPLETED = "completed", _("Completed")


class IdempotencyRecord(models.Model):
    # sha256 of (client, Idempotency-Key): one row per client and key, the client being a
    # person's user id or a partner's user and API key ids (api.idempotency.caller_for)
    digest = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=12, choices=IdempotencyState.choices, default=IdempotencyState.IN_PROGRESS)
    # When the request now holding the key started: a holder older than
    # IDEMPOTENCY_LOCK_SECONDS is taken to have crashed.
    locked_at = models.DateTimeField()
    # After this the key counts as unused and `purge_idempotency_keys` deletes the row.
    expires_at = models.DateTimeField(db_index=True)
    # sha256 over the method, path, media type and body of the first request (set with
    # the response, once the body has been read).
    fingerprint = models.CharField(max_length=64, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    headers = models.JSONField(default=dict, blank=True)
    body = models.BinaryField(blank=True, default=b"")  # a Fernet token
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("idempotency record")
        verbose_name_plural = _("idempotency records")

    def __str__(self) -> str:
        return f"{self.digest[:12]}… ({self.state})"
