#!/usr/bin/env python3
"""slowproxy - a TCP relay that slows (or cuts) an SMTP session.

    slowproxy.py LISTEN_PORT SERVER_PORT BYTES_PER_SECOND [cut-once]

Listens on 127.0.0.1:LISTEN_PORT and joins each connection to
127.0.0.1:SERVER_PORT, passing at most BYTES_PER_SECOND from the client to
the server (0: no limit; replies pass at once).  Used to keep a large
message "in the middle of DATA" long enough for a test to act there,
deterministically.  With cut-once, the first session that sends the end
of message data (CRLF.CRLF) is cut as soon as that reaches the server:
the server's reply to it never reaches the client (the duplicate window of
RFC 1047).  When either side closes or fails, both are closed.  Stops by
itself after five minutes.
"""
import socket
import sys
import threading
import time


CUT = {"armed": False, "done": False}
CUT_LOCK = threading.Lock()


def pump(src, dst, rate, session=None):
    """Copy src to dst.  session (client-to-server only) watches for the end of data."""
    tail = b""
    try:
        while True:
            data = src.recv(16384 if rate == 0 else max(1, min(16384, rate // 20)))
            if not data or (session is None and session_cut(src)):
                break
            dst.sendall(data)
            if session is not None and CUT["armed"]:
                tail = (tail + data)[-5:] if len(data) < 5 else data[-5:]
                if tail.endswith(b"\r\n.\r\n"):
                    with CUT_LOCK:
                        if not CUT["done"]:
                            CUT["done"] = True
                            session["cut"] = True
            if rate:
                time.sleep(len(data) / rate)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()


SESSIONS = {}


def session_cut(server_side):
    """The server-to-client copy stops once its session's end of data went by."""
    session = SESSIONS.get(server_side.fileno())
    return session is not None and session.get("cut", False)


def main():
    listen_port, server_port, rate = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    CUT["armed"] = len(sys.argv) > 4 and sys.argv[4] == "cut-once"
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", listen_port))
    ls.listen(8)
    ls.settimeout(1)
    print("ready", flush=True)
    end = time.time() + 300
    while time.time() < end:
        try:
            c, _ = ls.accept()
        except socket.timeout:
            continue
        try:
            s = socket.create_connection(("127.0.0.1", server_port), timeout=10)
            s.settimeout(None)
        except OSError:
            c.close()
            continue
        session = {}
        SESSIONS[s.fileno()] = session
        threading.Thread(target=pump, args=(c, s, rate, session), daemon=True).start()
        threading.Thread(target=pump, args=(s, c, 0), daemon=True).start()


if __name__ == "__main__":
    main()
