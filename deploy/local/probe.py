#!/usr/bin/env python3
"""Health probes for the local stack, standard library only (no virtualenv needed).

    probe.py kafka 127.0.0.1:9092       a Metadata request is answered with at least one broker
    probe.py mongo 127.0.0.1:27017      the MongoDB wire protocol answers {ping: 1} with ok: 1
    probe.py http  http://127.0.0.1:9090/-/ready   GET answers 2xx

Exit status 0 when healthy; otherwise 1, with the reason on stderr.
"""

from __future__ import annotations

import socket
import struct
import sys
import urllib.request

TIMEOUT_S = 3.0


def _split(addr: str) -> tuple[str, int]:
    host, _, port = addr.rpartition(":")
    return host or "127.0.0.1", int(port)


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed by peer")
        buf += chunk
    return bytes(buf)


# --- Kafka ------------------------------------------------------------------------------------
# Metadata v4 (non-flexible; Kafka 4 still accepts v4..v13): request all topics, no auto-create.
def _kafka_string(s: str) -> bytes:
    raw = s.encode()
    return struct.pack(">h", len(raw)) + raw


def kafka(addr: str) -> str:
    api_key, api_version, correlation_id = 3, 4, 7
    body = struct.pack(">hhi", api_key, api_version, correlation_id) + _kafka_string("probe")
    body += struct.pack(">i", -1)  # topics: null = all
    body += b"\x00"  # allow_auto_topic_creation = false
    with socket.create_connection(_split(addr), timeout=TIMEOUT_S) as sock:
        sock.sendall(struct.pack(">i", len(body)) + body)
        (size,) = struct.unpack(">i", _recv_exact(sock, 4))
        resp = _recv_exact(sock, size)
    (cid,) = struct.unpack_from(">i", resp, 0)
    if cid != correlation_id:
        raise RuntimeError(f"unexpected correlation id {cid}")
    _throttle, n_brokers = struct.unpack_from(">ii", resp, 4)
    if n_brokers < 1:
        raise RuntimeError("metadata lists no broker yet")
    return f"{n_brokers} broker(s)"


# --- MongoDB wire protocol --------------------------------------------------------------------
def _bson_ping() -> bytes:
    elems = b"\x10ping\x00" + struct.pack("<i", 1)  # int32 ping: 1
    db = b"admin\x00"
    elems += b"\x02$db\x00" + struct.pack("<i", len(db)) + db  # string $db: "admin"
    return struct.pack("<i", 4 + len(elems) + 1) + elems + b"\x00"


def _bson_ok(doc: bytes) -> float | None:
    """The top-level `ok` of a BSON document (double, int32 or int64)."""
    i, end = 4, len(doc) - 1
    while i < end:
        etype = doc[i]
        name_end = doc.index(b"\x00", i + 1)
        name = doc[i + 1:name_end]
        i = name_end + 1
        if etype == 0x01:
            value, size = struct.unpack_from("<d", doc, i)[0], 8
        elif etype == 0x10:
            value, size = struct.unpack_from("<i", doc, i)[0], 4
        elif etype in (0x12, 0x09, 0x11):
            value, size = struct.unpack_from("<q", doc, i)[0], 8
        elif etype == 0x08:
            value, size = doc[i], 1
        elif etype in (0x02, 0x0D, 0x0E):
            value, size = None, 4 + struct.unpack_from("<i", doc, i)[0]
        elif etype in (0x03, 0x04):
            value, size = None, struct.unpack_from("<i", doc, i)[0]
        elif etype == 0x05:
            value, size = None, 5 + struct.unpack_from("<i", doc, i)[0]
        elif etype == 0x07:
            value, size = None, 12
        elif etype in (0x0A, 0x06, 0x7F, 0xFF):
            value, size = None, 0
        else:
            return None  # a type this probe does not need to understand
        if name == b"ok":
            return float(value)
        i += size
    return None


def mongo(addr: str) -> str:
    request_id, op_msg = 1, 2013
    payload = struct.pack("<I", 0) + b"\x00" + _bson_ping()  # flagBits, section kind 0, body
    header = struct.pack("<iiii", 16 + len(payload), request_id, 0, op_msg)
    with socket.create_connection(_split(addr), timeout=TIMEOUT_S) as sock:
        sock.sendall(header + payload)
        (length,) = struct.unpack("<i", _recv_exact(sock, 4))
        rest = _recv_exact(sock, length - 4)
    _req, response_to, opcode = struct.unpack_from("<iii", rest, 0)
    if opcode != op_msg or response_to != request_id:
        raise RuntimeError(f"unexpected reply (opcode {opcode})")
    if rest[16] != 0:
        raise RuntimeError("unexpected reply section")
    ok = _bson_ok(rest[17:])
    if ok != 1.0:
        raise RuntimeError(f"ping answered ok={ok}")
    return "ping ok"


# --- HTTP -------------------------------------------------------------------------------------
def http(url: str) -> str:
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as resp:  # noqa: S310 (loopback only)
        return f"HTTP {resp.status}"


PROBES = {"kafka": kafka, "mongo": mongo, "http": http}


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] not in PROBES:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        detail = PROBES[argv[1]](argv[2])
    except Exception as exc:  # any failure means "not healthy (yet)"
        print(f"{argv[1]} {argv[2]}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"{argv[1]} {argv[2]}: {detail}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
