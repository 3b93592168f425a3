"""Commits made through the hub API (``POST /api/models/<id>/commit/<rev>``), checked like pushes.

The huggingface_hub client sends a commit as NDJSON (a header line, then one line per file,
LFS file or deletion). This package builds the git commit with pygit2 in a quarantine and
moves the branch only if the same pre-receive checks as a git push
(:func:`modelgit.hooks.pre_receive.run_checks`) accept it: there is no second set of rules.

- ``limits``: the limits, the settings and :class:`HubError`;
- ``paths``: paths and branch names from the network;
- ``ndjson``: reading the body into a header and operations;
- ``editor``: the tree edits and the ``.gitattributes`` lines for LFS files;
- ``apply``: quarantine, checks, ``update-ref`` and the post-receive steps;
- ``preupload``: :func:`upload_modes`, the ``preupload`` answer, with libgit2's own
  ``.gitattributes`` and ``.gitignore`` matching so that what it promises is what
  ``git clone`` later does.
"""

from __future__ import annotations

from modelgit.hubcommit.apply import (
    CommitRequest,
    CommitResult,
    _check,
    commit,
    model_lock,
)
from modelgit.hubcommit.editor import TreeEditor, _attributes_line
from modelgit.hubcommit.limits import (
    CONTENT_STATUS,
    DEFAULT_LFS_THRESHOLD,
    DEFAULT_MAX_COMMIT_BYTES,
    MAX_ATTEMPTS,
    MAX_OPERATIONS,
    MAX_PATH_BYTES,
    MAX_PREUPLOAD_FILES,
    MAX_SEGMENT_BYTES,
    STATUS_BY_CHECK,
    HubError,
    lfs_threshold,
    setting,
)
from modelgit.hubcommit.ndjson import Header, Operation, iter_lines, parse_commit
from modelgit.hubcommit.paths import clean_path, valid_branch
from modelgit.hubcommit.preupload import (
    UploadFile,
    existing_oid,
    parse_upload_files,
    upload_modes,
)

__all__ = [
    "CONTENT_STATUS", "DEFAULT_LFS_THRESHOLD", "DEFAULT_MAX_COMMIT_BYTES", "MAX_ATTEMPTS",
    "MAX_OPERATIONS", "MAX_PATH_BYTES", "MAX_PREUPLOAD_FILES", "MAX_SEGMENT_BYTES",
    "STATUS_BY_CHECK", "CommitRequest", "CommitResult", "Header", "HubError", "Operation",
    "TreeEditor", "UploadFile", "_attributes_line", "_check", "clean_path", "commit",
    "existing_oid", "iter_lines", "lfs_threshold", "model_lock", "parse_commit",
    "parse_upload_files", "setting", "upload_modes", "valid_branch",
]
