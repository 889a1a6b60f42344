"""The suite's network guard: only this machine is reachable, in tests and their subprocesses.

Each test replaces the real connect and lookup functions under the guard
with ones that record the call, so even a broken guard sends no traffic.
"""

import socket
import subprocess
import sys

import pytest
import sitecustomize
from sitecustomize import BlockedNetworkError

# TEST-NET-1 (RFC 5737), an address reserved for documentation.
REMOTE = ("192.0.2.1", 80)


@pytest.fixture
def reached(monkeypatch):
    """Record, instead of performing, every call that passes the guard."""
    calls = []
    monkeypatch.setattr(sitecustomize, "_connect", lambda sock, address: calls.append(address))
    monkeypatch.setattr(sitecustomize, "_connect_ex", lambda sock, address: calls.append(address))
    monkeypatch.setattr(sitecustomize, "_getaddrinfo", lambda host, *a, **k: calls.append(host))
    return calls


def test_remote_connect_blocked(reached):
    with socket.socket() as sock, pytest.raises(BlockedNetworkError, match="192.0.2.1"):
        sock.connect(REMOTE)
    with socket.socket() as sock, pytest.raises(BlockedNetworkError, match="192.0.2.1"):
        sock.connect_ex(REMOTE)
    assert reached == []


def test_remote_name_lookup_blocked(reached):
    with pytest.raises(BlockedNetworkError, match="huggingface.co"):
        socket.getaddrinfo("huggingface.co", 443)
    assert reached == []


def test_loopback_allowed(reached):
    with socket.socket() as sock:
        sock.connect(("127.0.0.1", 8000))
    with socket.socket(socket.AF_INET6) as sock:
        sock.connect(("::1", 8000, 0, 0))
    socket.getaddrinfo("localhost", 8000)
    assert reached == [("127.0.0.1", 8000), ("::1", 8000, 0, 0), "localhost"]


def test_guard_active_in_subprocess():
    code = (
        "import socket\n"
        "print(socket.socket.connect.__module__, socket.getaddrinfo.__module__)\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.split() == ["sitecustomize", "sitecustomize"]
