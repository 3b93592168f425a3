"""The compiled hook forwarder (forward.c), run as the hooks run it, against a real unix
socket: it sends what forward.py sends, relays the server's lines and verdict, refuses when the
server goes away mid-push, and hands the same input to the Python shim when no server is there."""

from __future__ import annotations

import io
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelgit.hooks import compiled, warm

STDIN = b"0" * 40 + b" " + b"1" * 40 + b" refs/heads/main\n\x00\xff binary tail"


@pytest.fixture(scope="module")
def forwarder() -> str:
    built = compiled.forwarder()
    assert built, "no C compiler: tests/bootstrap.sh installs gcc"
    return built


class FakeServer:
    """Accepts one hook connection, keeps the request, answers ``reply`` and closes."""

    def __init__(self, path: Path, reply: bytes) -> None:
        self.path = path
        self.reply = reply
        self.request = b""
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen(1)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        with conn:
            stream = conn.makefile("rb")
            first = stream.readline()
            _, header_len, stdin_len = first.split()
            self.request = first + stream.read(int(header_len) + int(stdin_len))
            conn.sendall(self.reply)

    def close(self) -> None:
        self.thread.join(10)
        self.sock.close()


@pytest.fixture
def sock_path(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "hooks.sock"


def _run(forwarder: str, sock: Path, hook: str, program: list[str] | None = None,
         env: dict[str, str] | None = None, cwd: Path | None = None
         ) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([forwarder, str(sock), hook, "space/model", "--",
                           *(program or ["/bin/false"])],
                          input=STDIN, capture_output=True, timeout=30, check=False,
                          env=env or {"PATH": "/usr/bin:/bin"}, cwd=cwd)


def test_compiles_cleanly_with_warnings_as_errors(tmp_path: Path) -> None:
    source = Path(compiled.__file__).with_name(compiled.SOURCE)
    cc = shutil.which("cc")
    assert cc, "no C compiler: tests/bootstrap.sh installs gcc"
    out = subprocess.run([cc, "-O2", "-Wall", "-Wextra", "-Werror", "-o",
                          str(tmp_path / "f"), str(source)], capture_output=True, text=True,
                         check=False)
    assert out.returncode == 0, out.stderr


def test_sends_what_the_python_shim_sends(forwarder: str, sock_path: Path,
                                          tmp_path: Path) -> None:
    server = FakeServer(sock_path, b"R 0\n")
    done = _run(forwarder, sock_path, "pre-receive", cwd=tmp_path,
                env={"PATH": "/bin", "GIT_DIR": ".", "X": "a=b=c",
                     "GIT_QUARANTINE_PATH": "objects/q"})
    server.close()
    assert done.returncode == 0, done.stderr
    hook, model, env, stdin = warm.decode_request(io.BytesIO(server.request))
    assert (hook, model, stdin) == ("pre-receive", "space/model", STDIN)
    assert env["X"] == "a=b=c" and env["MODELGIT_HOOK_CLIENT"] == "compiled"
    assert env["GIT_DIR"] == str(tmp_path)
    assert env["GIT_QUARANTINE_PATH"] == str(tmp_path / "objects" / "q")


@pytest.mark.parametrize(("hook", "verdict", "code"), [
    ("pre-receive", 0, 0), ("pre-receive", 1, 1), ("pre-receive", 7, 7),
    ("post-receive", 0, 0), ("post-receive", 1, 0),  # post-receive cannot refuse: refs moved
])
def test_relays_lines_and_verdict(forwarder: str, sock_path: Path, hook: str, verdict: int,
                                  code: int) -> None:
    server = FakeServer(sock_path, b"S modelgit: first line\nS \nS second, caf\xc3\xa9\n"
                                   + f"R {verdict}\n".encode())
    done = _run(forwarder, sock_path, hook)
    server.close()
    assert done.returncode == code
    assert done.stderr == "modelgit: first line\n\nsecond, café\n".encode()


@pytest.mark.parametrize("reply", [b"", b"S half a push\n", b"R\n", b"R 1x\n", b"R -1\n",
                                   b"R 999\n"])
def test_no_valid_verdict_refuses(forwarder: str, sock_path: Path, reply: bytes) -> None:
    """A server that dies, or answers nonsense, refuses the push: fail closed."""
    server = FakeServer(sock_path, reply)
    done = _run(forwarder, sock_path, "pre-receive")
    server.close()
    assert done.returncode == 1
    assert b"lost the connection to the modelgit server" in done.stderr
    assert b"nothing was changed, push again" in done.stderr


def test_without_a_server_the_python_shim_gets_the_same_input(
    forwarder: str, sock_path: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "stdin-copy"
    done = _run(forwarder, sock_path, "pre-receive",
                program=["/bin/sh", "-c", f"cat > {copy}; exit 3"])
    assert done.returncode == 3  # the program's verdict is the hook's
    assert copy.read_bytes() == STDIN


def test_without_a_server_and_without_the_program_refuses(forwarder: str,
                                                          sock_path: Path) -> None:
    done = _run(forwarder, sock_path, "pre-receive", program=["/nonexistent/python"])
    assert done.returncode == 1 and b"cannot run /nonexistent/python" in done.stderr


def test_bad_usage_is_refused(forwarder: str) -> None:
    done = subprocess.run([forwarder, "only-one-argument"], capture_output=True, check=False)
    assert done.returncode == 2 and b"usage:" in done.stderr


def test_server_that_hangs_up_before_reading_refuses_with_a_message(
    forwarder: str, sock_path: Path
) -> None:
    """Writing to a closed connection is reported (EPIPE), not a silent death by SIGPIPE."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(sock_path))
    listener.listen(1)

    def hang_up() -> None:
        conn, _ = listener.accept()
        conn.close()

    thread = threading.Thread(target=hang_up, daemon=True)
    thread.start()
    big = STDIN * (8 * 1024 * 1024 // len(STDIN))  # more than the socket buffers hold
    done = subprocess.run([forwarder, str(sock_path), "pre-receive", "s/m", "--", "/bin/false"],
                          input=big, capture_output=True, timeout=30, check=False,
                          env={"PATH": "/bin"})
    thread.join(10)
    listener.close()
    assert done.returncode == 1, done
    assert b"lost the connection to the modelgit server" in done.stderr


def test_a_forwarder_built_from_another_source_is_rebuilt(tmp_path: Path) -> None:
    """One file serves every hook of an installation; after an upgrade changes forward.c,
    the next build replaces it, so hooks written long ago speak the new protocol. A current
    one is left alone."""
    python = str(tmp_path / "bin" / "python")
    (tmp_path / "bin").mkdir()
    target = compiled.target_path(python)
    stamp = target.with_name(f"{target.name}.source-sha256")
    compiled.forwarder.cache_clear()
    assert compiled.forwarder(python) == str(target)
    built = target.stat().st_mtime_ns
    compiled.forwarder.cache_clear()
    assert compiled.forwarder(python) == str(target)
    assert target.stat().st_mtime_ns == built, "a current forwarder was rebuilt"

    target.write_bytes(b"#!/bin/sh\necho old protocol\n")
    stamp.write_text("0" * 64)
    compiled.forwarder.cache_clear()
    try:
        assert compiled.forwarder(python) == str(target)
    finally:
        compiled.forwarder.cache_clear()
    usage = subprocess.run([str(target)], capture_output=True, check=False)
    assert usage.returncode == 2 and b"usage:" in usage.stderr
    assert stamp.read_text() != "0" * 64
    assert [p.name for p in (tmp_path / "bin").iterdir() if p.name.startswith(".")] == []


# --------------------------------------------------------------- as the hook's interpreter
def _hook_file(forwarder: str, repo: Path, data: Path, model: str, name: str,
               python: str = "/nonexistent/python") -> Path:
    from modelgit.hooks import install

    hooks = repo / "hooks"
    hooks.mkdir(parents=True, exist_ok=True)
    path = hooks / name
    path.write_text(install.render(data, model, python=python, forward=forwarder))
    path.chmod(0o755)
    return path


def test_the_hook_file_runs_the_forwarder_without_a_shell(forwarder: str,
                                                         tmp_path: Path) -> None:
    """First line #!FORWARDER --hook: the data folder and model come from the file's config
    lines, quoted as the shell would read them."""
    data = tmp_path / "d 'q'"  # quoted in the file (and short: a socket path is short)
    (data / "run").mkdir(parents=True)
    server = FakeServer(data / "run" / "hooks.sock", b"S checked\nR 0\n")
    repo = tmp_path / "r.git"
    hook = _hook_file(forwarder, repo, data, "space/model", "pre-receive")
    assert hook.read_text().startswith(f"#!{forwarder} --hook\n")
    done = subprocess.run(["hooks/pre-receive"], cwd=repo, input=STDIN, capture_output=True,
                          timeout=30, check=False, env={"PATH": "/usr/bin:/bin", "GIT_DIR": "."})
    server.close()
    assert done.returncode == 0 and done.stderr == b"checked\n", done.stderr
    header = server.request.split(b"\n", 1)[1]
    assert header.split(b"\0")[:2] == [b"pre-receive", b"space/model"]
    assert server.request.endswith(STDIN)


@pytest.mark.parametrize("why", ["no server", "legacy hook", "called again"])
def test_the_hook_file_falls_back_to_its_shell_part(forwarder: str, tmp_path: Path,
                                                    why: str) -> None:
    """Whenever Python must run, the file's own shell part does, and starts it (here a fake
    Python that shows it ran, with the push's input)."""
    data = tmp_path / "data"
    (data / "run").mkdir(parents=True)
    fake = tmp_path / "python"
    copy = tmp_path / "stdin-copy"
    fake.write_text(f"#!/bin/sh\ncat > {copy}\necho \"shim $MODELGIT_FORWARD_SKIP\" >&2\n"
                    "exit 5\n")
    fake.chmod(0o755)
    repo = tmp_path / "r.git"
    _hook_file(forwarder, repo, data, "space/model", "pre-receive", python=str(fake))
    env = {"PATH": "/usr/bin:/bin", "GIT_DIR": "."}
    if why == "legacy hook":
        (repo / "hooks" / "pre-receive.legacy").write_text("#!/bin/sh\nexit 0\n")
    if why == "called again":
        env["MODELGIT_HOOK_ACTIVE"] = "pre-receive"
    done = subprocess.run(["hooks/pre-receive"], cwd=repo, input=STDIN, capture_output=True,
                          timeout=30, check=False, env=env)
    assert done.returncode == 5 and done.stderr == b"shim 1\n", done.stderr
    assert copy.read_bytes() == STDIN
