#!/usr/bin/env python3
"""ctlload.py - keep N control-socket connections coming while timing SMTP MAIL.

usage: ctlload.py CTL_SOCKET N SMTP_PORT MAILS
       ctlload.py CTL_SOCKET N 0 0     (load only, until SIGTERM; make bench)

A child process opens N connections to hopmilter's control socket, holds
them (every other one sends half a command and never finishes it), closes
them all and starts over, until the parent is done; the daemon serves 32
at a time, answers the others "ERR busy", and drops a silent one when its
5 seconds run out.  Meanwhile the parent sends MAILS transactions to
Postfix on 127.0.0.1:SMTP_PORT (XCLIENT from a trusted address, so no
rate limit gets in the way) and times the MAIL FROM command: the step
where Postfix waits for hopmilter.  Two processes, so the load generator
does not slow the timing client down.

Prints one line of numbers (key=value) and exits 0 when every MAIL got a
250; the test asserts that and reports the latencies, never a time.
Bounded: MAILS transactions, and every socket operation has a timeout.
"""
import os
import signal
import smtplib
import socket
import sys
import time


def load(path, n, out_fd):
    """Child: rounds of N connections until SIGTERM; report totals on out_fd."""
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    rounds = connects = refused = 0
    while not stop:
        held = []
        for i in range(n):
            if stop:
                break
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(2)
            try:
                s.connect(path)
                connects += 1
                if i % 2 == 0:
                    s.send(b"stat")  # half a command, never finished
                held.append(s)
            except OSError:
                refused += 1  # the listen queue was full: try the next one
                s.close()
        for s in held:
            s.close()
        rounds += 1
    os.write(out_fd, ("%d %d %d" % (rounds, connects, refused)).encode())
    os._exit(0)


def main():
    path, n, port, mails = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    if port == 0:
        # The load alone, in this process; its totals as key=value on stdout.
        r, w = os.pipe()
        child = os.fork()
        if child == 0:
            os.close(r)
            load(path, n, w)
        os.close(w)
        signal.signal(signal.SIGTERM, lambda *_: os.kill(child, signal.SIGTERM))
        os.waitpid(child, 0)
        rounds, connects, refused = (int(x) for x in (os.read(r, 100).split() or [0, 0, 0]))
        print("rounds=%d ctl_connects=%d connect_refused=%d" % (rounds, connects, refused))
        return 0
    r, w = os.pipe()
    child = 0
    if n > 0:
        child = os.fork()
        if child == 0:
            os.close(r)
            load(path, n, w)
        os.close(w)
        time.sleep(0.5)  # let the load build up first
    lat, bad = [], 0
    for _ in range(mails):
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as c:
            c.ehlo("load.test.invalid")
            code, _ = c.docmd("XCLIENT", "ADDR=10.200.0.50")
            if code != 220:
                bad += 1
                continue
            c.ehlo("load.test.invalid")
            s = time.monotonic()
            code, _ = c.docmd("MAIL", "FROM:<core@example.com>")
            lat.append(time.monotonic() - s)
            if code != 250:
                bad += 1
            c.rset()
    rounds = connects = refused = 0
    if child:
        os.kill(child, signal.SIGTERM)
        os.waitpid(child, 0)
        rounds, connects, refused = (int(x) for x in (os.read(r, 100).split() or [0, 0, 0]))
    ms = sorted(round(x * 1000, 2) for x in lat)
    print("ctl_connections_at_once=%d rounds=%d ctl_connects=%d connect_refused=%d mails=%d "
          "mail_failed=%d mail_ms_min=%s mail_ms_median=%s mail_ms_max=%s"
          % (n, rounds, connects, refused, mails, bad, ms[0] if ms else -1,
             ms[len(ms) // 2] if ms else -1, ms[-1] if ms else -1))
    return 0 if bad == 0 and len(lat) == mails else 1


if __name__ == "__main__":
    sys.exit(main())
