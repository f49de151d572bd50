#!/usr/bin/env python3
"""Kernel-side peers for the link-tun interop tests.

Runs inside a test's network namespace (ip netns exec NS python3 kernel.py CMD ...), uses the
Linux kernel's own sockets, and prints exactly one JSON line with what it saw. Every command is
bounded by --timeout seconds and by the byte counts it is given; nothing loops forever.

Commands:
  ping HOST [--count N] [--size B]          ICMP echo through a raw socket; verifies each reply
  udp-echo HOST PORT [--size B] [--count N] datagrams to an echo port; verifies each echo
  udp-refused HOST PORT                     connected UDP socket to a closed port -> ECONNREFUSED?
  tcp-echo HOST PORT --bytes N              send N bytes (threaded), read the echo, sha256 both
  tcp-sink HOST PORT --bytes N              upload N bytes, half-close, read "COUNT\\n"
  tcp-upload HOST PORT --bytes N            send N bytes, half-close, read the reply until EOF
  tcp-refused HOST PORT                     connect to a closed port -> ECONNREFUSED?
  tcp-rst HOST PORT --bytes N               send N bytes, then read: expects ECONNRESET
  tcp-many HOST PORT --conns C --bytes N    C concurrent connections, each echoing N bytes
  tcp-rr HOST PORT --rounds R --size B      request/response round trips (TCP_NODELAY)
  tcp-halfclose HOST PORT --bytes N         echo with SHUT_WR right after sending: data + EOF back
  serve-sha BIND PORT                       accept one connection, read to EOF, reply
                                            "<sha256> <count>\\n", close
  serve-send BIND PORT --bytes N            accept one connection, send N random bytes, close;
                                            reports the sha256 it sent
"""
import argparse
import hashlib
import json
import os
import select
import socket
import struct
import sys
import threading
import time

p = argparse.ArgumentParser()
p.add_argument("cmd")
p.add_argument("host")
p.add_argument("port", nargs="?", type=int, default=0)
p.add_argument("--count", type=int, default=3)
p.add_argument("--size", type=int, default=64)
p.add_argument("--bytes", type=int, default=1 << 20)
p.add_argument("--conns", type=int, default=10)
p.add_argument("--rounds", type=int, default=1000)
p.add_argument("--timeout", type=float, default=30.0)
a = p.parse_args()
DEADLINE = time.monotonic() + a.timeout


def left():
    return max(0.05, DEADLINE - time.monotonic())


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def out(**kw):
    print(json.dumps(kw), flush=True)
    sys.exit(0)


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def ping():
    v6 = family(a.host) == socket.AF_INET6
    if v6:
        s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.getprotobyname("ipv6-icmp"))
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    ident = os.getpid() & 0xFFFF
    ok = 0
    rtts = []
    for seq in range(1, a.count + 1):
        payload = bytes((seq + i) & 0xFF for i in range(a.size))
        typ = 128 if v6 else 8
        hdr = struct.pack("!BBHHH", typ, 0, 0, ident, seq)
        pkt = hdr + payload
        if not v6:  # the kernel fills in the ICMPv6 checksum itself
            pkt = struct.pack("!BBHHH", typ, 0, csum(pkt), ident, seq) + payload
        t0 = time.perf_counter()
        s.sendto(pkt, (a.host, 0))
        while True:
            r, _, _ = select.select([s], [], [], min(2.0, left()))
            if not r:
                break
            data, src = s.recvfrom(65535)
            if not v6:
                data = data[(data[0] & 0xF) * 4:]  # raw IPv4 sockets include the IP header
            if src[0] != a.host or len(data) < 8:
                continue
            t, code, _, rid, rseq = struct.unpack("!BBHHH", data[:8])
            if t == (129 if v6 else 0) and rid == ident and rseq == seq:
                if data[8:] == payload:
                    ok += 1
                    rtts.append((time.perf_counter() - t0) * 1000)
                break
    out(sent=a.count, received=ok, rtt_ms=[round(x, 3) for x in rtts])


def udp_echo():
    s = socket.socket(family(a.host), socket.SOCK_DGRAM)
    s.settimeout(2.0)
    ok = 0
    for i in range(a.count):
        msg = os.urandom(a.size)
        s.sendto(msg, (a.host, a.port))
        try:
            data, src = s.recvfrom(70000)
        except OSError:
            continue
        if data == msg and src[0] == a.host and src[1] == a.port:
            ok += 1
    out(sent=a.count, echoed=ok, size=a.size)


def udp_refused():
    s = socket.socket(family(a.host), socket.SOCK_DGRAM)
    s.settimeout(3.0)
    s.connect((a.host, a.port))
    s.send(b"is anybody there?")
    try:
        s.recv(100)
        out(error=None)
    except ConnectionRefusedError:
        out(error="ECONNREFUSED")
    except OSError as e:
        out(error=type(e).__name__ + ":" + str(e))


def connect():
    s = socket.socket(family(a.host), socket.SOCK_STREAM)
    s.settimeout(left())
    s.connect((a.host, a.port))
    return s


def tcp_refused():
    try:
        connect().close()
        out(error=None)
    except ConnectionRefusedError:
        out(error="ECONNREFUSED")
    except OSError as e:
        out(error=type(e).__name__ + ":" + str(e))


def tcp_echo(halfclose_early=False):
    data = os.urandom(a.bytes)
    s = connect()
    err = []

    def sender():
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except OSError as e:
            err.append(repr(e))

    t0 = time.perf_counter()
    th = threading.Thread(target=sender, daemon=True)
    th.start()
    h = hashlib.sha256()
    got = 0
    eof = False
    try:
        while True:
            s.settimeout(left())
            chunk = s.recv(1 << 20)
            if not chunk:
                eof = True
                break
            h.update(chunk)
            got += len(chunk)
    except OSError as e:
        err.append(repr(e))
    dt = time.perf_counter() - t0
    th.join(timeout=left())
    s.close()
    out(sent=a.bytes, received=got, eof=eof, sha_sent=hashlib.sha256(data).hexdigest(), sha_received=h.hexdigest(),
        seconds=round(dt, 4), mib_s=round(a.bytes / dt / (1 << 20), 2), error=err[0] if err else None)


def tcp_upload(expect_count=False):
    data = os.urandom(a.bytes)
    s = connect()
    t0 = time.perf_counter()
    err = None
    reply = b""
    try:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        while True:
            s.settimeout(left())
            chunk = s.recv(4096)
            if not chunk:
                break
            reply += chunk
    except OSError as e:
        err = repr(e)
    dt = time.perf_counter() - t0
    s.close()
    out(sent=a.bytes, sha_sent=hashlib.sha256(data).hexdigest(), reply=reply.decode("latin1"),
        seconds=round(dt, 4), mib_s=round(a.bytes / dt / (1 << 20), 2), error=err)


def tcp_rst():
    s = connect()
    s.sendall(os.urandom(a.bytes))
    try:
        while True:
            s.settimeout(left())
            if not s.recv(4096):
                out(error="EOF")
    except ConnectionResetError:
        out(error="ECONNRESET")
    except OSError as e:
        out(error=type(e).__name__ + ":" + str(e))


def tcp_many():
    n = a.conns
    socks = []
    for _ in range(n):
        socks.append(connect())
    datas = [os.urandom(a.bytes) for _ in range(n)]
    for s in socks:
        s.setblocking(False)
    sent = [0] * n
    recv = [bytearray() for _ in range(n)]
    done = [False] * n
    fd2i = {s.fileno(): i for i, s in enumerate(socks)}
    poll = select.poll()
    for s in socks:
        poll.register(s, select.POLLIN | select.POLLOUT)
    while not all(done) and time.monotonic() < DEADLINE:
        for fd, ev in poll.poll(int(left() * 1000)):
            i = fd2i[fd]
            s = socks[i]
            if ev & select.POLLOUT and sent[i] < a.bytes:
                try:
                    sent[i] += s.send(datas[i][sent[i]:sent[i] + 65536])
                except BlockingIOError:
                    pass
                if sent[i] == a.bytes:
                    s.shutdown(socket.SHUT_WR)
                    poll.modify(s, select.POLLIN)
            if ev & (select.POLLIN | select.POLLHUP | select.POLLERR):
                try:
                    chunk = s.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    done[i] = True
                    poll.unregister(s)
                    continue
                if not chunk:
                    done[i] = True
                    poll.unregister(s)
                else:
                    recv[i] += chunk
    good = sum(1 for i in range(n) if bytes(recv[i]) == datas[i] and done[i])
    for s in socks:
        s.close()
    out(conns=n, verified=good, finished=sum(done))


def tcp_rr():
    s = connect()
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    msg = os.urandom(a.size)
    ok = 0
    t0 = time.perf_counter()
    for _ in range(a.rounds):
        if time.monotonic() > DEADLINE:
            break
        s.sendall(msg)
        got = b""
        while len(got) < a.size:
            s.settimeout(left())
            chunk = s.recv(a.size - len(got))
            if not chunk:
                break
            got += chunk
        if got != msg:
            break
        ok += 1
    dt = time.perf_counter() - t0
    s.close()
    out(rounds=a.rounds, ok=ok, seconds=round(dt, 4), per_second=round(ok / dt, 1))


def serve(handler):
    fam = family(a.host)
    ls = socket.socket(fam, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((a.host, a.port))
    ls.listen(8)
    print(json.dumps({"listening": True}), flush=True)
    ls.settimeout(left())
    c, peer = ls.accept()
    c.settimeout(left())
    handler(c, peer)


def serve_sha():
    def h(c, peer):
        hh = hashlib.sha256()
        n = 0
        while True:
            c.settimeout(left())
            chunk = c.recv(1 << 20)
            if not chunk:
                break
            hh.update(chunk)
            n += len(chunk)
        c.sendall(("%s %d\n" % (hh.hexdigest(), n)).encode())
        c.close()
        out(peer=peer[0], received=n, sha_received=hh.hexdigest())
    serve(h)


def serve_send():
    def h(c, peer):
        data = os.urandom(a.bytes)
        c.sendall(data)
        c.close()
        out(peer=peer[0], sent=a.bytes, sha_sent=hashlib.sha256(data).hexdigest())
    serve(h)


cmds = {
    "ping": ping, "udp-echo": udp_echo, "udp-refused": udp_refused, "tcp-echo": tcp_echo,
    "tcp-sink": lambda: tcp_upload(True), "tcp-upload": tcp_upload, "tcp-refused": tcp_refused,
    "tcp-rst": tcp_rst, "tcp-many": tcp_many, "tcp-rr": tcp_rr, "tcp-halfclose": tcp_echo,
    "serve-sha": serve_sha, "serve-send": serve_send,
}
if a.cmd not in cmds:
    sys.exit("unknown command " + a.cmd)
cmds[a.cmd]()
