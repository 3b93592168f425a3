"""Secrets that the push scan must refuse, in files shaped like real ones.

Shared by the scanner's own tests, the advice texts' tests and the end-to-end pushes, so
that every layer is tried on the same values (and none of them is ever printed back).
"""

from __future__ import annotations

import dataclasses
import json

from modelgit.scanner.findings import Finding
from tests.helpers.scanner_repos import dedent

AWS_ID = "AKIAZ7Q3XK5M2WJ4NB6T"
AWS_SECRET = "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"
GITHUB = "ghp_4Nq8ZrT2vK6xW9mB3pL7sC1dF5gH0jY2uE8a"
SLACK = "xoxb-392812345678-4019237765432-Hq8Zr2Tv6KxW9mB3pL7sC1dF"
STRIPE = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"
DB_PASSWORD = "Tr0ub4dor&3horse"
URL_PASSWORD = "s3cr3tP4ssw0rd"
TOKEN = "Zq8vT2xL9pR4mK8sW1nB6cF3jD5gZ0yAeUoIiErTw"
KEY_BODY = "MIIEpAIBAAKCAQEA1Zq8vT2xL9pR4mK8sW1nB6cF3jD5gZ0yAeUoIiErTwQ7hX2k"
VALUES = (AWS_ID, AWS_SECRET, GITHUB, SLACK, STRIPE, DB_PASSWORD, URL_PASSWORD, TOKEN, KEY_BODY)

SECRET_FILES = {
    "deploy/aws_settings.py": dedent(f'''
        """Deployment settings."""
        REGION = "eu-west-1"
        AWS_ACCESS_KEY_ID = "{AWS_ID}"
        aws_secret_access_key = "{AWS_SECRET}"
        '''),
    "ci/release.sh": f"#!/bin/sh\nset -e\nexport GITHUB_TOKEN={GITHUB}\n",
    "keys/id_rsa": f"-----BEGIN RSA PRIVATE KEY-----\n{KEY_BODY}\n-----END RSA PRIVATE KEY-----\n",
    "app/notify.js": f"const client = new WebClient('{SLACK}');\n",
    "billing/charge.rb": f"# charges\nStripe.api_key = '{STRIPE}'\n",
    "conf/database.ini": f"[database]\nhost = db.internal\npassword = {DB_PASSWORD}\n",
    "app/db.py": f"import os\n\nDATABASE_URL = 'postgresql://admin:{URL_PASSWORD}@db.internal/app'\n",
    "model/train.py": f"import os\n\n\ndef run():\n    token = \"{TOKEN}\"\n    return token\n",
}
# (path, line, type) that each file must be refused for.
EXPECTED = {
    ("deploy/aws_settings.py", 3, "AWS Access Key"),
    ("deploy/aws_settings.py", 4, "AWS Access Key"),
    ("ci/release.sh", 3, "GitHub Token"),
    ("keys/id_rsa", 1, "Private Key"),
    ("app/notify.js", 1, "Slack Token"),
    ("billing/charge.rb", 2, "Stripe Access Key"),
    ("conf/database.ini", 3, "Secret Keyword"),
    ("app/db.py", 3, "Basic Auth Credentials"),
    ("model/train.py", 5, "Base64 High Entropy String"),
}


def assert_no_secret_in(findings: list[dict[str, object]] | list[Finding], *texts: str) -> None:
    """No secret value appears in any finding field, nor in the other texts (hook output)."""
    blob = json.dumps([f if isinstance(f, dict) else dataclasses.asdict(f) for f in findings])
    for value in VALUES:
        assert value not in blob
        for text in texts:
            assert value not in text


#: AWS's documented example key, as a settings line (the keyword rule finds it).
# pragma: allowlist nextline secret
AWS_KEY_LINE = 'aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"'


def big_log(lines: int = 100_000, secret_at: int = 70_001) -> bytes:
    """About 6 MB of log (over scan.max_blob_bytes, 5 MB), the AWS key on line secret_at."""
    out = [f"2026-12-05 09:{i % 60:02d}:00 INFO worker-{i % 7} processed batch {i} in"
           f" 0.{i % 97:02d}s" for i in range(1, lines + 1)]
    out[secret_at - 1] = AWS_KEY_LINE
    data = ("\n".join(out) + "\n").encode()
    assert len(data) > 5 * 1024 * 1024
    return data
