"""What equipment prunes (operations.md §3): photo files no row refers to.

A photo's original and thumbnail are stored under ``MEDIA_ROOT/photos/`` (``Photo.image``,
``Photo.thumbnail``). A file there that no photo row names — left behind by a deleted
equipment, a replaced image whose delete failed, a crash between writing and committing — is
deleted once its modification time is older than ``PHOTO_ORPHAN_RETENTION_DAYS``. A file
being stored right now is young, so it is never taken for an orphan: the directory is read
first and the rows after, so a row committed meanwhile still protects its files.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.files.storage import FileSystemStorage
from django.db.models import Q

from masterbus.retention import Pruning, register_pruner

from .models import Photo

PHOTO_ORPHAN_RETENTION_FLOOR = 1
PHOTO_DIR = "photos"
LABEL = "photo files (MEDIA_ROOT/photos)"
CHUNK = 1000  # candidate names looked up per query


def _storage() -> FileSystemStorage | None:
    storage = Photo._meta.get_field("image").storage
    return storage if isinstance(storage, FileSystemStorage) else None


def orphan_photo_files(cutoff) -> list[str]:
    """Paths of photo files older than ``cutoff`` (modification time) that no row names."""
    storage = _storage()
    if storage is None:
        return []
    root = Path(storage.location)
    top = root / PHOTO_DIR
    if not top.is_dir():
        return []
    limit = cutoff.timestamp()
    old: dict[str, str] = {}
    for dirpath, _dirs, files in os.walk(top):
        for name in files:
            path = os.path.join(dirpath, name)
            try:
                if os.stat(path).st_mtime >= limit:
                    continue
            except FileNotFoundError:
                continue
            old[Path(path).relative_to(root).as_posix()] = path
    if not old:
        return []
    names = list(old)
    named: set[str] = set()
    for start in range(0, len(names), CHUNK):
        chunk = names[start : start + CHUNK]
        for image, thumbnail in Photo.objects.filter(
            Q(image__in=chunk) | Q(thumbnail__in=chunk)
        ).values_list("image", "thumbnail"):
            named.update((image, thumbnail))
    return [old[rel] for rel in sorted(old) if rel not in named]


def prune_photo_files(pruning: Pruning) -> None:
    cutoff = pruning.cutoff("PHOTO_ORPHAN_RETENTION_DAYS")
    pruning.delete_files(LABEL, orphan_photo_files(cutoff))


def register() -> None:
    register_pruner(
        "equipment.photo_files",
        prune_photo_files,
        floors={"PHOTO_ORPHAN_RETENTION_DAYS": PHOTO_ORPHAN_RETENTION_FLOOR},
    )
