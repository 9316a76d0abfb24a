"""TMQ/1 framing for the Python client (docs/PROTOCOL.md, sections 3 and 4).

Pure: frames in, (command, body) out, and back; no sockets, no threads. Every message is two
frames, a 5-octet header ``TMQ\\x01 COMMAND`` and one msgpack map. Decoding refuses anything
else with WireError; a malformed batch item is skipped by the caller, never fatal.
"""

import msgpack

HELLO, WELCOME, SUBMIT, ACK, RESULTS, STATUS, STATUS_REPLY = 1, 2, 3, 4, 5, 6, 7
HEARTBEAT, BYE, ERROR, WITHDRAW = 11, 13, 14, 18
_KNOWN = frozenset(range(1, 19))
_SIGNATURE = b"TMQ\x01"

MAX_BODY = 64 * 1024 * 1024
MAX_MSG = MAX_BODY + 1024  # ZMQ_MAXMSGSIZE, as the broker sets it
HWM = 100_000
HEARTBEAT_DEFAULT_MS = 1000

# ACK rejection codes (section 3) and result statuses, by the names JobError.status uses.
REJ_QUEUE_FULL, REJ_UNKNOWN_FUNCTION = 1, 2
STATUS_OK, STATUS_CANCELLED = 0, 6
STATUS_NAMES = {1: "error", 2: "died", 3: "timeout", 4: "rejected", 5: "out_of_memory"}
# (6 CANCELLED ends a withdrawn job: its future is cancelled, no JobError)
UNKNOWN_FUNCTION_PREFIX = "unknown function: "
ERR_COMMAND, ERR_WRONG_PORT = 3, 5


def load_cert(path, need_secret):
    """(public, secret) Z85 keys as bytes from a czmq certificate file, as `taskmq keygen`
    writes them (PATH public, PATH_secret both; PATH_secret is read when it exists, as czmq
    does). secret is None for a public certificate. Raises ValueError naming the file."""
    for name in (path + "_secret", path):
        try:
            with open(name, encoding="ascii", errors="replace") as f:
                text = f.read()
            break
        except FileNotFoundError:
            continue
        except OSError as e:
            raise ValueError(f"cannot read {name}: {e.strerror}") from None
    else:
        raise ValueError(f"cannot read {path}: no such file")
    keys = {}
    for line in text.splitlines():
        k, eq, v = line.strip().partition("=")
        if eq and k.strip() in ("public-key", "secret-key"):
            keys[k.strip()] = v.strip().strip('"').encode()
    public, secret = keys.get("public-key"), keys.get("secret-key")
    if not public or len(public) != 40:
        raise ValueError(f"{name} is not a certificate (taskmq keygen writes them)")
    if secret == b"0" * 40:
        secret = None
    if need_secret and (not secret or len(secret) != 40):
        raise ValueError(f"{name} holds no secret key: give the secret certificate "
                         f"({path}_secret)")
    return public, secret


class WireError(ValueError):
    """A message that is not TMQ/1 (wrong frames, header or body)."""


def encode(command, body=None):
    """The two frames of one message: header and the msgpack of body (a dict; {} if None)."""
    return [_SIGNATURE + bytes((command,)), msgpack.packb(body or {}, use_bin_type=True)]


def decode(frames):
    """(command, body dict) of a received message, or WireError saying why it is refused.

    msgpack-c's unpacker checks every declared length against the bytes present and limits
    nesting; a trailing second object (ExtraData) is refused like any other malformed body.
    """
    if len(frames) != 2:
        raise WireError(f"{len(frames)} frames (a message has 2)")
    header, body = frames
    if len(header) != 5 or header[:4] != _SIGNATURE or header[4] not in _KNOWN:
        raise WireError(f"bad header {bytes(header[:8])!r}")
    if len(body) > MAX_BODY:
        raise WireError(f"body of {len(body)} bytes")
    try:
        value = msgpack.unpackb(body, raw=False, strict_map_key=False, unicode_errors="replace")
    except Exception as e:  # msgpack raises several types for bad input
        raise WireError(f"body does not decode: {e}") from None
    if not isinstance(value, dict):
        raise WireError("body is not a map")
    return header[4], value


def pack_value(value):
    """The msgpack encoding of one job argument (bytes travel as bin, str as str)."""
    return msgpack.packb(value, use_bin_type=True)


def unpack_value(data):
    """One result value from its msgpack encoding (raises ValueError when it is not one)."""
    return msgpack.unpackb(data, raw=False, strict_map_key=False, unicode_errors="replace")


def submit_item(cid, fn, arg, timeout_ms, retries):
    """One SUBMIT item: [cid, fn, arg bytes, timeout_ms, retries] (no options element)."""
    return [cid, fn, arg, timeout_ms, retries]


def text(data):
    """A failure's text from its bin or str data."""
    if isinstance(data, (bytes, bytearray)):
        return bytes(data).decode("utf-8", "replace")
    return data if isinstance(data, str) else repr(data)


def results(body):
    """The well-formed items of a RESULTS body as (cid, status, data, worker, ms, attempts).

    Returns (items, dropped): a malformed item is dropped and counted, never fatal."""
    items, dropped = [], 0
    for it in body.get("results") or ():
        if (isinstance(it, list) and len(it) == 6 and isinstance(it[0], int) and it[0] >= 0
                and isinstance(it[1], int) and isinstance(it[2], (bytes, str))):
            items.append(tuple(it))
        else:
            dropped += 1
    return items, dropped


def rejections(body):
    """The well-formed items of an ACK's `rejected` list as (cid, code, reason str)."""
    out = []
    for it in body.get("rejected") or ():
        if isinstance(it, list) and len(it) == 3 and isinstance(it[0], int):
            out.append((it[0], it[1], text(it[2])))
    return out


def heartbeat_ms(welcome):
    """WELCOME's heartbeat interval, or the default when it is missing or out of 10..3600000."""
    hb = welcome.get("heartbeat")
    if isinstance(hb, int) and 10 <= hb <= 3_600_000:
        return hb
    return HEARTBEAT_DEFAULT_MS
