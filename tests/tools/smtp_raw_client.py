"""A raw SMTP client for tests: sends bytes as given (so tests can pipeline
commands or send malformed input) and reads whole replies."""

import socket


class RawClient:
    def __init__(self, host: str, port: int, timeout: float = 10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""

    def send(self, data) -> None:
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def _line(self) -> bytes:
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"connection closed (pending {self.buf!r})")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line.rstrip(b"\r")

    def reply(self) -> tuple:
        """(code, [text lines]) of one reply, multi-line replies joined."""
        texts = []
        while True:
            line = self._line().decode()
            texts.append(line[4:])
            if len(line) < 4 or line[3] != "-":
                return int(line[:3]), texts

    def command(self, line: str) -> tuple:
        self.send(line + "\r\n")
        return self.reply()

    def closed_by_peer(self) -> bool:
        """True if the peer closes (EOF or reset) without sending anything more."""
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            return True
        return data == b"" and self.buf == b""

    def close(self) -> None:
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
