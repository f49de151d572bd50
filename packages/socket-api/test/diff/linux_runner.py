#!/usr/bin/env python3
"""Runs socket scenarios against the Linux kernel (the differential tests' reference side).

Input: a JSON file with compiled scenarios (every constant already a number). Output (stdout):
JSON {name: [result, ...]} with one result per op: {"ret": value} or {"err": errno}.
Meant to run inside a throwaway network namespace with only loopback up; every address the
scenarios use is 127.0.0.1 / ::ffff:127.0.0.1 there. All sockets are non-blocking unless an op
asks for a blocking one, so nothing here can hang; the whole run is bounded by the caller.
"""
import ctypes
import errno
import fcntl
import json
import select
import socket
import struct
import sys
import time

libc = ctypes.CDLL(None, use_errno=True)
LOCAL4 = "127.0.0.1"
EPHEMERAL_MIN = 32768


def norm_addr(a):
    if a in (LOCAL4,):
        return "H"
    if a == "::ffff:" + LOCAL4:
        return "::ffff:H"
    return a


BASE = [0]


def norm_port(p):
    if p >= EPHEMERAL_MIN:
        return "EPH"
    if BASE[0] <= p < BASE[0] + 10:
        return "P%d" % (p - BASE[0])
    return p


def addr_out(sa):
    if sa is None:
        return None
    if isinstance(sa, tuple) and len(sa) >= 2:
        return [norm_addr(sa[0]), norm_port(sa[1])]
    return str(sa)


def resolve(family, spec):
    if spec in ("self", "peer"):
        return LOCAL4 if family == socket.AF_INET else "::ffff:" + LOCAL4
    if spec in ("mapped-self", "mapped-peer"):
        return "::ffff:" + LOCAL4
    if spec == "any":
        return "0.0.0.0" if family == socket.AF_INET else "::"
    return spec


def sockaddr(family, spec, port):
    a = resolve(family, spec)
    return (a, port) if family == socket.AF_INET else (a, port, 0, 0)


def settle():
    time.sleep(0.003)


def run(scn):
    BASE[0] = scn["base"]
    socks = {}
    out = []

    def one(op):
        k = op["op"]
        s = socks.get(op.get("id"))
        if k == "socket":
            t = op["type"] | (0 if op.get("block") else socket.SOCK_NONBLOCK)
            socks[op["id"]] = socket.socket(op["family"], t, op.get("proto", 0))
            return "ok"
        if k == "socket_raw":
            fd = libc.socket(op["family"], op["type"], op.get("proto", 0))
            if fd < 0:
                raise OSError(ctypes.get_errno(), "socket")
            socks[op["id"]] = socket.socket(fileno=fd)
            return "ok"
        if k == "close":
            s.close()
            settle()
            return "ok"
        if k == "bind":
            s.bind(sockaddr(s.family, op["addr"], op["port"]))
            return "ok"
        if k == "bind_raw" or k == "connect_raw":
            raw = bytes.fromhex(op["hex"])
            buf = ctypes.create_string_buffer(raw, len(raw))
            fn = libc.bind if k == "bind_raw" else libc.connect
            r = fn(s.fileno(), buf, len(raw))
            if r < 0:
                raise OSError(ctypes.get_errno(), k)
            settle()
            return r
        if k == "listen":
            s.listen(op.get("backlog", 16))
            return "ok"
        if k == "accept":
            fd = libc.accept4(s.fileno(), None, None, op.get("flags", 0) | socket.SOCK_NONBLOCK)
            if fd < 0:
                raise OSError(ctypes.get_errno(), "accept")
            socks[op["as"]] = socket.socket(fileno=fd)
            return "ok"
        if k == "connect":
            try:
                s.connect(sockaddr(s.family, op["addr"], op["port"]))
            finally:
                settle()
            return "ok"
        if k == "shutdown":
            s.shutdown(op["how"])
            settle()
            return "ok"
        if k == "send":
            data = bytes.fromhex(op["hex"])
            r = s.send(data, op.get("flags", 0))
            settle()
            return r
        if k == "sendto":
            data = bytes.fromhex(op["hex"])
            r = s.sendto(data, op.get("flags", 0), sockaddr(s.family, op["addr"], op["port"]))
            settle()
            return r
        if k == "sendmsg":
            bufs = [bytes.fromhex(h) for h in op["hexes"]]
            r = s.sendmsg(bufs, [], op.get("flags", 0))
            settle()
            return r
        if k in ("recv", "recvfrom", "recvmsg"):
            # recvmsg_into always makes the syscall (Python's recv/recv_into skip it for 0 bytes).
            n = op["len"]
            buf = bytearray(n)
            r, anc, mflags, addr = s.recvmsg_into([buf], op.get("anc", 0), op.get("flags", 0))
            data = bytes(buf[: min(r, n)]).hex()
            dgram = s.type == socket.SOCK_DGRAM
            if k == "recv":
                return {"n": r, "data": data}
            if k == "recvfrom":
                return {"n": r, "data": data, "addr": addr_out(addr) if dgram else None}
            res = {"n": r, "data": data, "flags": mflags, "cmsg": [[lvl, typ, bytes(d).hex()] for (lvl, typ, d) in anc]}
            if dgram:
                res["addr"] = addr_out(addr)
            return res
        if k == "getsockopt":
            n = op["len"]
            buf = ctypes.create_string_buffer(max(n, 1))
            ln = ctypes.c_uint32(n)
            r = libc.getsockopt(s.fileno(), op["level"], op["name"], buf, ctypes.byref(ln))
            if r < 0:
                raise OSError(ctypes.get_errno(), "getsockopt")
            return buf.raw[: ln.value].hex()
        if k == "getsockopt_int":
            return s.getsockopt(op["level"], op["name"])
        if k == "setsockopt":
            if "hex" in op:
                s.setsockopt(op["level"], op["name"], bytes.fromhex(op["hex"]))
            else:
                s.setsockopt(op["level"], op["name"], op["value"])
            return "ok"
        if k == "getsockname":
            return addr_out(s.getsockname())
        if k == "getpeername":
            return addr_out(s.getpeername())
        if k == "ioctl_int":
            buf = bytearray(struct.pack("i", op.get("value", 0)))
            fcntl.ioctl(s.fileno(), op["req"], buf, True)
            return struct.unpack("i", bytes(buf))[0]
        if k == "ioctl_hex":
            buf = bytearray(bytes.fromhex(op["hex"]))
            fcntl.ioctl(s.fileno(), op["req"], buf, True)
            return bytes(buf).hex()
        if k == "poll":
            p = select.poll()
            p.register(s.fileno(), op["events"])
            ev = p.poll(op.get("timeout", 0))
            return ev[0][1] if ev else 0
        if k == "settle":
            time.sleep(0.02)
            return "ok"
        raise ValueError("unknown op " + k)

    for op in scn["ops"]:
        try:
            out.append({"ret": one(op)})
        except OSError as e:
            out.append({"err": e.errno})
        except AttributeError:
            # An op on a socket an earlier op failed to create: a bad file descriptor.
            if op.get("id") in socks:
                raise
            out.append({"err": errno.EBADF})
    for s in socks.values():
        try:
            s.close()
        except OSError:
            pass
    return out


def main():
    with open(sys.argv[1]) as f:
        scenarios = json.load(f)
    results = {}
    for scn in scenarios:
        results[scn["name"]] = run(scn)
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
