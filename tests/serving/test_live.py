"""A real server on loopback (uvicorn, two worker processes): bounded load, oversized bodies."""

from __future__ import annotations

import asyncio
import json
import socket
import urllib.request

from served import model_answers, sample_rows
from tools import bench_serve, loopback

REQUESTS = 600
TIMEOUT = 60


def get(url: str) -> tuple[int, dict]:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return answer.status, json.loads(answer.read())


def raw_exchange(port: int, head: bytes, body: bytes) -> bytes:
    """Send a request head and (part of) a body; return what the server answers.

    The server stops reading at its limit, answers and closes, sometimes before
    the client has sent the rest (more often on a busy machine): the send then
    fails, and the answer already on its way is what counts.
    """
    with socket.create_connection((loopback.HOST, port), timeout=10) as sock:
        try:
            sock.sendall(head + body)
            sock.shutdown(socket.SHUT_WR)
        except OSError:  # closed by the server mid-body
            pass
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except ConnectionResetError:
            if not chunks:
                raise
    return b"".join(chunks)


def test_bounded_concurrent_load_gets_the_models_answers(live_server, trained):
    rows = sample_rows(trained, 40)
    bodies = [json.dumps({"rows": [r]}).encode() for r in rows]
    port = int(live_server.rsplit(":", 1)[1])
    result = asyncio.run(bench_serve.load("live", port, bodies, REQUESTS, TIMEOUT))
    assert len(result.latencies) == REQUESTS
    expected = model_answers(trained, rows)
    answers = {i: json.loads(a)["predictions"][0] for i, a in result.answers.items()}
    assert answers == dict(enumerate(expected))
    assert get(f"{live_server}/health") == (200, {"status": "ok"})


def test_oversized_bodies_get_413_and_the_server_stays_up(live_server, trained):
    port = int(live_server.rsplit(":", 1)[1])
    head = (
        f"POST /predict HTTP/1.1\r\nHost: {loopback.HOST}\r\nConnection: close\r\n"
        "Content-Type: application/json\r\n"
    ).encode()
    declared = raw_exchange(port, head + b"Content-Length: 1000000000\r\n\r\n", b'{"rows": [')
    assert declared.startswith(b"HTTP/1.1 413") and b"over the limit" in declared
    chunk = b'{"rows": [' + b" " * 300_000  # chunked, no length: counted as it arrives
    framed = b"%x\r\n%s\r\n0\r\n\r\n" % (len(chunk), chunk)
    chunked = raw_exchange(port, head + b"Transfer-Encoding: chunked\r\n\r\n", framed)
    assert chunked.startswith(b"HTTP/1.1 413")
    status, ready = get(f"{live_server}/ready")
    assert (status, ready) == (200, {"status": "ready"})
    row = sample_rows(trained, 1)
    request = urllib.request.Request(
        f"{live_server}/predict", data=json.dumps({"rows": row}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert json.loads(answer.read())["predictions"] == model_answers(trained, row)
