"""pre-receive: an LFS pointer lands only with its object already here, linked to the model.

A pointer whose object the model does not have would land unscanned, and the object could
be uploaded afterwards (``git lfs push --object-id``) straight behind a ref, never scanned
(finding 2). So every pointer the push adds must name an object that is stored, linked to
this model (uploaded through its batch API, which is how git-lfs's pre-push hook, the hub
client and sync all send objects *before* the commit) and of the pointer's size; the scans
then read the object, not the pointer.

An object that some other model has does not count, and the refusal says the same words as
for an object nobody has: the push is not an oracle for other models' oids, and the scanner
never opens their bytes (finding 11).

A blob of 1024 bytes or more whose first 1024 bytes read as a pointer is refused too: git-lfs's
smudge filter checks such a blob out as the object, while its scanners (and so its pre-push
upload) never list it as a pointer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelgit.lfs import pointer as pointer_codec

if TYPE_CHECKING:
    from modelgit.hooks.pre_receive import Push
    from modelgit.scanner.blobs import Blob

#: Blobs up to this size are read whole through pygit2 to look at their first bytes; larger
#: ones are streamed by ``git cat-file`` and only their head is read (memory stays flat).
READ_WHOLE_MAX = 1024 * 1024

#: At most this many files are named in one refusal.
MAX_LISTED = 10


def pushed_blobs(push: Push) -> list[Blob]:
    """The blobs the push adds, walked once per push and shared by the checks that read them."""
    if "pushed_blobs" not in push.notes:
        from modelgit.scanner.blobs import pushed_blobs as walk

        updates = [(u.old, u.new, u.ref) for u in push.updates]
        push.notes["pushed_blobs"] = list(walk(str(push.repo), updates, push.env))
    blobs: list[Blob] = push.notes["pushed_blobs"]
    return blobs


def _head(push: Push, blob: Blob) -> bytes:
    """The first :data:`~modelgit.lfs.pointer.MAX_POINTER_BYTES` bytes of a pushed blob."""
    if blob.size <= READ_WHOLE_MAX:
        return blob.data()[: pointer_codec.MAX_POINTER_BYTES]
    from modelgit.git.commands import blob_head

    head = blob_head(push.repo, blob.oid, pointer_codec.MAX_POINTER_BYTES, push.env)
    if len(head) < min(blob.size, pointer_codec.MAX_POINTER_BYTES):
        raise RuntimeError(f"git cat-file could not read blob {blob.oid}")
    return head


def check_lfs_objects(push: Push) -> list[str]:
    """Refuse pointers whose object is not stored and linked to this model (fail closed)."""
    from modelgit.lfs.storage import storage_for

    mid = push.model["id"]
    storage = storage_for(push.cfg)
    missing: list[tuple[Blob, pointer_codec.Pointer]] = []
    oversized: list[tuple[Blob, pointer_codec.Pointer]] = []
    found: list[tuple[Blob, pointer_codec.Pointer]] = []
    for blob in pushed_blobs(push):
        if blob.mode == 0o120000:
            continue  # a symlink's target is a path, never checked out through a filter
        found_pointer = pointer_codec.parse_head(_head(push, blob))
        if found_pointer is None:
            continue
        if blob.size >= pointer_codec.MAX_POINTER_BYTES:
            oversized.append((blob, found_pointer))
        else:
            found.append((blob, found_pointer))
    linked = push.store.linked_sizes(mid, sorted({p.oid for _b, p in found}))
    mismatched: list[tuple[Blob, pointer_codec.Pointer, int]] = []
    for blob, found_pointer in found:
        size = linked.get(found_pointer.oid)
        if size is None or storage.get_size(found_pointer.oid) != size:
            missing.append((blob, found_pointer))
        elif size != found_pointer.size:
            mismatched.append((blob, found_pointer, size))
    if not (missing or oversized or mismatched):
        return []
    branch = _branch(push)
    lines = [f"modelgit: push to {mid} refused: LFS pointers whose objects this model does not"
             " have (a pointer lands only after its object was uploaded and checked):"]
    problems = [
        *(f"modelgit:   {b.path} (commit {b.commit[:7]}): LFS object {p.oid} has not been"
          f" uploaded to {mid}" for b, p in missing),
        *(f"modelgit:   {b.path} (commit {b.commit[:7]}): the pointer says {p.size} bytes,"
          f" the uploaded object {p.oid} has {size}" for b, p, size in mismatched),
        *(f"modelgit:   {b.path} (commit {b.commit[:7]}): {b.size} bytes that start like an LFS"
          f" pointer (to {p.oid}); git-lfs would check the object out instead of this file"
          for b, p in oversized),
    ]
    lines += problems[:MAX_LISTED]
    if len(problems) > MAX_LISTED:
        lines.append(f"modelgit:   ... and {len(problems) - MAX_LISTED} more")
    if missing or mismatched:
        lines.append(f"modelgit: run `git lfs push --all origin {branch}` first, then push again;"
                     " if you pushed with git, your git-lfs did not upload the object (is"
                     " `git lfs install` done in this clone?).")
    if oversized:
        lines.append("modelgit: a file that starts like a pointer must be a real pointer"
                     " (`git lfs track` the path and `git add` it again) or not look like one.")
    return lines


def _branch(push: Push) -> str:
    for u in push.updates:
        if not u.is_delete and u.ref.startswith(("refs/heads/", "refs/tags/")):
            return u.ref.split("/", 2)[2]
    return "<branch>"
