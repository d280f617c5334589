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
An authoritative server that counts, for the SPF amplification test:
zone:      dnsstub.py ADDR PORT zone ZONEFILE QUERYLOG answers from
           ZONEFILE ("name TYPE data" lines; A, AAAA, MX "pref host", TXT
           split into strings of 255 bytes; names case-insensitive) and
           appends "TYPE name" to QUERYLOG for every query it receives.
           A name not in the file does not exist (NXDOMAIN); a name in it
           has no data for the types it lacks.
Standard library only; runs until killed.
"""
import os
import socket
import sys


TYPES = {'A': 1, 'MX': 15, 'TXT': 16, 'AAAA': 28}


def load_zone(path):
    zone = {}
    with open(path) as f:
        for line in f:
            parts = line.rstrip('\n').split(' ', 2)
            if len(parts) == 3:
                zone.setdefault(parts[0].lower().rstrip('.'), []).append((parts[1], parts[2]))
    return zone


def qname(q):
    """The question's name (dotted, lower case), its type, and where the question ends."""
    labels, i = [], 12
    while i < len(q) and q[i] != 0:
        labels.append(q[i + 1:i + 1 + q[i]].decode('latin-1'))
        i += 1 + q[i]
    return '.'.join(labels).lower(), int.from_bytes(q[i + 1:i + 3], 'big'), i + 5


def wire_name(name):
    return b''.join(bytes([len(l)]) + l.encode('latin-1') for l in name.split('.') if l) + b'\0'


def rdata(rtype, data):
    if rtype == 'A':
        return socket.inet_pton(socket.AF_INET, data)
    if rtype == 'AAAA':
        return socket.inet_pton(socket.AF_INET6, data)
    if rtype == 'MX':
        pref, host = data.split(' ', 1)
        return int(pref).to_bytes(2, 'big') + wire_name(host)
    raw = data.encode('latin-1')
    return b''.join(bytes([len(raw[i:i + 255])]) + raw[i:i + 255] for i in range(0, max(len(raw), 1), 255))


def zone_answer(q, zone, log):
    name, qtype, end = qname(q)
    log.write('%s %s\n' % ({v: k for k, v in TYPES.items()}.get(qtype, str(qtype)), name))
    log.flush()
    recs = zone.get(name)
    rcode = 3 if recs is None else 0
    rrs = [b'\xc0\x0c' + qtype.to_bytes(2, 'big') + b'\x00\x01\x00\x00\x00\x3c' +
           len(rd).to_bytes(2, 'big') + rd
           for rd in (rdata(t, d) for t, d in (recs or []) if TYPES.get(t) == qtype)]
    flags = 0x8000 | 0x0400 | (q[2] << 8 & 0x0100) | rcode
    return q[:2] + flags.to_bytes(2, 'big') + b'\x00\x01' + len(rrs).to_bytes(2, 'big') + b'\0' * 4 + \
        q[12:end] + b''.join(rrs)


def main():
    addr, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    family = socket.AF_INET6 if ':' in addr else socket.AF_INET
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.bind((addr, port))
    if mode == 'zone':
        zone, log = load_zone(sys.argv[4]), open(sys.argv[5], 'a')
        while True:
            data, peer = s.recvfrom(4096)
            if len(data) >= 17:
                s.sendto(zone_answer(data, zone, log), peer)
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
