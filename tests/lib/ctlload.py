#!/usr/bin/env python3
"""ctlload.py - hold many control-socket connections open while timing SMTP MAIL.

usage: ctlload.py CTL_SOCKET N SMTP_PORT MAILS

Opens N connections to hopmilter's control socket (a connect that fails
within 10s counts as refused; the daemon serves 32 and answers the rest
"ERR busy") and leaves each of them idle or sending half a command, so the daemon has
to keep them until their time runs out.  While they are held, it sends
MAILS transactions to Postfix on 127.0.0.1:SMTP_PORT (XCLIENT from a
trusted address, so no rate limit gets in the way) and times the MAIL FROM
command: the step where Postfix waits for hopmilter.  Then it closes every
control connection.

Prints one line of numbers (key=value) and exits 0 when every MAIL got a
250; the test asserts that and reports the latencies; it never asserts a
time.  Bounded: every socket operation has a timeout.
"""
import socket
import smtplib
import sys
import time


def hold(path, n):
    held, refused = [], 0
    for i in range(n):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        try:
            s.connect(path)
        except OSError:
            refused += 1
            s.close()
            continue
        if i % 2 == 0:
            try:
                s.send(b"stat")  # half a command, never finished
            except OSError:
                pass
        held.append(s)
    return held, refused


def main():
    path, n, port, mails = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    t0 = time.monotonic()
    held, refused = hold(path, n)
    opened = time.monotonic() - t0
    lat, bad = [], 0
    for i in range(mails):
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
    for s in held:
        s.close()
    lat.sort()
    ms = [round(x * 1000, 2) for x in lat]
    med = ms[len(ms) // 2] if ms else -1
    print("ctl_connections=%d connect_refused=%d open_s=%.2f mails=%d mail_failed=%d "
          "mail_ms_min=%s mail_ms_median=%s mail_ms_max=%s"
          % (n, refused, opened, mails, bad, ms[0] if ms else -1, med, ms[-1] if ms else -1))
    return 0 if bad == 0 and len(lat) == mails else 1


if __name__ == "__main__":
    sys.exit(main())
