"""A deterministic corpus of realistic source and config files with secrets sprinkled in.

Used by the secret-scanner equivalence test (our scanner against the real
`detect-secrets scan --all-files` on the same files) and by the benchmark. The content mixes
the shapes that stress detect-secrets in different ways: Python with quoted hashes (hex
entropy), YAML and ini files (its config/YAML transformers), prose with URLs (basic auth),
`.env`-style files (the eager config transformer), JS/Go/Java (file-type specific keyword
rules), and every provider token shape the default plugins know.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import string
from collections.abc import Callable
from pathlib import Path

ALNUM = string.ascii_letters + string.digits
UPPER_NUM = string.ascii_uppercase + string.digits
LOWER_NUM = string.ascii_lowercase + string.digits
B64 = ALNUM + "+/"

WORDS = (
    "model weights layer tensor batch epoch loss accuracy optimizer scheduler token vocab "
    "dataset loader sample config path cache result value index score metric train eval "
    "predict forward backward gradient checkpoint device cuda memory buffer stream chunk "
    "request response session client server handler router user account record entry field "
    "schema table column query filter sort limit offset page window frame image label text "
    "prompt context embedding attention head hidden output input mask padding length size"
).split()


def _word(rng: random.Random) -> str:
    return rng.choice(WORDS)


def _ident(rng: random.Random) -> str:
    return "_".join(_word(rng) for _ in range(rng.randint(1, 3)))


def _rand(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _sentence(rng: random.Random) -> str:
    return " ".join(_word(rng) for _ in range(rng.randint(6, 16))).capitalize() + "."


# --- secrets -------------------------------------------------------------------------------


def _jwt(rng: random.Random) -> str:
    def part(obj: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    header = part({"alg": "HS256", "typ": "JWT"})
    payload = part({"sub": _rand(rng, string.digits, 8), "name": _word(rng)})
    return f"{header}.{payload}.{_rand(rng, ALNUM + '-_', 43)}"


def _private_key(rng: random.Random) -> list[str]:
    body = [_rand(rng, B64, 64) for _ in range(6)]
    return ["-----BEGIN RSA PRIVATE KEY-----", *body, "-----END RSA PRIVATE KEY-----"]


def secret_lines(rng: random.Random, style: str) -> list[str]:
    """One secret, rendered as lines in the given file style ("py", "yaml", "ini", "env", "md")."""
    kind = rng.randrange(15)
    if kind == 0:
        key = "AKIA" + _rand(rng, UPPER_NUM, 16)
        value = _rand(rng, B64, 40)
        if style == "py":
            return [f'AWS_ACCESS_KEY_ID = "{key}"', f'aws_secret_access_key = "{value}"']
        if style == "yaml":
            return [f"aws_access_key_id: {key}", f"aws_secret_access_key: {value}"]
        return [f"aws_access_key_id = {key}", f"aws_secret_access_key = {value}"]
    if kind == 1:
        tok = "ghp_" + _rand(rng, ALNUM, 36)
        return [f'GITHUB_TOKEN = "{tok}"' if style == "py" else f"github_token: {tok}"]
    if kind == 2:
        tok = f"xoxb-{_rand(rng, string.digits, 12)}-{_rand(rng, string.digits, 13)}-" + _rand(
            rng, LOWER_NUM, 24
        )
        return [f'slack = "{tok}"' if style == "py" else f"slack_bot = {tok}"]
    if kind == 3:
        return [f'stripe.api_key = "sk_live_{_rand(rng, ALNUM, 24)}"']
    if kind == 4:
        lines = _private_key(rng)
        return [f'KEY = """{lines[0]}', *lines[1:], '"""'] if style == "py" else lines
    if kind == 5:
        pw = _rand(rng, ALNUM, rng.randint(8, 14))
        if style == "yaml":
            return [f"password: {pw}"]
        if style in ("ini", "env"):
            return [f"password = {pw}"]
        return [f'db_password = "{pw}"']
    if kind == 6:
        user, pw = _word(rng), _rand(rng, ALNUM, 12)
        return [f"DATABASE_URL = 'postgres://{user}:{pw}@db.internal.example:5432/{_word(rng)}'"]
    if kind == 7:
        return [f'api_token = "{_rand(rng, B64, 40)}"']
    if kind == 8:
        return [f'Authorization: "Bearer {_jwt(rng)}"']
    if kind == 9:
        return [f"upstream = {rng.randint(11, 99)}.{rng.randint(1, 250)}.{rng.randint(1, 250)}."
                f"{rng.randint(1, 250)}"]
    if kind == 10:
        return [f'TWILIO_SID = "AC{_rand(rng, LOWER_NUM, 32)}"']
    if kind == 11:
        return [f"SENDGRID = 'SG.{_rand(rng, ALNUM, 22)}.{_rand(rng, ALNUM, 43)}'"]
    if kind == 12:
        return [f"//registry.npmjs.org/:_authToken={_rand(rng, '0123456789abcdef', 36)}"]
    if kind == 13:
        # allowlisted: must not be reported by either scanner
        return [f'secret_key = "{_rand(rng, B64, 32)}"  # pragma: allowlist secret']
    return [f'checksum = "{hashlib.sha256(_rand(rng, ALNUM, 8).encode()).hexdigest()}"']


# --- filler --------------------------------------------------------------------------------


def _python(rng: random.Random, n: int) -> list[str]:
    out = ['"""' + _sentence(rng) + '"""', "", "from __future__ import annotations", ""]
    out += [f"import {_word(rng)}" for _ in range(rng.randint(2, 6))]
    while len(out) < n:
        fn = _ident(rng)
        args = ", ".join(_ident(rng) for _ in range(rng.randint(0, 3)))
        out += ["", "", f"def {fn}({args}) -> dict[str, object]:", f'    """{_sentence(rng)}"""']
        for _ in range(rng.randint(3, 18)):
            choice = rng.randrange(10)
            v = _ident(rng)
            if choice == 0:
                out.append(f"    {v} = {{'{_word(rng)}': {rng.random():.4f}, "
                           f"'key': '{_word(rng)}'}}")
            elif choice == 1:
                out.append(f"    for {v} in sorted(items, key=lambda x: x.{_word(rng)}):")
                out.append(f"        total += {v}.{_word(rng)} * {rng.randint(1, 99)}")
            elif choice == 2:
                out.append(f"    # {_sentence(rng)}")
            elif choice == 3:
                out.append(f'    logger.info("{_sentence(rng)} %s", {v})')
            elif choice == 4:
                out.append(f"    if {v} is None or len({v}) > {rng.randint(1, 4096)}:")
                out.append(f"        raise ValueError(f\"bad {_word(rng)}: {{{v}!r}}\")")
            elif choice == 5:
                out.append(f"    {v} = os.environ.get('{_ident(rng).upper()}', '{_word(rng)}')")
            elif choice == 6 and rng.random() < 0.1:
                out.append(f"    password_field = form['{_word(rng)}']  # not a secret")
            elif choice == 6:
                out.append(f"    {v} = {_word(rng)}.{_ident(rng)}({v}, strict=True)")
            elif choice == 7:
                out.append(f"    url = 'https://{_word(rng)}.example.com/v{rng.randint(1, 3)}/"
                           f"{_word(rng)}?page={rng.randint(1, 9)}'")
            elif choice == 8:
                out.append(f"    {v} = [{', '.join(str(rng.randint(0, 999)) for _ in range(8))}]")
            else:
                out.append(f"    return {{'{_word(rng)}': {v}, 'count': {rng.randint(0, 99)}}}")
    return out


def _yaml(rng: random.Random, n: int) -> list[str]:
    out = [f"# {_sentence(rng)}", f"name: {_ident(rng)}", "settings:"]
    while len(out) < n:
        out.append(f"  {_ident(rng)}:")
        for _ in range(rng.randint(2, 8)):
            value = rng.choice(
                [str(rng.randint(0, 5000)), _word(rng), "true", f"'{_sentence(rng)}'",
                 f"https://{_word(rng)}.example.org/{_word(rng)}"]
            )
            out.append(f"    {_ident(rng)}: {value}")
    return out


def _ini(rng: random.Random, n: int) -> list[str]:
    out: list[str] = []
    while len(out) < n:
        out.append(f"[{_ident(rng)}]")
        seen: set[str] = set()
        for _ in range(rng.randint(2, 10)):
            key = _ident(rng)
            if key in seen or key.startswith("password"):
                continue
            seen.add(key)
            out.append(f"{key} = {rng.choice([_word(rng), str(rng.randint(0, 99)), 'yes'])}")
        out.append("")
    return out


def _env(rng: random.Random, n: int) -> list[str]:
    return [f"{_ident(rng).upper()}={rng.choice([_word(rng), str(rng.randint(0, 9999))])}"
            for _ in range(n)]


def _markdown(rng: random.Random, n: int) -> list[str]:
    out = [f"# {_ident(rng).replace('_', ' ').title()}", ""]
    while len(out) < n:
        choice = rng.randrange(6)
        if choice == 0:
            out += ["```python", f"model = load('{_word(rng)}/{_word(rng)}')", "```"]
        elif choice == 1:
            out.append(f"See [the docs](https://{_word(rng)}.example.com/{_word(rng)}) "
                       f"for {_sentence(rng).lower()}")
        elif choice == 2:
            out.append(f"- `{_ident(rng)}`: {_sentence(rng)}")
        else:
            out.append(" ".join(_sentence(rng) for _ in range(rng.randint(1, 5))))
        out.append("")
    return out


def _javascript(rng: random.Random, n: int) -> list[str]:
    out = ["'use strict';", ""]
    while len(out) < n:
        out.append(f"export function {_ident(rng)}({_word(rng)}) {{")
        for _ in range(rng.randint(2, 10)):
            out.append(f"  const {_ident(rng)} = {_word(rng)}.{_word(rng)}"
                       f"('{_word(rng)}', {rng.randint(0, 99)});")
        out += ["}", ""]
    return out


def _json(rng: random.Random, n: int) -> list[str]:
    records = [
        {"id": i, "name": _ident(rng), "score": round(rng.random(), 4), "tags": [_word(rng)]}
        for i in range(n // 8)
    ]
    return json.dumps({"records": records}, indent=2).splitlines()


STYLES: dict[str, tuple[str, Callable[[random.Random, int], list[str]], str]] = {
    # extension, filler, the style that secrets are rendered in
    "py": (".py", _python, "py"),
    "yaml": (".yaml", _yaml, "yaml"),
    "ini": (".ini", _ini, "ini"),
    "cfg": (".cfg", _ini, "ini"),
    "env": (".env", _env, "env"),
    "md": (".md", _markdown, "md"),
    "js": (".js", _javascript, "py"),
    "json": (".json", _json, "md"),
    "txt": (".txt", _markdown, "md"),
}
# Shares of the files, and their lengths in lines: like a model repository's text (modelling
# code, docs, JSON configs, a few small YAML / ini / .env files).
WEIGHTS = {"py": 40, "yaml": 6, "ini": 3, "cfg": 2, "env": 4, "md": 16, "js": 12, "json": 10,
           "txt": 7}
LINES = {"py": (80, 1500), "yaml": (15, 250), "ini": (10, 120), "cfg": (10, 120),
         "env": (5, 60), "md": (40, 800), "js": (60, 1200), "json": (40, 3000), "txt": (20, 600)}


def make_corpus(
    root: Path, total_bytes: int = 20 * 1024 * 1024, seed: int = 5
) -> list[Path]:
    """Write files under root until about total_bytes; returns their paths (relative)."""
    rng = random.Random(seed)
    kinds = list(WEIGHTS)
    weights = [WEIGHTS[k] for k in kinds]
    written = 0
    paths: list[Path] = []
    i = 0
    while written < total_bytes:
        kind = rng.choices(kinds, weights)[0]
        ext, filler, style = STYLES[kind]
        lines = filler(rng, rng.randint(*LINES[kind]))
        # Sprinkle secrets into about one file in three, at random lines.
        if rng.random() < 0.35 and kind != "json":
            for _ in range(rng.randint(1, 4)):
                at = rng.randrange(len(lines) + 1)
                if kind in ("ini", "cfg") and at == 0:
                    at = 1  # keep the section header first, so the ini parser applies
                lines[at:at] = secret_lines(rng, style)
        rel = Path(f"{kind}/{rng.choice(WORDS)}_{i:05d}{ext}")
        if kind == "env":
            rel = Path(f"env/{i:05d}/.env")
        text = "\n".join(lines) + "\n"
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written += len(text.encode())
        paths.append(rel)
        i += 1
    return paths
