#!/usr/bin/python3
"""lmtpraw - a raw LMTP peer for hostile tests: sends exact bytes (NUL, bare
CR or LF, 8-bit, lines without end, megabytes at once, a byte at a time)
to a unix socket and reports what came back and when.

The bytes are Python literals: --data is sent at once, then --trickle one
byte every --delay seconds, then --fill N bytes of "A" (no line end) in
64 KiB writes.  Replies are read concurrently; the output is one "R: line"
per reply line, then "SENT <bytes>", "SENDERR <error>" if a write failed,
and "EOF <seconds>" when the server closed (seconds since connecting) or
"TIMEOUT" when --wait passed first.  --quit-now closes right after
sending, reading nothing ("CLOSED"); with --after CODE it first reads
until a reply starting with CODE, then sends --then, then closes.
"""
import argparse
import ast
import socket
import sys
import threading
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--socket", required=True)
    p.add_argument("--data", default="b''")
    p.add_argument("--trickle", default="b''")
    p.add_argument("--delay", type=float, default=1.0)
    p.add_argument("--fill", type=int, default=0)
    p.add_argument("--wait", type=float, default=30.0, help="give up reading after this")
    p.add_argument("--quit-now", action="store_true")
    p.add_argument("--after", help="with --quit-now: first read until a reply starts so")
    p.add_argument("--then", default="b''", help="... then send these bytes")
    a = p.parse_args()
    data = ast.literal_eval(a.data)
    trickle = ast.literal_eval(a.trickle)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(a.socket)
    t0 = time.monotonic()
    got = []
    state = {"eof": None}

    def reader():
        buf = b""
        s.settimeout(a.wait)
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    state["eof"] = time.monotonic() - t0
                    break
                buf += chunk
        except socket.timeout:
            pass
        except OSError:
            state["eof"] = time.monotonic() - t0
        got.append(buf)

    th = None
    if not a.quit_now:
        th = threading.Thread(target=reader)
        th.start()
    sent = 0
    err = None
    try:
        s.sendall(data)
        sent += len(data)
        for i in range(len(trickle)):
            if state["eof"] is not None:
                break
            s.sendall(trickle[i:i + 1])
            sent += 1
            time.sleep(a.delay)
        block = b"A" * 65536
        while sent - len(data) - len(trickle) < a.fill and state["eof"] is None:
            n = min(len(block), a.fill - (sent - len(data) - len(trickle)))
            s.sendall(block[:n])
            sent += n
    except OSError as e:
        err = e.__class__.__name__
    if a.quit_now and a.after:
        buf = b""
        s.settimeout(a.wait)
        while not any(l.startswith(a.after.encode()) for l in buf.split(b"\r\n")):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        s.sendall(ast.literal_eval(a.then))
    if a.quit_now:
        s.close()
        print("SENT %d" % sent)
        print("CLOSED")
        return 0
    th.join()
    for line in got[0].split(b"\r\n"):
        if line:
            print("R: " + line.decode("utf-8", "replace"))
    print("SENT %d" % sent)
    if err:
        print("SENDERR %s" % err)
    print("EOF %.2f" % state["eof"] if state["eof"] is not None else "TIMEOUT")
    return 0


if __name__ == "__main__":
    sys.exit(main())
