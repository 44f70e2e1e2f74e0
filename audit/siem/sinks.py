"""Where stream lines go (AUDIT_STREAM): a file, a syslog target, stdout, or nowhere.

    file:/var/log/ocr/audit.log        appended, fsynced per batch; reopened when
                                       logrotate moved it (as WatchedFileHandler does)
    syslog+tcp://127.0.0.1:6514        RFC 5424 messages, octet-counting framing (RFC 6587)
    syslog+udp://127.0.0.1:514         RFC 5424, one message per datagram
    syslog+unix:/dev/log               RFC 5424 on a local datagram socket
    stdout                             the sealer's standard output, nothing else on it
    off                                no stream

A syslog target takes ?facility=NAME (default local0). Nothing but audit lines is ever
written to a sink: diagnostics go to the `audit_sealer` logger on standard error.
"""

import os
import socket
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, urlsplit

from .documents import SERVICE, Writer

FACILITIES = {
    "kern": 0, "user": 1, "daemon": 3, "auth": 4, "authpriv": 10,
    "local0": 16, "local1": 17, "local2": 18, "local3": 19,
    "local4": 20, "local5": 21, "local6": 22, "local7": 23,
}  # fmt: skip
# How much of a sink file's end is read back to find the last line it holds.
TAIL_BYTES = 256 * 1024


@dataclass(frozen=True)
class Line:
    """One stream line: its text, and what a syslog header says about it."""

    text: str
    timestamp: str  # RFC 3339, UTC: the event's own time
    msgid: str  # the event type, or "audit_checkpoint"
    severity: int  # syslog severity, 0 (emergency) .. 7 (debug)
    sequence: int | None = None


class Sink(Protocol):
    def write(self, lines: list[Line]) -> None: ...
    def tail(self) -> list[str]: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class SinkSpec:
    kind: str  # "file", "syslog", "stdout", "off"
    target: str = ""  # a path, or host:port
    transport: str = ""  # "tcp", "udp", "unix"
    facility: int = FACILITIES["local0"]


def parse_stream_setting(value: str) -> SinkSpec:
    """Return the sink AUDIT_STREAM names; ValueError says what is wrong with it."""
    value = value.strip()
    if value in ("off", "stdout"):
        return SinkSpec(kind=value)
    if value.startswith("file:"):
        path = value[len("file:") :]
        if not path.startswith("/"):
            raise ValueError(f"AUDIT_STREAM={value!r}: a file sink needs an absolute path")
        return SinkSpec(kind="file", target=path)
    if value.startswith("syslog+"):
        parts = urlsplit(value)
        transport = parts.scheme.removeprefix("syslog+")
        query = parse_qs(parts.query)
        name = query.get("facility", ["local0"])[0]
        if name not in FACILITIES:
            raise ValueError(f"AUDIT_STREAM={value!r}: unknown syslog facility {name!r}")
        if transport == "unix":
            if not parts.path.startswith("/"):
                raise ValueError(f"AUDIT_STREAM={value!r}: syslog+unix needs a socket path")
            return SinkSpec("syslog", parts.path, "unix", FACILITIES[name])
        if transport in ("tcp", "udp"):
            try:
                port = parts.port
            except ValueError:
                port = None
            if not parts.hostname or not port:
                raise ValueError(f"AUDIT_STREAM={value!r}: syslog+{transport} needs host:port")
            return SinkSpec("syslog", f"{parts.hostname}:{port}", transport, FACILITIES[name])
    raise ValueError(
        f"AUDIT_STREAM={value!r} is not one of file:/PATH, syslog+tcp://HOST:PORT, "
        "syslog+udp://HOST:PORT, syslog+unix:/PATH, stdout, off"
    )


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class FileSink:
    """Append lines to a file; reopen it when logrotate moved or removed it."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.fd: int | None = None
        self.identity: tuple[int, int] | None = None

    def _open(self) -> int:
        if self.fd is not None:
            try:
                now = os.stat(self.path)
                if (now.st_dev, now.st_ino) == self.identity:
                    return self.fd
            except FileNotFoundError:
                pass
            os.close(self.fd)  # rotated away: the shipper reads the old file to its end
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        opened = os.fstat(self.fd)
        self.identity = (opened.st_dev, opened.st_ino)
        return self.fd

    def write(self, lines: list[Line]) -> None:
        if not lines:
            return
        fd = self._open()
        data = "".join(line.text + "\n" for line in lines).encode()
        if not self._ends_with_newline():
            # A writer killed mid-line left a fragment: end it, so the next line is whole.
            data = b"\n" + data
        write_all(fd, data)
        # Durable before the stream position is committed: a crash then repeats nothing
        # the file does not hold (audit/siem/streamer.py reads its end back).
        os.fsync(fd)

    def _ends_with_newline(self) -> bool:
        with open(self.path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size == 0:
                return True
            handle.seek(size - 1)
            return handle.read(1) == b"\n"

    def tail(self) -> list[str]:
        """Return the complete lines at the end of the file, oldest first."""
        try:
            with open(self.path, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                handle.seek(max(0, size - TAIL_BYTES))
                data = handle.read()
        except FileNotFoundError:
            return []
        lines = data.split(b"\n")
        if size > TAIL_BYTES:
            lines = lines[1:]  # the first may be cut
        return [line.decode(errors="replace") for line in lines[:-1] if line]

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class StdoutSink:
    """Write lines to file descriptor 1; the sealer writes nothing else there."""

    def write(self, lines: list[Line]) -> None:
        if lines:
            write_all(1, "".join(line.text + "\n" for line in lines).encode())

    def tail(self) -> list[str]:
        return []

    def close(self) -> None:
        pass


def rfc5424(line: Line, *, facility: int, writer: Writer) -> bytes:
    """Return one RFC 5424 syslog message carrying the line."""
    header = " ".join(
        (
            f"<{facility * 8 + line.severity}>1",
            line.timestamp,
            printable(writer.host, 255),
            SERVICE,
            str(writer.pid),
            printable(line.msgid, 32),
        )
    )
    data = []
    if line.sequence is not None:
        # RFC 5424's registered "meta" SD-ID: a receiver can order and count by it.
        data.append(f'[meta sequenceId="{line.sequence}"]')
    data.append(f'[origin software="{SERVICE}" enterpriseId="0"]')
    return f"{header} {''.join(data)} {line.text}".encode()


def printable(value: str, limit: int) -> str:
    """Return a header field: printable US-ASCII without spaces, or the NILVALUE."""
    text = "".join(c for c in value if 33 <= ord(c) <= 126)[:limit]
    return text or "-"


class SyslogSink:
    """Send lines as RFC 5424 messages over TCP (octet counting), UDP or a Unix socket."""

    def __init__(self, spec: SinkSpec, *, writer: Writer, timeout: float) -> None:
        self.spec = spec
        self.writer = writer
        self.timeout = timeout
        self.sock: socket.socket | None = None

    def _connect(self) -> socket.socket:
        if self.sock is not None:
            return self.sock
        if self.spec.transport == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.settimeout(self.timeout)
            sock.connect(self.spec.target)
        else:
            host, port = self.spec.target.rsplit(":", 1)
            kind = socket.SOCK_STREAM if self.spec.transport == "tcp" else socket.SOCK_DGRAM
            sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, kind)
            sock.settimeout(self.timeout)
            sock.connect((host, int(port)))
        self.sock = sock
        return sock

    def write(self, lines: list[Line]) -> None:
        if not lines:
            return
        try:
            sock = self._connect()
            messages = [
                rfc5424(line, facility=self.spec.facility, writer=self.writer) for line in lines
            ]
            if self.spec.transport == "tcp":
                sock.sendall(b"".join(b"%d %s" % (len(message), message) for message in messages))
            else:
                for message in messages:
                    sock.send(message)
        except OSError:
            self.close()  # connect again next round
            raise

    def tail(self) -> list[str]:
        return []

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def open_sink(spec: SinkSpec, *, writer: Writer, timeout: float) -> Sink | None:
    if spec.kind == "file":
        path = Path(spec.target)
        if path.exists() and not stat.S_ISREG(path.stat().st_mode):
            raise ValueError(f"the audit stream file {path} is not a regular file")
        return FileSink(spec.target)
    if spec.kind == "stdout":
        return StdoutSink()
    if spec.kind == "syslog":
        return SyslogSink(spec, writer=writer, timeout=timeout)
    return None
