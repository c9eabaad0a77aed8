#!/usr/bin/env python3
"""Drives sluice's SMTP listener the way real clients do, with Python's
smtplib (and a raw socket for BDAT, which smtplib does not speak). Prints
the server's final reply code and text on stdout; exits 0 whatever the
server answered, 2 on a usage or connection error.

  smtp_peer.py smtplib HOST PORT FROM TO[,TO...] MESSAGE_FILE [SOURCE_IP]
  smtp_peer.py bdat HOST PORT FROM TO MESSAGE_FILE
  smtp_peer.py auth HOST PORT USER PASSWORD [SOURCE_IP]

auth sends AUTH PLAIN without STARTTLS, whether or not EHLO offered it (a
client that ignores the announcement, as an attacker would), and prints
"offered" or "not offered" before the reply.
"""
import base64
import smtplib
import socket
import sys


def send_smtplib(host, port, sender, recipients, message, source):
    source_address = (source, 0) if source else None
    with smtplib.SMTP(host, int(port), source_address=source_address, timeout=30) as smtp:
        smtp.ehlo("peer.example")
        try:
            smtp.sendmail(sender, recipients, message)
        except smtplib.SMTPRecipientsRefused as refused:
            code, text = next(iter(refused.recipients.values()))
            print(code, text.decode())
            return
        except smtplib.SMTPDataError as error:
            print(error.smtp_code, error.smtp_error.decode())
            return
        code, text = smtp.noop()
        print(250, "sent")


def send_auth(host, port, user, password, source):
    source_address = (source, 0) if source else None
    with smtplib.SMTP(host, int(port), source_address=source_address, timeout=30) as smtp:
        smtp.ehlo("peer.example")
        offered = smtp.has_extn("auth")
        token = base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode()).decode()
        code, text = smtp.docmd("AUTH", "PLAIN " + token)
        print("offered" if offered else "not offered", code, text.decode())


def read_reply(stream):
    lines = []
    while True:
        line = stream.readline()
        if not line:
            raise ConnectionError("server closed the connection")
        lines.append(line.decode().rstrip("\r\n"))
        if len(line) < 4 or line[3:4] != b"-":
            return lines


def send_bdat(host, port, sender, recipient, message):
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        stream = sock.makefile("rb")
        read_reply(stream)
        sock.sendall(b"EHLO peer.example\r\n")
        capabilities = read_reply(stream)
        if not any("CHUNKING" in line for line in capabilities):
            print("000 CHUNKING not offered")
            return
        half = len(message) // 2
        sock.sendall(b"MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\n" % (sender.encode(), recipient.encode()))
        read_reply(stream)
        read_reply(stream)
        sock.sendall(b"BDAT %d\r\n" % half + message[:half])
        read_reply(stream)
        sock.sendall(b"BDAT %d LAST\r\n" % (len(message) - half) + message[half:])
        print(read_reply(stream)[-1])
        sock.sendall(b"QUIT\r\n")
        read_reply(stream)


def main(argv):
    if len(argv) >= 6 and argv[1] == "auth":
        send_auth(argv[2], argv[3], argv[4], argv[5], argv[6] if len(argv) > 6 else None)
        return 0
    if len(argv) < 7:
        print(__doc__, file=sys.stderr)
        return 2
    mode, host, port, sender, recipients, path = argv[1:7]
    with open(path, "rb") as f:
        message = f.read()
    if mode == "smtplib":
        send_smtplib(host, port, sender, recipients.split(","), message,
                     argv[7] if len(argv) > 7 else None)
    elif mode == "bdat":
        send_bdat(host, port, sender, recipients, message)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
