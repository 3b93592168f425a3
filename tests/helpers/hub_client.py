"""The unmodified ``huggingface_hub`` client pointed at a test server.

Shared by the hub API tests and the transformers.js test, which both run the real client.
"""

from __future__ import annotations

from pathlib import Path

import pytest


def hf_setup(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    """The client's environment: Xet off, telemetry off, online, a private HF_HOME.

    huggingface_hub reads these variables once, at import, so its constants are set too
    (another test module may have imported it first).
    """
    import huggingface_hub.constants as constants

    values = {"HF_HUB_DISABLE_XET": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
              "HF_HUB_OFFLINE": "0", "HF_HOME": str(home), "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", True)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HOME", str(home))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(home / "hub"))
