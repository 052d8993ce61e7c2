"""uvicorn's HTTP protocol with TCP_NODELAY on every connection.

With more than one worker, uvicorn binds the listening socket itself as
``socket.socket(AF_INET)`` (protocol number 0), and asyncio then skips
TCP_NODELAY on the connections it accepts (it sets it only for sockets whose
protocol is IPPROTO_TCP). The response's head and body go out as two writes;
without TCP_NODELAY the second waits for the client's delayed ACK: about
40 ms added to every request. Setting it here fixes both modes.
"""

from __future__ import annotations

import asyncio
import socket
from contextlib import suppress

from uvicorn.protocols.http.h11_impl import H11Protocol


def set_nodelay(transport: asyncio.BaseTransport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class NoDelayH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, with TCP_NODELAY set when a connection opens."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        set_nodelay(transport)
        super().connection_made(transport)
