"""Writing modelgit's hook shims into bare repositories, keeping any hook already there.

Shaped after pre-commit's installer: one template with a marked config region that records
the absolute interpreter (so the hook never depends on PATH or an activated virtualenv), an
ID line that marks our own files (so reinstalling is idempotent), and a foreign hook moved
aside to ``<hook>.legacy`` and run first by the shim, never deleted.
"""

from __future__ import annotations

import os
import shlex
import sys
from importlib import resources
from pathlib import Path

HOOKS = ("pre-receive", "post-receive")
ID_LINE = "# ID: 0f3c9a71d2b84e6a (modelgit)"
START = "# --- modelgit config start"
END = "# --- modelgit config end"


def _template() -> str:
    return resources.files("modelgit.hooks").joinpath("hook.tmpl").read_text(encoding="utf-8")


def package_root() -> str:
    """The folder that holds the ``modelgit`` package (site-packages, or the checkout of an
    editable install): the shim puts it on sys.path because it starts Python without site."""
    import modelgit

    return str(Path(modelgit.__file__).resolve().parent.parent)


def render(data_dir: Path, model_id: str, python: str | None = None,
           forward: str | None = None) -> str:
    """The hook file; ``forward`` is the compiled forwarder (default: built for ``python``
    if a compiler is there, see ``compiled.py``); "" means none, the hook starts Python."""
    from modelgit.hooks import compiled

    if forward is None:
        forward = compiled.forwarder(python) or ""
    text = _template()
    region = "\n".join([
        START,
        f"MODELGIT_PYTHON={shlex.quote(python or sys.executable)}",
        f"MODELGIT_FORWARD={shlex.quote(forward)}",
        f"MODELGIT_DATA_DIR={shlex.quote(str(data_dir))}",
        f"MODELGIT_MODEL_ID={shlex.quote(model_id)}",
        f"MODELGIT_PKG_ROOT={shlex.quote(package_root())}",
        END,
    ])
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    if forward and _shebang_safe(forward):
        # The forwarder is the interpreter: no /bin/sh before it (see forward.c, --hook).
        head = head.replace("#!/bin/sh\n", f"#!{forward} --hook\n", 1)
    return head + region + tail


#: Longest first line every Linux kernel reads whole (older ones stop at 127 bytes).
MAX_SHEBANG = 120


def _shebang_safe(path: str) -> bool:
    line = f"#!{path} --hook"
    return (os.path.isabs(path) and len(line) <= MAX_SHEBANG
            and not any(c.isspace() for c in path))


def is_ours(path: Path) -> bool:
    try:
        return ID_LINE in path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


#: Repository settings the hooks need: post-receive queues ``git gc --auto`` as a background
#: task, so receive-pack must not run it itself while the pusher waits (≈ 3-5 ms a push).
REPO_SETTINGS = (("receive.autogc", "false"),)


def _configure(repo: Path) -> None:
    """Best effort: where the config cannot be written (a host's repository owned by another
    user), receive-pack keeps running gc itself, only slower for the pusher."""
    import subprocess

    for key, value in REPO_SETTINGS:
        subprocess.run(["git", "config", "--file", str(repo / "config"), key, value],
                       check=False, capture_output=True)


def install(repo: Path, data_dir: Path, model_id: str) -> list[str]:
    """Install (or refresh) both hooks; returns what was done, for the CLI to report."""
    hooks_dir = repo / "hooks"
    hooks_dir.mkdir(exist_ok=True)
    done: list[str] = []
    _configure(repo)
    # Rendered first: a failure here must not leave a repository whose hook was moved aside
    # and not replaced (a push would then skip every check).
    content = render(data_dir, model_id)
    for name in HOOKS:
        target = hooks_dir / name
        legacy = hooks_dir / f"{name}.legacy"
        if (target.exists() or target.is_symlink()) and not is_ours(target):
            if legacy.exists():
                raise FileExistsError(
                    f"{target} is not modelgit's and {legacy} already exists; move one of them"
                    " away by hand, then install again"
                )
            os.replace(target, legacy)
            done.append(f"kept {name} as {legacy.name}")
        if target.exists() and target.read_text(encoding="utf-8") == content:
            continue
        tmp = target.with_name(f".{name}.tmp")
        tmp.write_text(content, encoding="utf-8")
        tmp.chmod(0o755)
        os.replace(tmp, target)
        done.append(f"installed {name}")
    return done


def uninstall(repo: Path) -> list[str]:
    """Remove our hooks and put any legacy hook back where it was."""
    done: list[str] = []
    for name in HOOKS:
        target = repo / "hooks" / name
        legacy = repo / "hooks" / f"{name}.legacy"
        if target.exists() and is_ours(target):
            target.unlink()
            done.append(f"removed {name}")
        if legacy.exists() and not target.exists():
            os.replace(legacy, target)
            done.append(f"restored {name}")
    import subprocess

    for key, _value in REPO_SETTINGS:  # git's own gc after pushes again
        subprocess.run(["git", "config", "--file", str(repo / "config"), "--unset", key],
                       check=False, capture_output=True)
    return done
