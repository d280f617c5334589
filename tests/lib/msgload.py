#!/usr/bin/env python3
"""msgload - a bounded SMTP load for the fault tests, one line per message.

    msgload.py HOST PORT OUT PREFIX COUNT THREADS PAUSE [ID...]

Sends COUNT messages (or, with IDs given, those Message-IDs again) to
HOST:PORT, each in its own SMTP session from an internet address
presented with XCLIENT (192.0.2.1 .. 192.0.2.200), THREADS sessions at a
time, each thread pausing PAUSE seconds between messages.  Appends to OUT,
as each session ends, "ID CODE TEXT": 250 and the queue-id reply when the
message was accepted, else the first 4xx/5xx reply (or 000 and the error
when the connection failed).  Nothing is retried here: the test decides.
"""
import smtplib
import sys
import threading
import time


def send_one(host, port, msgid, n):
    body = ("From: <load@sender.example>\r\nTo: <user@example.com>\r\n"
            "Subject: fault load\r\nMessage-Id: <%s>\r\n\r\nmessage %s\r\n" % (msgid, msgid))
    try:
        s = smtplib.SMTP(host, port, timeout=30)
    except OSError as e:
        return "000", "connect: %s" % e
    try:
        s.ehlo("client.example")
        code, text = s.docmd("XCLIENT", "ADDR=192.0.2.%d" % (n % 200 + 1))
        if code != 220:
            return str(code), text.decode(errors="replace")
        s.ehlo("client.example")
        for cmd, arg in (("MAIL", "FROM:<load@sender.example>"), ("RCPT", "TO:<user@example.com>"),
                         ("DATA", "")):
            code, text = s.docmd(cmd, arg)
            if code >= 400:
                return str(code), text.decode(errors="replace")
        s.send(body.encode() + b".\r\n")
        code, text = s.getreply()
        return str(code), text.decode(errors="replace")
    except (OSError, smtplib.SMTPException) as e:
        return "000", "%s: %s" % (type(e).__name__, e)
    finally:
        try:
            s.close()
        except OSError:
            pass


def main():
    host, port, out, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    count, threads, pause = int(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7])
    ids = sys.argv[8:] or ["%s-%d@test" % (prefix, i) for i in range(count)]
    lock = threading.Lock()
    todo = list(enumerate(ids))

    def worker():
        while True:
            with lock:
                if not todo:
                    return
                n, msgid = todo.pop(0)
            code, text = send_one(host, port, msgid, n)
            with lock, open(out, "a") as f:
                f.write("%s %s %s\n" % (msgid, code, " ".join(text.split())))
            time.sleep(pause)

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


if __name__ == "__main__":
    main()
