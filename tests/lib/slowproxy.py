#!/usr/bin/env python3
"""slowproxy - a TCP relay that slows the client-to-server direction.

    slowproxy.py LISTEN_PORT SERVER_PORT BYTES_PER_SECOND

Listens on 127.0.0.1:LISTEN_PORT and joins each connection to
127.0.0.1:SERVER_PORT, passing at most BYTES_PER_SECOND from the client to
the server (replies pass at once).  Used to keep a large message "in the
middle of DATA" long enough for a test to act there, deterministically.
When either side closes or fails, both are closed.  Stops by itself after
five minutes.
"""
import socket
import sys
import threading
import time


def pump(src, dst, rate):
    try:
        while True:
            data = src.recv(16384 if rate == 0 else max(1, min(16384, rate // 20)))
            if not data:
                break
            dst.sendall(data)
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


def main():
    listen_port, server_port, rate = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
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
        threading.Thread(target=pump, args=(c, s, rate), daemon=True).start()
        threading.Thread(target=pump, args=(s, c, 0), daemon=True).start()


if __name__ == "__main__":
    main()
