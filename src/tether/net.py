"""Listening sockets for uvicorn."""

from __future__ import annotations

import socket


def listen(host: str, port: int) -> socket.socket:
    """A bound socket; accepted connections inherit TCP_NODELAY, without which a response
    written in two parts waits ~40 ms for a delayed ACK."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    return sock
