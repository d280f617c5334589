#!/usr/bin/env python3
"""The scrub corpus (tests/corpus/scrub-headers.txt) for integration tests.

  scrubcorpus.py build CORPUS MSGID      the corpus as one message, on stdout
  scrubcorpus.py check CORPUS FILE       FILE (as delivered) against the corpus:
                                         every "remove" entry absent, every
                                         "keep" entry present line for line
  scrubcorpus.py sign KEY HEADER...      stdin signed for example.com (selector
                                         hm), h= the headers named
  scrubcorpus.py verify KEY              stdin's DKIM signature against KEY's
                                         public half (no DNS)
"""
import base64
import subprocess
import sys


def entries(path):
    out, cur = [], None
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\r\n")
        if line.startswith("#"):
            continue
        if not line:
            cur = None
            continue
        if cur is None and (line.startswith("remove ") or line.startswith("keep ")):
            verdict, rest = line.split(" ", 1)
            cur = {"remove": verdict == "remove", "id": rest.split(":", 1)[0], "lines": []}
            out.append(cur)
        elif cur is not None:
            cur["lines"].append(line)
    return out


def header_fields(path):
    """The header fields of a stored message, each as its list of lines."""
    data = open(path, "rb").read().decode("utf-8", "surrogateescape").replace("\r\n", "\n")
    fields = []
    for line in data.split("\n\n", 1)[0].split("\n"):
        if line[:1] in (" ", "\t") and fields:
            fields[-1].append(line)
        else:
            fields.append([line])
    return fields


def main():
    mode = sys.argv[1]
    if mode == "build":
        out = sys.stdout.buffer
        out.write(b"From: Alice <alice@example.com>\r\nTo: friend@outside.example\r\n")
        out.write(b"Date: Tue, 01 Dec 2026 10:00:00 +0000\r\n")
        out.write(("Message-Id: <%s>\r\n" % sys.argv[3]).encode())
        for e in entries(sys.argv[2]):
            out.write(("\r\n".join(e["lines"]) + "\r\n").encode("utf-8"))
        out.write(b"\r\nThe corpus.\r\n")
        return 0
    if mode == "check":
        got = header_fields(sys.argv[3])
        es = entries(sys.argv[2])
        bad = 0
        for e in es:
            there = e["lines"] in got
            if there == e["remove"]:
                bad += 1
                print("%s: %s" % (e["id"], "still there" if there else "missing"))
        print("%d entries, %d wrong" % (len(es), bad))
        return 1 if bad else 0
    import dkim
    key = sys.argv[2]
    if mode == "sign":
        msg = sys.stdin.buffer.read()
        d = dkim.DKIM(msg)
        # dkimpy refuses to sign Received by default; a core may sign it anyway.
        d.should_not_sign.discard(b"received")
        sig = d.sign(b"hm", b"example.com", open(key, "rb").read(),
                     include_headers=[h.lower().encode() for h in sys.argv[3:]])
        sys.stdout.buffer.write(sig + msg)
        return 0
    if mode == "verify":
        der = subprocess.run(["openssl", "rsa", "-in", key, "-pubout", "-outform", "der"],
                             capture_output=True, check=True).stdout
        txt = b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)
        return 0 if dkim.verify(sys.stdin.buffer.read(), dnsfunc=lambda name, timeout=5: txt) else 1
    print("unknown mode " + mode, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
