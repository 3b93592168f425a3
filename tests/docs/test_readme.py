"""The README's tour, run as written, in order, against a fresh server.

A newcomer follows the README alone, so the README is a program: every ``sh`` block runs in
one bash session (``set -euo pipefail``, variables and ``cd`` carry over), every ``python``
block runs with the session's environment, and every ``console`` block is a transcript: its
``$ `` lines run (they may fail, as a refused push does) and each other line must appear in
what they printed, in order (``...`` stands for anything). A block the test cannot run says
why in a ``<!-- readme-test: skip: REASON -->`` comment right above it. The README's
address ``127.0.0.1:8080`` is replaced by the test server's free port.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
README_ADDRESS = "127.0.0.1:8080"
RUN = ("sh", "console", "python")
SKIP = re.compile(r"<!--\s*readme-test:\s*skip:\s*(?P<why>.+?)\s*-->")


@dataclass(frozen=True)
class Block:
    lang: str
    line: int  # 1-based line of the opening fence in README.md
    text: str
    skip: str | None  # the reason, when the README says the test does not run it


def blocks(markdown: str) -> list[Block]:
    """The fenced blocks, with the skip comment that stands right above each."""
    out: list[Block] = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        fence = re.match(r"^(```+)\s*([\w-]*)", lines[i])
        if not fence:
            i += 1
            continue
        start, lang = i, fence.group(2)
        j = i + 1
        while j < len(lines) and not lines[j].startswith(fence.group(1)):
            j += 1
        above = next((x for x in reversed(lines[:start]) if x.strip()), "")
        why = SKIP.search(above)
        out.append(Block(lang, start + 1, "\n".join(lines[start + 1:j]),
                         why.group("why") if why else None))
        i = j + 1
    return out


def test_every_block_in_a_runnable_language_runs_or_says_why() -> None:
    """A skip without a reason, or an unknown language, would let the tour rot unseen."""
    found = blocks(README.read_text())
    assert sum(b.lang in RUN and b.skip is None for b in found) >= 10
    for block in found:
        assert block.lang, f"README.md:{block.line}: a code block needs a language"
        assert block.lang in (*RUN, "text", "yaml", "js", "ini", "nginx"), (
            f"README.md:{block.line}: unknown block language {block.lang!r}")


def test_transcript_matching() -> None:
    assert expected_in(["a", "...", "c"], "a\nb\nc\n") is None
    assert expected_in(["remote: you are ...; ask"], "remote: you are user; ask\n") is None
    assert expected_in(["c", "a"], "a\nb\nc\n") == "a"
    assert expected_in(["x"], "a\n") == "x"


def expected_in(expected: list[str], output: str) -> str | None:
    """The first expected line that is not in ``output`` after the previous one, or None."""
    out_lines = output.splitlines()
    pos = 0
    for want in expected:
        if want.strip() == "...":
            continue
        pattern = re.compile(".*?".join(re.escape(part) for part in want.strip().split("...")))
        while pos < len(out_lines) and not pattern.search(out_lines[pos]):
            pos += 1
        if pos == len(out_lines):
            return want
        pos += 1
    return None


def _script(found: list[Block], outdir: Path, address: str) -> str:
    """One bash program: each block announces itself, so a failure names its README line."""
    parts = ["set -euo pipefail"]
    for n, block in enumerate(found):
        text = block.text.replace(README_ADDRESS, address)
        parts.append(f"echo \"@@ README.md:{block.line} ({block.lang}) $SECONDS s\" >&2")
        if block.lang == "sh":
            parts.append(text)
        elif block.lang == "python":
            parts.append(f"python - <<'README_PYTHON_{n}'\n{text}\nREADME_PYTHON_{n}")
        else:
            out = shlex.quote(str(outdir / f"{n}.out"))
            parts.append(f": > {out}")
            for cmd in (ln[2:] for ln in text.splitlines() if ln.startswith("$ ")):
                parts.append(f"{{ {cmd}\n}} >> {out} 2>&1 || true")
    return "\n".join(parts) + "\n"


def _server(cwd: Path, env: dict[str, str]) -> tuple[subprocess.Popen[str], str, str]:
    """``make serve`` as the README's first block runs it: a fresh data folder, the admin's
    key printed once. The test takes a free port instead of 8080."""
    port = free_port()
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "modelgit"), "--data", "modelgit-data", "serve",
         "--port", str(port)],
        cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    key = ""
    for line in proc.stdout:
        if re.fullmatch(r"mg_[0-9A-Za-z]{40}", line.strip()):
            key = line.strip()
        if "serving" in line:
            break
    else:
        raise AssertionError("modelgit serve stopped before it served")
    assert key, "the first start prints the admin's key"
    return proc, f"127.0.0.1:{port}", key


def test_the_tour_runs_top_to_bottom(tmp_path: Path) -> None:
    found = [b for b in blocks(README.read_text()) if b.lang in RUN and b.skip is None]
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    home.mkdir()
    (work / ".venv").symlink_to(Path(sys.executable).parent.parent)
    outdir = tmp_path / "out"
    outdir.mkdir()
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
        "HOME": str(home), "LANG": "C.UTF-8", "TERM": "dumb", "COLUMNS": "200",
        "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0",
        "GIT_AUTHOR_NAME": "Tour", "GIT_AUTHOR_EMAIL": "tour@example.com",
        "GIT_COMMITTER_NAME": "Tour", "GIT_COMMITTER_EMAIL": "tour@example.com",
        "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_CACHE": str(tmp_path / "hf-cache"),
    }
    server, address, admin_key = _server(work, env)
    try:
        script = _script(found, outdir, address)
        (tmp_path / "tour.sh").write_text(script)
        run = subprocess.run(["bash", str(tmp_path / "tour.sh")], cwd=work,
                             env={**env, "ADMIN_KEY": admin_key},
                             capture_output=True, text=True, timeout=300, check=False)
        assert admin_key not in run.stdout + run.stderr, "the tour never prints a key"
        where = re.findall(r"@@ (README.md:\d+ \(\w+\))", run.stderr)
        assert run.returncode == 0, (
            f"the tour failed in {where[-1] if where else '?'}:\n"
            f"{run.stdout[-3000:]}\n{run.stderr[-3000:]}")
        assert len(where) == len(found)
        wrong = []
        for n, block in enumerate(found):
            if block.lang != "console":
                continue
            want = [ln.replace(README_ADDRESS, address) for ln in block.text.splitlines()
                    if ln.strip() and not ln.startswith(("$ ", "# "))]
            printed = (outdir / f"{n}.out").read_text()
            missing = expected_in(want, printed)
            if missing is not None:
                wrong.append(f"README.md:{block.line}: no line like {missing!r} in:\n{printed}")
        assert not wrong, "\n".join(wrong)
    finally:
        server.terminate()
        server.wait(timeout=20)
