#!/usr/bin/env python3
"""inject: an SMTP load generator for the workloads smtp-source cannot make.

smtp-source puts every recipient of a message in the same domain and speaks
no TLS; this sends N messages over S concurrent sessions (each reusing its
connection, with PIPELINING of MAIL/RCPT/DATA), each message to R recipients
in R different domains (<tag>rcpt<n>.<j>@d<j>.test), optionally after STARTTLS,
optionally paced to a total message rate. Standard library only.

    inject.py HOST:PORT --sessions 20 --messages 1000 --size 2048
              [--recipients 10] [--domains 10] [--starttls] [--rate 500] [--tag x]

Prints one JSON line: {"accepted": n, "errors": n, "elapsed": seconds,
"first_error": "..."}; exits 1 if any message was refused.
"""
import argparse
import asyncio
import json
import ssl
import sys
import time


def message_body(size):
    head = ("From: <sender@bench.example>\r\nTo: <rcpt@bench.example>\r\n"
            "Subject: e2e benchmark\r\nDate: Thu, 01 Jan 2026 00:00:00 +0000\r\n\r\n")
    line = "x" * 78 + "\r\n"
    return (head + line * max(1, size // len(line)) + ".\r\n").encode()


class Load:
    def __init__(self, args):
        self.args = args
        self.next = 0
        self.accepted = 0
        self.errors = 0
        self.first_error = ""
        self.body = message_body(args.size)
        self.start = 0.0

    def take(self):
        if self.next >= self.args.messages:
            return None
        n = self.next
        self.next += 1
        return n

    def envelope(self, n):
        a = self.args
        if a.recipients == 1:
            rcpts = [f"{a.tag}rcpt{n}@d{n % a.domains + 1:04d}.test"]
        else:
            rcpts = [f"{a.tag}rcpt{n}.{j}@d{j % a.domains + 1:04d}.test"
                     for j in range(a.recipients)]
        lines = ["MAIL FROM:<sender@bench.example>"] + [f"RCPT TO:<{r}>" for r in rcpts]
        return ("\r\n".join(lines + ["DATA"]) + "\r\n").encode(), len(rcpts)

    def fail(self, text):
        self.errors += 1
        if not self.first_error:
            self.first_error = text


async def reply(reader):
    """(code, text of the last line) of one possibly multi-line reply."""
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("connection closed")
        if len(line) < 4 or line[3:4] != b"-":
            return int(line[:3]), line.decode(errors="replace").strip()


async def session(load, host, port, tls):
    a = load.args
    reader, writer = await asyncio.open_connection(host, port)
    await reply(reader)
    writer.write(b"EHLO client.bench.example\r\n")
    await reply(reader)
    if tls:
        writer.write(b"STARTTLS\r\n")
        code, text = await reply(reader)
        if code != 220:
            raise ConnectionError(f"STARTTLS refused: {text}")
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        await writer.start_tls(context)
        writer.write(b"EHLO client.bench.example\r\n")
        await reply(reader)
    while (n := load.take()) is not None:
        if a.rate:
            delay = load.start + n / a.rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        envelope, count = load.envelope(n)
        writer.write(envelope)
        codes = [await reply(reader) for _ in range(count + 2)]
        if codes[-1][0] != 354:
            load.fail(" / ".join(t for _, t in codes))
            writer.write(b"RSET\r\n")
            await reply(reader)
            continue
        writer.write(load.body)
        code, text = await reply(reader)
        if code == 250 and all(c == 250 for c, _ in codes[:-1]):
            load.accepted += 1
        else:
            load.fail(text)
    writer.write(b"QUIT\r\n")
    try:
        await writer.drain()
        writer.close()
        await writer.wait_closed()
    except (ConnectionError, ssl.SSLError):
        pass


async def run(args):
    host, port = args.server.rsplit(":", 1)
    load = Load(args)
    load.start = time.monotonic()
    results = await asyncio.gather(
        *(session(load, host, int(port), args.starttls) for _ in range(args.sessions)),
        return_exceptions=True)
    elapsed = time.monotonic() - load.start
    for r in results:
        if isinstance(r, BaseException):
            load.fail(f"session: {r!r}")
    return load, elapsed


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("server", help="HOST:PORT")
    p.add_argument("--sessions", type=int, default=20)
    p.add_argument("--messages", type=int, default=1000)
    p.add_argument("--size", type=int, default=2048)
    p.add_argument("--recipients", type=int, default=1)
    p.add_argument("--domains", type=int, default=10)
    p.add_argument("--tag", default="", help="prefix of every local part (distinct runs, "
                   "distinct addresses)")
    p.add_argument("--starttls", action="store_true")
    p.add_argument("--rate", type=float, default=0, help="messages/s in total; 0 = flat out")
    args = p.parse_args()
    load, elapsed = asyncio.run(run(args))
    print(json.dumps({"accepted": load.accepted, "errors": load.errors, "elapsed": elapsed,
                      "first_error": load.first_error}), flush=True)
    return 1 if load.errors else 0


if __name__ == "__main__":
    sys.exit(main())
