#!/usr/bin/python3
"""fakeredis - a hostile Redis server on loopback for hopmilter's tests.

It answers the handshake hopmilter's rate limit runs on every connection
(AUTH, SELECT, ROLE as a master, SCRIPT LOAD with the SHA1 of the bytes it
got, PING) like Redis would, then answers EVALSHA and EVAL per --mode:

  normal     *3 :1 :0 :1 (allowed), as the real script would
  aggregate  "*2000000000" and then ":1" elements, as fast as the socket takes them
  bulk       "$4000000000" and then 64 KiB blocks of "x"
  trickle    the normal reply, one byte every --delay seconds
  close      closes the connection without a reply
  close-once closes the connection at the first EVALSHA/EVAL it gets (of
             all connections), answers every later one normally: a close
             that races the client's idle check
  idle       normal, but closes every connection idle for --idle seconds
             (what Redis's `timeout` setting, a proxy or a failover do)
  readonly-once  answers the first EVALSHA/EVAL it gets (of all
             connections) with READONLY, as a master demoted behind the
             client's back does, and every later one normally

Streaming stops after --stream-for seconds or when the client goes.  Each
connection is served by its own thread.  Every event is one line in LOG
("CONNECT", "CMD <name>", "IDLE-CLOSE", "STREAMED <bytes>", ...).
"""
import argparse
import hashlib
import socket
import sys
import threading
import time

LOCK = threading.Lock()
ONCE_DONE = [False]


def first_of_all():
    """True for the first EVALSHA/EVAL of all connections (the *-once modes)."""
    with LOCK:
        first = not ONCE_DONE[0]
        ONCE_DONE[0] = True
    return first


def parse():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--mode", default="normal",
                   choices=["normal", "aggregate", "bulk", "trickle", "close", "close-once",
                            "idle", "readonly-once"])
    p.add_argument("--delay", type=float, default=0.065)
    p.add_argument("--idle", type=float, default=0.5)
    p.add_argument("--stream-for", type=float, default=5.0)
    return p.parse_args()


class Conn:
    def __init__(self, sock, args):
        self.sock = sock
        self.args = args
        self.buf = b""

    def log(self, text):
        with LOCK, open(self.args.log, "a") as f:
            f.write(text + "\n")

    def recv_more(self):
        if self.args.mode == "idle":
            self.sock.settimeout(self.args.idle)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            self.log("IDLE-CLOSE")
            return False
        if not chunk:
            return False
        self.buf += chunk
        return True

    def line(self):
        while b"\r\n" not in self.buf:
            if not self.recv_more():
                return None
        l, self.buf = self.buf.split(b"\r\n", 1)
        return l

    def exact(self, n):
        while len(self.buf) < n + 2:
            if not self.recv_more():
                return None
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def command(self):
        """One command as a list of bytes arguments, or None at the end."""
        head = self.line()
        if head is None or not head.startswith(b"*"):
            return None
        args = []
        for _ in range(int(head[1:])):
            h = self.line()
            if h is None or not h.startswith(b"$"):
                return None
            a = self.exact(int(h[1:]))
            if a is None:
                return None
            args.append(a)
        return args

    def stream(self, head, block):
        sent = len(head)
        stop = time.monotonic() + self.args.stream_for
        try:
            self.sock.sendall(head)
            while time.monotonic() < stop:
                self.sock.sendall(block)
                sent += len(block)
        except OSError:
            pass
        self.log("STREAMED %d" % sent)
        return False

    def evaluate(self):
        mode = self.args.mode
        reply = b"*3\r\n:1\r\n:0\r\n:1\r\n"
        if mode == "aggregate":
            return self.stream(b"*2000000000\r\n", b":1\r\n" * 16384)
        if mode == "bulk":
            return self.stream(b"$4000000000\r\n", b"x" * 65536)
        if mode == "close":
            self.log("CLOSE-UNANSWERED")
            return False
        if mode == "close-once" and first_of_all():
            self.log("CLOSE-UNANSWERED")
            return False
        if mode == "readonly-once" and first_of_all():
            self.log("READONLY")
            self.sock.sendall(b"-READONLY You can't write against a read only replica.\r\n")
            return True
        if mode == "trickle":
            try:
                for i in range(len(reply)):
                    self.sock.sendall(reply[i:i + 1])
                    time.sleep(self.args.delay)
            except OSError:
                self.log("TRICKLE-CUT")
                return False
            self.log("TRICKLED")
            return True
        self.sock.sendall(reply)
        return True

    def run(self):
        self.log("CONNECT")
        while True:
            cmd = self.command()
            if cmd is None:
                self.log("GONE")
                return
            name = cmd[0].upper().decode("ascii", "replace")
            self.log("CMD " + name)
            if name in ("AUTH", "SELECT"):
                self.sock.sendall(b"+OK\r\n")
            elif name == "PING":
                self.sock.sendall(b"+PONG\r\n")
            elif name == "ROLE":
                self.sock.sendall(b"*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n")
            elif name == "SCRIPT" and len(cmd) == 3:
                sha = hashlib.sha1(cmd[2]).hexdigest().encode()
                self.sock.sendall(b"$40\r\n" + sha + b"\r\n")
            elif name in ("EVALSHA", "EVAL"):
                if not self.evaluate():
                    return
            else:
                self.sock.sendall(b"-ERR unknown command\r\n")


def serve(sock, args):
    try:
        Conn(sock, args).run()
    except OSError:
        pass
    finally:
        sock.close()


def main():
    args = parse()
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", args.port))
    srv.listen(64)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn, args), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
