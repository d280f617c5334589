#!/usr/bin/python3
"""fakesmtp - a scripted SMTP server on loopback for hoprelay's tests.

Real Postfix instances cover the normal protocol.  This server does what
Postfix will not: misbehave on purpose (data injected after the 220 to
STARTTLS, no STARTTLS, no EHLO, a refusing greeting), and record exactly
what the client sent (commands and their parameters, the raw DATA bytes).

Each command line received is appended to LOG as "C: <line>"; after DATA,
the raw bytes up to and including the final "." line go to LOG.data.N
(N counts messages) and "DATA-END N <bytes>" is logged; a connection
closed before the final "." is logged as "DATA-ABORTED <bytes>".

Hostile modes: --endless greeting|ehlo streams continuation lines
("220-...", "250-...") without end (every --endless-delay seconds, at most
--endless-for seconds), logging "ENDLESS-STOPPED <lines>" when the client
goes; --early-reply answers DATA with the 354 and a "250" in one packet,
then closes without reading the message ("EARLY-REPLY"); --refuse-rcpt
refuses (550) or defers (452) recipients named so.
"""
import argparse
import socket
import ssl
import sys
import time


def parse():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--log", required=True)
    p.add_argument("--keywords", default="PIPELINING,8BITMIME,SIZE 0",
                   help="comma-separated EHLO keywords")
    p.add_argument("--greeting", default="220 fake.test.invalid ESMTP")
    p.add_argument("--no-ehlo", action="store_true", help="502 to EHLO (HELO works)")
    p.add_argument("--inject", action="store_true",
                   help="send a second reply right after the 220 to STARTTLS")
    p.add_argument("--cert", help="certificate+key file for a real STARTTLS")
    p.add_argument("--hang-quit", action="store_true",
                   help="never answer QUIT (hold the connection for a minute)")
    p.add_argument("--endless", choices=["greeting", "ehlo"],
                   help="stream continuation lines without end at this step")
    p.add_argument("--endless-delay", type=float, default=0.0,
                   help="seconds between two endless lines (0: as fast as possible)")
    p.add_argument("--endless-for", type=float, default=60.0,
                   help="give up streaming after this many seconds")
    p.add_argument("--refuse-rcpt", action="store_true",
                   help="550 to a recipient with 'refuse' in it, 452 to one with 'defer'")
    p.add_argument("--early-reply", action="store_true",
                   help="354 and 250 in one packet to DATA, then close unread")
    return p.parse_args()


class Session:
    def __init__(self, conn, args, counter):
        self.sock = conn
        self.args = args
        self.buf = b""
        self.counter = counter

    def log(self, text):
        with open(self.args.log, "a") as f:
            f.write(text + "\n")

    def send(self, text):
        self.sock.sendall(text.encode() + b"\r\n")

    def readline(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line + b"\n"

    def endless(self, code):
        """Continuation lines until the client goes (or --endless-for)."""
        n = 0
        stop = time.monotonic() + self.args.endless_for
        # Without a delay, whole blocks of lines: the client must always
        # find more waiting, never an empty socket.
        per = 1 if self.args.endless_delay > 0 else 8000
        block = b"%d-endless line of a reply that never ends\r\n" % code * per
        try:
            while time.monotonic() < stop:
                self.sock.sendall(block)
                n += per
                if self.args.endless_delay > 0:
                    time.sleep(self.args.endless_delay)
        except OSError:
            pass
        self.log("ENDLESS-STOPPED %d" % n)

    def ehlo(self, name):
        kws = [k for k in self.args.keywords.split(",") if k]
        lines = ["fake.test.invalid hello " + name] + kws
        for i, l in enumerate(lines):
            self.send(("250 " if i == len(lines) - 1 else "250-") + l)

    def data(self):
        if self.args.early_reply:
            self.sock.sendall(b"354 go ahead\r\n250 2.0.0 queued early\r\n")
            self.log("EARLY-REPLY")
            return False
        self.send("354 go ahead")
        raw = b""
        while True:
            line = self.readline()
            if line is None:
                self.log("DATA-ABORTED %d" % len(raw))
                return False
            raw += line
            if line == b".\r\n":
                break
        self.counter[0] += 1
        with open("%s.data.%d" % (self.args.log, self.counter[0]), "wb") as f:
            f.write(raw)
        self.log("DATA-END %d %d" % (self.counter[0], len(raw)))
        self.send("250 2.0.0 queued as FAKE%d" % self.counter[0])
        return True

    def starttls(self):
        if self.args.inject:
            # The attack: a reply the client would read as coming from
            # after the handshake, sent in the clear with the 220.
            self.sock.sendall(b"220 2.0.0 ready\r\n250 2.0.0 injected\r\n")
            self.log("INJECTED")
            return True
        self.send("220 2.0.0 ready")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.args.cert)
        try:
            self.sock = ctx.wrap_socket(self.sock, server_side=True)
        except (ssl.SSLError, OSError) as e:
            self.log("TLS-FAILED %s" % e)
            return False
        self.log("TLS-UP")
        return True

    def run(self):
        if self.args.endless == "greeting":
            self.endless(220)
            return
        self.send(self.args.greeting)
        if not self.args.greeting.startswith("220"):
            return
        while True:
            line = self.readline()
            if line is None:
                self.log("CLOSED")
                return
            cmd = line.decode("utf-8", "replace").rstrip("\r\n")
            self.log("C: " + cmd)
            verb = cmd.split(" ", 1)[0].upper()
            if verb == "EHLO":
                if self.args.endless == "ehlo":
                    self.endless(250)
                    return
                if self.args.no_ehlo:
                    self.send("502 5.5.2 EHLO not implemented")
                else:
                    self.ehlo(cmd[5:])
            elif verb == "HELO":
                self.send("250 fake.test.invalid")
            elif verb == "STARTTLS":
                if not self.starttls():
                    return
            elif verb == "RCPT" and self.args.refuse_rcpt and "refuse" in cmd:
                self.send("550 5.1.1 no such user here")
            elif verb == "RCPT" and self.args.refuse_rcpt and "defer" in cmd:
                self.send("452 4.2.2 mailbox full")
            elif verb in ("MAIL", "RCPT", "RSET", "NOOP"):
                self.send("250 2.1.0 ok")
            elif verb == "DATA":
                if not self.data():
                    return
            elif verb == "QUIT":
                if self.args.hang_quit:
                    self.sock.settimeout(60)
                    try:
                        self.sock.recv(1)
                    except OSError:
                        pass
                    self.log("QUIT-HUNG")
                    return
                self.send("221 2.0.0 bye")
                return
            else:
                self.send("502 5.5.2 unknown command")


def main():
    args = parse()
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    srv = socket.socket(family, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((args.host, args.port))
    srv.listen(8)
    counter = [0]
    while True:
        conn, _ = srv.accept()
        try:
            Session(conn, args, counter).run()
        except (OSError, ssl.SSLError) as e:
            with open(args.log, "a") as f:
                f.write("ERROR %s\n" % e)
        finally:
            conn.close()


if __name__ == "__main__":
    sys.exit(main())
