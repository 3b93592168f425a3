"""Free TCP ports on 127.0.0.1 for the servers the tests start.

A port from ``bind(("127.0.0.1", 0))`` comes from the kernel's ephemeral range, the same range
every outgoing connection takes its local port from. Between closing the probe socket and the
server binding it, a connection made by a neighbouring test (SeaweedFS alone opens dozens
between its parts) can take that port, and the server dies with "address already in use"
(CI saw exactly that). Ports are therefore picked at random *below* the ephemeral range,
where no outgoing connection lands; only another test picking the same number can collide,
and a bind probe catches what is taken now.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LOWEST = 10000
_rng = random.SystemRandom()


def _ephemeral_low() -> int:
    try:
        return int(_RANGE_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports that are free now and outside the ephemeral range."""
    high = _ephemeral_low() - 1
    if high - _LOWEST < count * 4:  # an odd kernel setting: fall back to the kernel's pick
        return _kernel_ports(count)
    chosen: list[int] = []
    while len(chosen) < count:
        port = _rng.randint(_LOWEST, high)
        if port not in chosen and _is_free(port):
            chosen.append(port)
    return chosen


def free_port() -> int:
    return free_ports(1)[0]


def _kernel_ports(count: int) -> list[int]:
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            socks.append(sock)
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for sock in socks:
            sock.close()
