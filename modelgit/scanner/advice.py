"""What a finding means and what to do about it, per kind: the words a pusher reads.

Every scan refusal and every scan warning is written here, and only here, for both ways in: a
``git push`` (the lines come back as ``remote:`` lines) and a hub API upload (the lines are the
error the client raises). Each kind of finding has its own advice:

* **secrets**: remove the secret (and rewrite the commits that added it), or mark a false
  positive with ``# pragma: allowlist secret`` / ``.secrets.baseline``. A secret's value is
  never in a finding, so it is never printed.
* **pickles**: the file, the globals it imports and what each does when the file is loaded
  (:data:`PICKLE_GLOBALS`), and the way out: weights saved as safetensors, or loaded and saved
  again as plain tensors.
* **bandit** (code): the file and line, bandit's rule id and text, and how to change or review
  the line.
* **limits**: text too large for the secret scan (``scan.max_secret_scan_bytes``) cannot be
  checked, so it is refused (unless ``scan.oversize: allow``): split it or drop it.

Findings that do not refuse (bandit in report mode, suspicious pickles, files too large to
scan) become a bounded list of ``warning:`` lines on an accepted push (:func:`warning_lines`).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable
from typing import Literal

from modelgit.scanner.findings import Finding

#: How the refused bytes came: ``git`` push or a ``hub`` API upload (the advice differs).
Via = Literal["git", "hub"]

# ----------------------------------------------------------------------------- pickles
_SHELL = "runs a shell command when the file is loaded"
_PROGRAM = "starts a program when the file is loaded"
_PYTHON = "runs Python code when the file is loaded"
_REACH = "reaches any function, so loading the file can call anything"
_DELETE = "deletes files when the file is loaded"
_NETWORK = "opens network connections when the file is loaded"
_NESTED = "loads another pickle, which this scan cannot see, when the file is loaded"

#: Well-known dangerous globals in plain words, as ``module.name`` patterns (fnmatch), first
#: match wins. Module aliases are folded first (:data:`_ALIASES`): ``posix.system`` and
#: ``nt.system`` read as ``os.system``, ``__builtin__.eval`` as ``builtins.eval``.
PICKLE_GLOBALS: tuple[tuple[str, str], ...] = (
    ("os.system", _SHELL),
    ("os.popen", _SHELL),
    ("subprocess.*", _PROGRAM),
    ("commands.*", _SHELL),
    ("pty.spawn", "starts a program in a new terminal when the file is loaded"),
    ("os.exec*", _PROGRAM),
    ("os.spawn*", _PROGRAM),
    ("os.posix_spawn*", _PROGRAM),
    ("os.fork*", _PROGRAM),
    ("os.startfile", _PROGRAM),
    ("multiprocessing.util.spawnv_passfds", _PROGRAM),
    ("_posixsubprocess.*", _PROGRAM),
    ("os.rename", "renames or replaces files when the file is loaded"),
    ("os.replace", "renames or replaces files when the file is loaded"),
    ("os.remove", _DELETE),
    ("os.unlink", _DELETE),
    ("os.rmdir", _DELETE),
    ("os.removedirs", _DELETE),
    ("shutil.rmtree", _DELETE),
    ("shutil.*", "copies, moves or deletes files when the file is loaded"),
    ("os.*", "calls an operating-system function when the file is loaded"),
    ("builtins.eval", _PYTHON),
    ("builtins.exec", _PYTHON),
    ("builtins.compile", _PYTHON),
    ("builtins.getattr", _REACH),
    ("builtins.__import__", _REACH),
    ("builtins.apply", "calls any function when the file is loaded"),
    ("builtins.open", "opens a file for reading or writing when the file is loaded"),
    ("builtins.breakpoint", "starts the debugger when the file is loaded"),
    ("importlib.import_module", _REACH),
    ("importlib.*", _REACH),
    ("pkgutil.resolve_name", _REACH),
    ("pydoc.locate", _REACH),
    ("operator.attrgetter", _REACH),
    ("operator.methodcaller", _REACH),
    ("operator.itemgetter", _REACH),
    ("functools.partial", "calls any function with arguments of its choosing when the file"
                          " is loaded"),
    ("types.CodeType", _PYTHON),
    ("types.FunctionType", "builds a Python function from the file's data when the file is"
                           " loaded"),
    ("cloudpickle.*", _PYTHON),
    ("runpy.*", "runs a Python module or script when the file is loaded"),
    ("code.*", _PYTHON),
    ("timeit.*", _PYTHON),
    ("cProfile.*", _PYTHON),
    ("profile.*", _PYTHON),
    ("webbrowser.*", "opens a web page in a browser when the file is loaded"),
    ("socket.*", _NETWORK),
    ("ssl.*", _NETWORK),
    ("http.client.*", _NETWORK),
    ("httplib.*", _NETWORK),
    ("urllib.request.*", _NETWORK),
    ("requests.*", _NETWORK),
    ("aiohttp.*", _NETWORK),
    ("ctypes.*", "calls C functions and writes to memory directly when the file is loaded"),
    ("pickle.*", _NESTED),
    ("dill.*", _NESTED),
    ("torch.serialization.load", _NESTED),
    ("torch.load", _NESTED),
    ("torch.storage._load_from_bytes", _NESTED),
    ("sys.*", "changes the running interpreter when the file is loaded"),
    ("pip.*", "installs Python packages when the file is loaded"),
)
_ALIASES = {"posix": "os", "nt": "os", "__builtin__": "builtins", "_operator": "operator",
            "_pickle": "pickle", "cloudpickle.cloudpickle": "cloudpickle"}
UNKNOWN_GLOBAL = "is not on the list of safe globals; loading the file would call it"


def _canonical(name: str) -> str:
    for alias, module in _ALIASES.items():
        if name.startswith(alias + "."):
            return module + name[len(alias):]
    return name


def pickle_meaning(name: str) -> str:
    """What the global ``module.name`` does when a pickle that imports it is loaded, as the
    rest of a sentence that starts with the name: ``posix.system`` -> "runs a shell command
    when the file is loaded"."""
    canonical = _canonical(name)
    for pattern, meaning in PICKLE_GLOBALS:
        if fnmatch.fnmatchcase(canonical, pattern):
            return meaning
    return UNKNOWN_GLOBAL


def pickle_message(name: str) -> str:
    """A pickle finding's message: the global and what it does."""
    return f"{name} {pickle_meaning(name)}"


# ----------------------------------------------------------------------------- refusals
def _where(f: Finding) -> str:
    return f"{f.path}:{f.line}" if f.line else f.path


def _commit(f: Finding, via: Via) -> str:
    # A hub upload's commit was never anybody's: naming it would only confuse.
    return f"  (commit {f.commit[:7]})" if via == "git" and f.commit else ""


def _secrets(found: list[Finding], via: Via) -> list[str]:
    lines = [f"modelgit:   {_where(f)}  {f.rule}{_commit(f, via)}" for f in found]
    return [
        *lines,
        "modelgit: how to fix: remove the secret from the file;",
        "modelgit:   a false positive: add `# pragma: allowlist secret` to that line, or list it"
        " in",
        "modelgit:   .secrets.baseline (`detect-secrets scan > .secrets.baseline`).",
    ]


def _pickles(found: list[Finding], via: Via) -> list[str]:
    lines = [f"modelgit:   {f.path}: {f.message}{_commit(f, via)}" for f in found]
    paths = ", ".join(dict.fromkeys(f.path for f in found))
    return [
        *lines,
        "modelgit: how to fix: loading a pickle calls every function it names, so a model file"
        " may hold only weights.",
        f"modelgit:   Instead of {paths}, save the weights as safetensors (tensors and nothing"
        " else):",
        "modelgit:     from safetensors.torch import save_file",
        "modelgit:     save_file(model.state_dict(), \"model.safetensors\")",
        "modelgit:   or, if you made the file and trust it, load it and save only its tensors"
        " again",
        "modelgit:   (torch.save(model.state_dict(), \"model.pt\")).",
    ]


def _code(found: list[Finding], via: Via) -> list[str]:
    lines = [f"modelgit:   {_where(f)}  {f.rule}  {f.message}{_commit(f, via)}" for f in found]
    rules = " ".join(dict.fromkeys(f.rule for f in found))
    return [
        *lines,
        "modelgit: how to fix: change the code the rule points at (the rules are explained at"
        " https://bandit.readthedocs.io/en/latest/plugins/);",
        f"modelgit:   a line that is safe after a review can be marked `# nosec {rules}`.",
    ]


def _limits(found: list[Finding], via: Via) -> list[str]:
    lines = [f"modelgit:   {_where(f)}  {f.message}{_commit(f, via)}" for f in found]
    return [
        *lines,
        "modelgit: a text file too large for the secret scan is refused, since it cannot be"
        " checked:",
        "modelgit:   split it into smaller files, or drop it from the commits that added it;",
        "modelgit:   the site's administrator can raise scan.max_secret_scan_bytes or set"
        " scan.oversize: allow in config.yaml.",
    ]


def _other(found: list[Finding], via: Via) -> list[str]:
    return [f"modelgit:   {_where(f)}  {f.rule}  {f.message}{_commit(f, via)}" for f in found]


#: The section of a refusal for each scanner's findings, in the order they are shown.
SECTIONS: dict[str, Callable[[list[Finding], Via], list[str]]] = {
    "secrets": _secrets, "pickles": _pickles, "bandit": _code, "limits": _limits,
}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def refusal_lines(model_id: str, findings: list[Finding], via: Via = "git") -> list[str]:
    """Why the push (or upload) is refused and what to do, one section per kind of finding."""
    verb = "push" if via == "git" else "commit"
    lines = [f"modelgit: {verb} to {model_id} refused: the security scan found"
             f" {_plural(len(findings), 'problem')}:"]
    kinds = list(SECTIONS) + sorted({f.scanner for f in findings} - set(SECTIONS))
    for kind in kinds:
        group = [f for f in findings if f.scanner == kind]
        if group:
            lines += SECTIONS.get(kind, _other)(group, via)
    if via == "git":
        lines.append("modelgit: then rewrite the commits that added them (the last commit:"
                     " `git commit --amend`; older ones: `git rebase -i`) and push again.")
    else:
        lines.append("modelgit: then upload the files again.")
    return lines


# ----------------------------------------------------------------------------- warnings
#: Most findings listed one per line on an accepted push; the rest are counted.
MAX_WARNINGS = 10


def scan_show_command(model_id: str, ref: str) -> str:
    return f"modelgit scan show {model_id} --ref {ref}"


def warning_lines(model_id: str, ref: str, findings: Iterable[Finding],
                  later: list[str] | None = None, limit: int = MAX_WARNINGS) -> list[str]:
    """``warning:`` lines for findings that do not refuse the push: at most ``limit`` of them,
    then how many more, and where every finding can be seen. ``later`` names scans that run
    only after the push (their findings are in the report, not here)."""
    found = list(findings)
    if not found and not later:
        return []
    lines: list[str] = []
    if found:
        lines.append(f"warning: the security scan reported {_plural(len(found), 'finding')}"
                     " in this push (not refused):")
        for f in found[:limit]:
            text = f.message if f.message.startswith(f.rule) else f"{f.rule}  {f.message}"
            lines.append(f"warning:   {_where(f)}  {text}")
        if len(found) > limit:
            lines.append(f"warning:   ... and {len(found) - limit} more")
    lines += [f"warning: {note}" for note in later or []]
    lines.append(f"warning: every finding: `{scan_show_command(model_id, ref)}` (a site"
                 " administrator runs it on the server)")
    return lines
