#!/usr/bin/env python3
"""dnsstub.py ADDR PORT MODE - a broken DNS server for tests.

servfail:  answers every UDP query with SERVFAIL (RCODE 2), as a recursive
           resolver does when the sender's name servers fail.
silent:    reads every query and never answers, as an unreachable or
           overloaded server looks to a client.
Garbage, as a hostile or broken server sends it:
noise:     random bytes of random length (0 to 600);
wrongid:   a well-formed TXT answer whose ID is not the query's;
truncated: the TC bit set and no records (the client would retry over
           TCP, where nothing listens);
cutrr:     a header promising one TXT answer whose record stops halfway;
hugetxt:   one TXT record of 60 strings of 255 bytes (about 15 kB, more
           than a UDP answer may carry without EDNS).
Standard library only; runs until killed.
"""
import os
import socket
import sys


def main():
    addr, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    family = socket.AF_INET6 if ':' in addr else socket.AF_INET
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.bind((addr, port))
    while True:
        data, peer = s.recvfrom(4096)
        if mode == 'silent' or len(data) < 12:
            continue
        if mode == 'noise':
            s.sendto(os.urandom(int.from_bytes(os.urandom(2), 'big') % 601), peer)
            continue
        s.sendto(answer(data, mode)[:65000], peer)


def answer(q, mode):
    """The reply to query q: same ID and question unless the mode says otherwise."""
    rd = q[2] << 8 & 0x0100
    question = q[12:]
    if mode == 'servfail':
        # QR=1, RD and RA kept, RCODE=2, no records.
        return q[:2] + (0x8000 | rd | 0x0080 | 2).to_bytes(2, 'big') + q[4:6] + b'\0' * 6 + question
    if mode == 'truncated':
        return q[:2] + (0x8000 | 0x0200 | rd | 0x0080).to_bytes(2, 'big') + q[4:6] + b'\0' * 6 + question
    if mode == 'hugetxt':
        rdata = b''.join(bytes([255]) + b'x' * 255 for _ in range(60))
    else:
        rdata = b'\x0ev=spf1 +all ok'
    rr = b'\xc0\x0c' + b'\x00\x10\x00\x01' + b'\x00\x00\x01\x2c' + len(rdata).to_bytes(2, 'big') + rdata
    if mode == 'cutrr':
        rr = rr[:len(rr) // 2]
    ident = q[:2] if mode != 'wrongid' else bytes([q[0] ^ 0x5a, q[1] ^ 0xa5])
    return ident + (0x8000 | rd | 0x0080).to_bytes(2, 'big') + q[4:6] + b'\x00\x01' + b'\0' * 4 + question + rr


if __name__ == '__main__':
    main()
