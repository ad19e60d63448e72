"""Model bases shared by the domain apps (abstract: no table, no app of their own)."""

from __future__ import annotations

from django.db import models


class AppendOnlyModel(models.Model):
    """Rows are written once: an update or a delete of an existing row is a bug."""

    class Meta:
        abstract = True

    def save(self, *args: object, **kwargs: object) -> None:
        if not self._state.adding:
            raise RuntimeError(f"{self._meta.verbose_name_plural} are append-only")
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise RuntimeError(f"{self._meta.verbose_name_plural} are append-only")
