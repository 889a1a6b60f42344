"""Block every network connection except to this machine, for the test suite.

tests/conftest.py imports this module and puts its folder first on
PYTHONPATH, so Python starts it as ``sitecustomize`` in every subprocess
too: MkDocs builds, generator processes and notebook kernels. A connection
or a name lookup for another host raises BlockedNetworkError before any
packet leaves. It is a RuntimeError, not an OSError, so that no library
treats it as a network outage and carries on in silence.
"""

from __future__ import annotations

import ipaddress
import socket

LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", socket.gethostname()}


class BlockedNetworkError(RuntimeError):
    """A test tried to reach a host other than this machine."""


def _is_local(host) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if host is None or host in LOCAL_NAMES:
        return True
    try:
        address = ipaddress.ip_address(str(host).split("%")[0])
    except ValueError:
        return False  # a host name other than this machine's
    return address.is_loopback or address.is_unspecified


def _check(sock, address) -> None:
    if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address[0]):
        raise BlockedNetworkError(
            f"the tests may only connect to this machine, not to {address[0]!r} "
            f"(port {address[1]}); the suite runs offline"
        )


_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex
_getaddrinfo = socket.getaddrinfo


def _guarded_connect(self, address):
    _check(self, address)
    return _connect(self, address)


def _guarded_connect_ex(self, address):
    _check(self, address)
    return _connect_ex(self, address)


def _guarded_getaddrinfo(host, *args, **kwargs):
    if not _is_local(host):
        raise BlockedNetworkError(
            f"the tests may not look up {host!r}: only this machine is reachable, "
            "the suite runs offline"
        )
    return _getaddrinfo(host, *args, **kwargs)


socket.socket.connect = _guarded_connect
socket.socket.connect_ex = _guarded_connect_ex
socket.getaddrinfo = _guarded_getaddrinfo
