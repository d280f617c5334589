#!/usr/bin/python3
"""lmtpc - a small LMTP client (RFC 2033) for hoprelayd's tests.

One transaction on a unix socket: LHLO, MAIL FROM, RCPT TO for each
recipient, DATA, the message from stdin (dot-stuffed here, CRLF line
ends), then one reply per accepted recipient.  Each server reply is
printed on its own line, prefixed by what it answers:

    GREETING 220 ...      MAIL 250 2.1.0 ...    RCPT <b@x> 250 ...
    DATA 354 ...          DOT <b@x> 250 ...

--raw sends the lines from stdin as they are (CRLF added), all at once,
after the greeting and prints every reply until the server closes, for
protocol tests (end them with QUIT).  --hold N
connects, reads the greeting and keeps the connection N seconds.
Exit status 0 when the dialogue ran to its end, 1 when the server closed
it or a read timed out (printed as "CLOSED" / "TIMEOUT").
"""
import argparse
import socket
import sys
import time


class Conn:
    def __init__(self, path, timeout):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(path)
        self.buf = b""

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def reply(self):
        lines = [self.line()]
        while len(lines[-1]) > 3 and lines[-1][3] == "-":
            lines.append(self.line())
        return lines

    def send(self, data):
        self.s.sendall(data)


def show(tag, lines):
    print(tag, lines[-1] if len(lines) == 1 else " / ".join(lines))
    sys.stdout.flush()


def stuff(body):
    out = []
    for line in body.replace(b"\r\n", b"\n").split(b"\n"):
        out.append((b"." + line) if line.startswith(b".") else line)
    if out and out[-1] == b"":
        out.pop()
    return b"\r\n".join(out) + b"\r\n.\r\n"


def transaction(c, a):
    show("GREETING", c.reply())
    c.send(b"LHLO client.test.invalid\r\n")
    show("LHLO", c.reply())
    params = "".join(" " + p for p in a.param)
    c.send(("MAIL FROM:<%s>%s\r\n" % (a.sender, params)).encode())
    r = c.reply()
    show("MAIL", r)
    if not r[-1].startswith("2"):
        return
    accepted = []
    for rcpt in a.rcpt:
        c.send(("RCPT TO:<%s>\r\n" % rcpt).encode())
        r = c.reply()
        show("RCPT <%s>" % rcpt, r)
        if r[-1].startswith("2"):
            accepted.append(rcpt)
    c.send(b"DATA\r\n")
    r = c.reply()
    show("DATA", r)
    if not r[-1].startswith("354"):
        return
    body = stuff(sys.stdin.buffer.read())
    if a.cut is not None:
        c.send(body[:a.cut])
        time.sleep(a.cut_wait)
        return
    c.send(body)
    for rcpt in accepted:
        show("DOT <%s>" % rcpt, c.reply())
    c.send(b"QUIT\r\n")
    show("QUIT", c.reply())


def raw(c):
    """All the lines at once (pipelined), then every reply until the end."""
    show("GREETING", c.reply())
    lines = [l.rstrip(b"\r") for l in sys.stdin.buffer.read().split(b"\n") if l != b""]
    c.send(b"".join(l + b"\r\n" for l in lines))
    while True:
        show("REPLY", c.reply())


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--socket", required=True)
    p.add_argument("--from", dest="sender", default="a@example.org")
    p.add_argument("--rcpt", action="append", default=[])
    p.add_argument("--param", action="append", default=[], help="MAIL FROM parameter")
    p.add_argument("--timeout", type=float, default=60)
    p.add_argument("--raw", action="store_true")
    p.add_argument("--hold", type=float)
    p.add_argument("--cut", type=int, help="send only this many bytes of the data, then close")
    p.add_argument("--cut-wait", type=float, default=0.5)
    a = p.parse_args()
    try:
        c = Conn(a.socket, a.timeout)
        if a.hold is not None:
            show("GREETING", c.reply())
            time.sleep(a.hold)
            return 0
        raw(c) if a.raw else transaction(c, a)
    except (EOFError, BrokenPipeError, ConnectionResetError):
        print("CLOSED")
        return 1
    except socket.timeout:
        print("TIMEOUT")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
