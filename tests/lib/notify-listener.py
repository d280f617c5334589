#!/usr/bin/env python3
"""notify-listener.py SOCKET LOG [WATCH]: systemd's side of sd_notify.

Binds the datagram socket SOCKET (what systemd passes as NOTIFY_SOCKET),
open to every user as systemd's is, and appends each notification to LOG,
one line per message ("READY=1", "RELOADING=1"...; several assignments in
one message are joined by spaces).  With WATCH, every line ends in
" watch=yes" or " watch=no": whether WATCH (e.g. the milter's socket)
existed when the message arrived, so a test can tell that READY=1 came
only once the filter listened.  Prints "ready" once bound; runs until
killed.
"""
import os
import socket
import sys

path, log = sys.argv[1], sys.argv[2]
watch = sys.argv[3] if len(sys.argv) > 3 else None
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o666)
print("ready", flush=True)
with open(log, "a", buffering=1) as f:
    while True:
        msg = s.recv(4096).decode("utf-8", "replace").strip().replace("\n", " ")
        if watch is not None:
            msg += " watch=" + ("yes" if os.path.exists(watch) else "no")
        f.write(msg + "\n")
