#!/usr/bin/env python3
"""dnsstub.py ADDR PORT servfail|silent - a broken DNS server for tests.

servfail: answers every UDP query with SERVFAIL (RCODE 2), as a recursive
          resolver does when the sender's name servers fail.
silent:   reads every query and never answers, as an unreachable or
          overloaded server looks to a client.
Standard library only; runs until killed.
"""
import socket
import sys


def main():
    addr, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    family = socket.AF_INET6 if ':' in addr else socket.AF_INET
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.bind((addr, port))
    while True:
        data, peer = s.recvfrom(4096)
        if mode != 'servfail' or len(data) < 12:
            continue
        # Same id and question; QR=1, RD and RA kept, RCODE=2, no records.
        flags = 0x8000 | (data[2] << 8 & 0x0100) | 0x0080 | 2
        s.sendto(data[:2] + flags.to_bytes(2, 'big') + data[4:6] + b'\0' * 6 + data[12:],
                 peer)


if __name__ == '__main__':
    main()
