/** How native errno failures become one-line LinkTunErrors with a code and a remedy. */
import { describe, expect, it } from "vitest";
import { configError, openError } from "../src/errors.js";

function errno(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

describe("openError", () => {
  it.each([
    [errno("ENOENT", "open /dev/net/tun: No such file or directory (ENOENT)"), "no-tun-device", /no \/dev\/net\/tun.*modprobe tun/],
    [errno("EACCES", "open /dev/net/tun: Permission denied (EACCES)"), "permission-denied", /root or grant CAP_NET_ADMIN/],
    [errno("EPERM", "ioctl TUNSETIFF: Operation not permitted (EPERM)"), "permission-denied", /TUN device "t0".*needs root or CAP_NET_ADMIN/],
    [errno("EBUSY", "ioctl TUNSETIFF: Device or resource busy (EBUSY)"), "device-busy", /TUN device "t0" is busy/],
    [errno("EINVAL", "ioctl TUNSETIFF: Invalid argument (EINVAL)"), "device-mismatch", /another type or flags/],
    [errno("EINVALNAME", 'invalid interface name "a/b"'), "invalid-name", /invalid interface name/],
  ])("%s -> %s", (err, code, msg) => {
    const e = openError(err, "t0", "tun");
    expect(e.code).toBe(code);
    expect(e.message).toMatch(msg);
    expect(e.message).not.toContain("\n");
  });
});

describe("configError", () => {
  it("names the interface and what was being set", () => {
    const e = configError(errno("ENODEV", "SIOCSIFMTU x: No such device (ENODEV)"), "x", "MTU 9000");
    expect(e.code).toBe("config-failed");
    expect(e.message).toBe('cannot set MTU 9000: no interface "x" in this network namespace');
  });
});
