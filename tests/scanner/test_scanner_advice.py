"""What a pusher reads about each kind of finding: refusals and warnings from real scans."""

from __future__ import annotations

import builtins
import importlib
import logging
import os
import pickle
import runpy
import shutil
import socket
import subprocess
import webbrowser
from collections.abc import Callable
from typing import Any

import pytest

from modelgit.scanner.advice import (
    UNKNOWN_GLOBAL,
    pickle_meaning,
    refusal_lines,
    warning_lines,
)
from modelgit.scanner.blobs import Blob
from modelgit.scanner.code import scan_python
from modelgit.scanner.pickles import scan_pickle_bytes
from modelgit.scanner.secrets import scan_secrets
from tests.helpers.secret_samples import SECRET_FILES, VALUES

COMMIT = "c0ffee" + "0" * 34


def _loads_to(func: Callable[..., Any], *args: Any) -> bytes:
    """A pickle whose loading calls ``func(*args)`` (never loaded here)."""

    class Payload:
        def __reduce__(self) -> tuple[object, tuple[Any, ...]]:
            return (func, args)

    return pickle.dumps(Payload())


@pytest.mark.parametrize(("func", "args", "name", "words"), [
    (os.system, ("id",), "posix.system", "runs a shell command when the file is loaded"),
    (subprocess.Popen, (["id"],), "subprocess.Popen", "starts a program"),
    (builtins.eval, ("1",), "builtins.eval", "runs Python code"),
    (builtins.exec, ("1",), "builtins.exec", "runs Python code"),
    (builtins.getattr, ("x", "upper"), "builtins.getattr", "reaches any function"),
    (importlib.import_module, ("os",), "importlib.import_module", "reaches any function"),
    (webbrowser.open, ("http://x",), "webbrowser.open", "opens a web page"),
    (socket.create_connection, (("x", 1),), "socket.create_connection",
     "opens network connections"),
    (shutil.rmtree, ("/x",), "shutil.rmtree", "deletes files"),
    (os.remove, ("/x",), "posix.remove", "deletes files"),
    (runpy.run_path, ("/x",), "runpy.run_path", "runs a Python module or script"),
])
def test_pickle_finding_says_what_the_global_does(func: Callable[..., Any], args: tuple[Any, ...],
                                                   name: str, words: str) -> None:
    findings = scan_pickle_bytes("model.pkl", _loads_to(func, *args), COMMIT)
    assert [f.rule for f in findings] == [name]
    assert findings[0].message.startswith(f"{name} {words}")


def test_pickle_meanings_fold_module_aliases_and_name_the_unknown() -> None:
    assert pickle_meaning("nt.system") == pickle_meaning("os.system") == \
        "runs a shell command when the file is loaded"
    assert pickle_meaning("__builtin__.eval") == pickle_meaning("builtins.eval")
    assert pickle_meaning("pty.spawn").startswith("starts a program")
    assert pickle_meaning("mylib.hooks.setup") == UNKNOWN_GLOBAL == \
        "is not on the list of safe globals; loading the file would call it"


def test_pickle_refusal_has_the_fix_and_no_secrets_advice() -> None:
    findings = scan_pickle_bytes("weights/model.pt", _loads_to(os.system, "id"), COMMIT)
    lines = refusal_lines("s/m", findings)
    assert lines[0] == "modelgit: push to s/m refused: the security scan found 1 problem:"
    assert lines[1] == ("modelgit:   weights/model.pt: posix.system runs a shell command when"
                        " the file is loaded  (commit c0ffee0)")
    text = "\n".join(lines)
    assert "Instead of weights/model.pt, save the weights as safetensors" in text
    assert 'save_file(model.state_dict(), "model.safetensors")' in text
    assert "git commit --amend" in lines[-1]
    assert "secret" not in text.lower()


def test_secret_refusal_keeps_its_advice_and_never_the_value() -> None:
    path = "ci/release.sh"
    findings = scan_secrets([Blob.from_bytes(path, SECRET_FILES[path].encode(), COMMIT)])
    for via in ("git", "hub"):
        text = "\n".join(refusal_lines("s/m", findings, via))  # type: ignore[arg-type]
        assert f"{path}:3  GitHub Token" in text
        assert "# pragma: allowlist secret" in text and ".secrets.baseline" in text
        assert "safetensors" not in text
        assert not any(value in text for value in VALUES)
    git_text = "\n".join(refusal_lines("s/m", findings, "git"))
    hub_text = "\n".join(refusal_lines("s/m", findings, "hub"))
    assert "git rebase -i" in git_text and "(commit c0ffee0)" in git_text
    assert "git " not in hub_text and "commit c0ffee0" not in hub_text
    assert hub_text.startswith("modelgit: commit to s/m refused:")
    assert hub_text.endswith("remove the secret from the file;\n"
                             "modelgit:   a false positive: add `# pragma: allowlist secret`"
                             " to that line, or list it in\n"
                             "modelgit:   .secrets.baseline (`detect-secrets scan >"
                             " .secrets.baseline`).\n"
                             "modelgit: then upload the files again.")


def test_code_refusal_names_line_rule_and_nosec() -> None:
    blob = Blob.from_bytes("tools/run.py", b"import subprocess\nsubprocess.call(x, shell=True)\n",
                           COMMIT)
    high = [f for f in scan_python([blob]) if f.rule == "B602"]
    lines = refusal_lines("s/m", high)
    assert lines[1].startswith("modelgit:   tools/run.py:2  B602  subprocess_popen_with_shell")
    assert "`# nosec B602`" in "\n".join(lines)
    assert "pragma" not in "\n".join(lines) and "safetensors" not in "\n".join(lines)


def test_warnings_are_bounded_and_say_where_the_rest_is() -> None:
    blob = Blob.from_bytes("app.py", b"x = eval(input())\n" * 14, COMMIT)
    findings = scan_python([blob])
    assert len(findings) == 14
    lines = warning_lines("s/m", "main", findings)
    assert lines[0] == "warning: the security scan reported 14 findings in this push" \
                       " (not refused):"
    assert lines[1].startswith("warning:   app.py:1  B307  blacklist: Use of possibly insecure")
    assert len(lines) == 1 + 10 + 2
    assert lines[-2] == "warning:   ... and 4 more"
    assert lines[-1] == ("warning: every finding: `modelgit scan show s/m --ref main` (a site"
                         " administrator runs it on the server)")
    assert warning_lines("s/m", "main", []) == []


class Custom:
    """Pickled by reference and unknown to picklescan: suspicious, not dangerous."""


def test_unknown_pickle_global_refusal_reads_as_one_sentence() -> None:
    """A global off the allowlist refuses the push (it is not merely "suspicious"), and the
    line says what loading it would do."""
    findings = scan_pickle_bytes("extra.pkl", pickle.dumps(Custom()), COMMIT)
    assert [f.severity for f in findings] == ["HIGH"]
    lines = refusal_lines("s/m", findings)
    assert lines[1] == (f"modelgit:   extra.pkl: {__name__}.Custom is not on the list of safe"
                        f" globals; loading the file would call it  (commit {COMMIT[:7]})")


def test_scanners_print_no_third_party_log_lines(capfd: pytest.CaptureFixture[str],
                                                 caplog: pytest.LogCaptureFixture) -> None:
    """A top-level file makes bandit warn about its module name; detect-secrets brings its own
    stderr handler. Neither reaches stderr; what the libraries log goes to modelgit's log."""
    capfd.readouterr()
    scan_python([Blob.from_bytes("run.py", b"x = eval(input())\n", COMMIT)])
    scan_secrets([Blob.from_bytes("a.txt", b"hello\n", COMMIT)])
    logging.getLogger("detect-secrets").error("from detect-secrets")
    with caplog.at_level(logging.WARNING):
        logging.getLogger("bandit.core.manager").warning("from bandit")
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert "Unable to find qualified name" not in caplog.text
    assert [r.getMessage() for r in caplog.records if r.name.startswith("bandit")] == \
        ["from bandit"]
