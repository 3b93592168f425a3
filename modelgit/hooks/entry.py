"""What the hook shim runs: read git's input once, run a kept legacy hook, then modelgit's.

Every push starts this in a fresh Python without ``site`` (``-S``: ~60 ms less per hook), so
at the top it imports only what is built in. The warm path (``forward``) needs nothing more;
the cold path turns ``site`` on and then loads the checks.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # only built-in modules are imported at the top (see above)
if TYPE_CHECKING:
    import logging

GUARD = "MODELGIT_HOOK_ACTIVE"


def _say(lines: list[str]) -> None:
    """stderr of a hook reaches the pusher as ``remote:`` lines."""
    for line in lines:
        sys.stderr.write(f"{line}\n")
    sys.stderr.flush()


def _run_legacy(hook: str, args: list[str], stdin: bytes) -> int:
    legacy = os.path.join(os.environ.get("GIT_DIR", "."), "hooks", f"{hook}.legacy")
    if not os.path.isfile(legacy) or not os.access(legacy, os.X_OK):
        return 0
    import subprocess

    env = dict(os.environ, **{GUARD: hook})
    return subprocess.run([legacy, *args], input=stdin, env=env, check=False).returncode


def setup_logging(data_dir: str) -> logging.Logger:
    """Cold path only: hooks.log in the data folder (stderr if it cannot be written)."""
    import logging

    log = logging.getLogger("modelgit.hooks")
    if log.handlers:
        return log
    try:
        os.makedirs(os.path.join(data_dir, "log"), exist_ok=True)
        handler: logging.Handler = logging.FileHandler(os.path.join(data_dir, "log",
                                                                    "hooks.log"))
    except OSError:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    return log


def run(argv: list[str]) -> int:
    hook, data_dir, model_id, *args = argv
    if os.environ.get(GUARD) == hook:
        return 0  # a legacy hook called us again: the outer run already checks this push
    stdin = sys.stdin.buffer.read()
    legacy_rc = _run_legacy(hook, args, stdin)
    if hook == "pre-receive" and legacy_rc != 0:
        _say([f"modelgit: the repository's own {hook} hook refused this push"])
        return legacy_rc
    if hook not in ("pre-receive", "post-receive"):
        return legacy_rc
    from modelgit.hooks import forward

    rc = forward.try_forward(hook, data_dir, model_id, stdin, _say)
    if rc is not None:
        return rc if hook == "pre-receive" else legacy_rc
    # Cold: no server. Turn site-packages on (the shim starts Python with -S) and check here.
    import site

    site.main()
    from pathlib import Path

    setup_logging(data_dir).info("%s %s: no server reachable, checking in the hook process"
                                 " (cold)", hook, model_id)
    if hook == "pre-receive":
        from modelgit.hooks import pre_receive

        return pre_receive.main(Path(data_dir), model_id, stdin, dict(os.environ), _say)
    from modelgit.hooks import post_receive

    post_receive.main(Path(data_dir), model_id, stdin, dict(os.environ))
    return legacy_rc
