#!/usr/bin/env python3
"""Kernel-side peer of the TUN benchmarks (bench/tun.ts). Runs inside a bench namespace only.

Client commands print one JSON line with the timing and what was verified:
  sink HOST --bytes N      send N pattern bytes to port 8, half-close, expect "N\\n" back
  download HOST --bytes N  ask port 9 for N bytes, check their sha256 against the pattern
  echo HOST --bytes N      send N bytes to port 7 (threaded) and check the echo's sha256
  rr HOST --rounds R       64-byte round trips on port 7 (TCP_NODELAY), each checked;
                           median and p99 latency
Server (the kernel reference, same wire contract):
  serve HOST               echo on 7, sink on 8, source on 9; threads per connection
Everything is bounded by --timeout seconds and by the byte counts given.

Pattern: stream offset i carries BLOCK[i % 65536], BLOCK[k] = (k*131 + (k>>8)*7) & 255
(bench/tun/pattern.ts builds the same).
"""
import argparse
import hashlib
import json
import socket
import sys
import threading
import time

p = argparse.ArgumentParser()
p.add_argument("cmd")
p.add_argument("host")
p.add_argument("--bytes", type=int, default=1 << 20)
p.add_argument("--rounds", type=int, default=1000)
p.add_argument("--size", type=int, default=64)
p.add_argument("--timeout", type=float, default=60.0)
a = p.parse_args()
DEADLINE = time.monotonic() + a.timeout
BLOCK = bytes(((k * 131 + (k >> 8) * 7) & 255) for k in range(65536))
BIG = BLOCK * 16  # 1 MiB, a whole number of blocks


def left():
    r = DEADLINE - time.monotonic()
    if r <= 0:
        raise TimeoutError("bench peer time limit")
    return r


def out(**kw):
    print(json.dumps(kw), flush=True)
    sys.exit(0)


def expected_sha(n):
    h = hashlib.sha256()
    while n > 0:
        k = min(n, len(BIG))
        h.update(BIG[:k])
        n -= k
    return h.hexdigest()


def send_pattern(s, n):
    mv = memoryview(BIG)
    while n > 0:
        k = min(n, len(BIG))
        s.settimeout(left())
        s.sendall(mv[:k])
        n -= k


def connect(port):
    s = socket.create_connection((a.host, port), timeout=left())
    return s


def recv_all_hash(s):
    h = hashlib.sha256()
    buf = bytearray(1 << 20)
    mv = memoryview(buf)
    n = 0
    while True:
        s.settimeout(left())
        k = s.recv_into(buf)
        if k == 0:
            break
        h.update(mv[:k])
        n += k
    return n, h.hexdigest()


def sink():
    t0 = time.perf_counter()
    s = connect(8)
    send_pattern(s, a.bytes)
    s.shutdown(socket.SHUT_WR)
    reply = b""
    while not reply.endswith(b"\n"):
        s.settimeout(left())
        c = s.recv(64)
        if not c:
            break
        reply += c
    dt = time.perf_counter() - t0
    s.close()
    ok = reply.strip() == str(a.bytes).encode()
    out(test="sink", bytes=a.bytes, verified=ok, reply=reply.decode("latin1").strip(), seconds=dt)


def download():
    want = expected_sha(a.bytes)
    t0 = time.perf_counter()
    s = connect(9)
    s.sendall(b"%d\n" % a.bytes)
    n, sha = recv_all_hash(s)
    dt = time.perf_counter() - t0
    s.close()
    out(test="download", bytes=a.bytes, received=n, verified=(n == a.bytes and sha == want), seconds=dt)


def echo():
    want = expected_sha(a.bytes)
    t0 = time.perf_counter()
    s = connect(7)
    err = []

    def sender():
        try:
            send_pattern(s, a.bytes)
            s.shutdown(socket.SHUT_WR)
        except Exception as e:  # reported in the result
            err.append(repr(e))

    t = threading.Thread(target=sender, daemon=True)
    t.start()
    n, sha = recv_all_hash(s)
    t.join(timeout=left())
    dt = time.perf_counter() - t0
    s.close()
    out(test="echo", bytes=a.bytes, received=n, verified=(not err and n == a.bytes and sha == want), error=err,
        seconds=dt)


def rr():
    s = connect(7)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    msg = BLOCK[:a.size]
    lat = []
    ok = True
    s.settimeout(left())
    t0 = time.perf_counter()
    for _ in range(a.rounds):
        if time.monotonic() > DEADLINE:
            ok = False
            break
        t = time.perf_counter()
        s.sendall(msg)
        got = b""
        while len(got) < a.size:
            c = s.recv(a.size - len(got))
            if not c:
                break
            got += c
        lat.append(time.perf_counter() - t)
        if got != msg:
            ok = False
            break
    dt = time.perf_counter() - t0
    s.close()
    lat.sort()
    def pct(q):
        return lat[min(len(lat) - 1, int(len(lat) * q))] * 1e6 if lat else 0

    out(test="rr", rounds=len(lat), verified=ok and len(lat) == a.rounds, seconds=dt,
        median_us=pct(0.5), p99_us=pct(0.99), p90_us=pct(0.9), p999_us=pct(0.999), max_us=pct(1.0),
        mean_us=sum(lat) / len(lat) * 1e6 if lat else 0,
        # time spent in round trips slower than 4x the median, as a share of all round-trip time
        slow_share=sum(x for x in lat if x > 4 * lat[len(lat) // 2]) / sum(lat) if lat else 0)


def serve():
    def handle(port, c):
        try:
            c.settimeout(left())
            if port == 7:
                c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                buf = bytearray(1 << 20)
                mv = memoryview(buf)
                while True:
                    k = c.recv_into(buf)
                    if k == 0:
                        break
                    c.sendall(mv[:k])
            elif port == 8:
                buf = bytearray(1 << 20)
                n = 0
                while True:
                    k = c.recv_into(buf)
                    if k == 0:
                        break
                    n += k
                c.sendall(b"%d\n" % n)
            else:
                hdr = b""
                while not hdr.endswith(b"\n"):
                    ch = c.recv(1)
                    if not ch:
                        return
                    hdr += ch
                send_pattern(c, int(hdr))
            c.shutdown(socket.SHUT_WR)
        except Exception:
            pass
        finally:
            c.close()

    def listen(port):
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((a.host, port))
        ls.listen(16)
        while True:
            ls.settimeout(left())
            c, _ = ls.accept()
            threading.Thread(target=handle, args=(port, c), daemon=True).start()

    for port in (7, 8, 9):
        threading.Thread(target=listen, args=(port,), daemon=True).start()
    print("READY kernel", flush=True)
    while time.monotonic() < DEADLINE:
        time.sleep(0.2)


cmds = {"sink": sink, "download": download, "echo": echo, "rr": rr, "serve": serve}
if a.cmd not in cmds:
    sys.exit("unknown command " + a.cmd)
try:
    cmds[a.cmd]()
except Exception as e:
    out(test=a.cmd, verified=False, error=repr(e))
