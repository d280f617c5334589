#!/usr/bin/env python3
"""dnsdelay - a UDP DNS forwarder that holds every query for a fixed time.

    dnsdelay.py LISTEN_ADDR UPSTREAM_ADDR DELAY_MS

Listens on LISTEN_ADDR:53 (UDP), waits DELAY_MS, then forwards the query
unchanged to UPSTREAM_ADDR:53 and relays the answer back: a resolver on
the internet, for the benchmark's DNS-latency variants.  Queries are held
independently (one timer and one upstream socket each), so concurrent
lookups are not serialised here: whatever serialises them is the filter's.
The kernel of the benchmark machine has no netem qdisc, which would be the
simpler way.  Prints "ready" once listening.
"""
import asyncio
import socket
import sys


class Delay(asyncio.DatagramProtocol):
    def __init__(self, upstream, delay):
        self.upstream = upstream
        self.delay = delay
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        loop = asyncio.get_running_loop()
        loop.call_later(self.delay, lambda: loop.create_task(self.forward(data, addr)))

    async def forward(self, data, addr):
        loop = asyncio.get_running_loop()
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setblocking(False)
        try:
            s.connect((self.upstream, 53))
            await loop.sock_sendall(s, data)
            answer = await asyncio.wait_for(loop.sock_recv(s, 65535), 5)
            self.transport.sendto(answer, addr)
        except (OSError, asyncio.TimeoutError):
            pass  # the client times out and retries, as with a lost packet
        finally:
            s.close()


async def main():
    listen, upstream, delay_ms = sys.argv[1], sys.argv[2], float(sys.argv[3])
    loop = asyncio.get_running_loop()
    await loop.create_datagram_endpoint(lambda: Delay(upstream, delay_ms / 1000.0),
                                        local_addr=(listen, 53))
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: dnsdelay.py LISTEN_ADDR UPSTREAM_ADDR DELAY_MS")
    asyncio.run(main())
