/**
 * The errors link-tun reports, each a single readable line: what went wrong and what to do.
 * Native calls throw Errors whose `code` is an errno name ("EPERM", "EBUSY", ...); `tunError`
 * turns them into a LinkTunError with one of the codes below.
 */

export type LinkTunErrorCode =
  /** The native addon is missing (not built, or built for another Node). */
  | "addon-not-built"
  /** /dev/net/tun does not exist (no tun driver, or a container without the device). */
  | "no-tun-device"
  /** Opening or configuring needs root or CAP_NET_ADMIN. */
  | "permission-denied"
  /** Another process holds the device (and it is not multi-queue). */
  | "device-busy"
  /** The interface name is not one the kernel accepts. */
  | "invalid-name"
  /** An existing interface of that name is of another kind (TAP vs TUN, flags). */
  | "device-mismatch"
  /** Interface configuration (MTU, up, address) failed. */
  | "config-failed"
  /** A feature that is not available (yet), or not on this platform. */
  | "unsupported"
  /** Reading or writing the device failed (the device went away). */
  | "io-error";

export class LinkTunError extends Error {
  override readonly name = "LinkTunError";
  constructor(
    readonly code: LinkTunErrorCode,
    message: string,
    /** The errno name behind it, when there is one ("EPERM"). */
    readonly errno: string | null = null,
  ) {
    super(message);
  }
}

/** How to build the addon by hand (printed in "addon not built" errors). */
export const BUILD_HINT = "node packages/link-tun/scripts/build-addon.mjs --force";

function errnoOf(err: unknown): string | null {
  if (err && typeof err === "object" && "code" in err && typeof (err as { code: unknown }).code === "string")
    return (err as { code: string }).code;
  return null;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Maps a failure to open/attach device `name` (mode "tun" or "tap") to a LinkTunError. */
export function openError(err: unknown, name: string, mode: "tun" | "tap"): LinkTunError {
  if (err instanceof LinkTunError) return err;
  const code = errnoOf(err);
  const msg = messageOf(err);
  const dev = name === "" ? `a ${mode.toUpperCase()} device` : `${mode.toUpperCase()} device "${name}"`;
  if (code === "EINVALNAME") return new LinkTunError("invalid-name", msg, "EINVAL");
  if (msg.startsWith("open /dev/net/tun")) {
    if (code === "ENOENT" || code === "ENODEV" || code === "ENXIO")
      return new LinkTunError("no-tun-device",
        "no /dev/net/tun: the TUN/TAP driver is missing (load it with `modprobe tun`, or give the container the device)", code);
    if (code === "EPERM" || code === "EACCES")
      return new LinkTunError("permission-denied",
        "permission denied opening /dev/net/tun: run as root or grant CAP_NET_ADMIN", code);
  }
  switch (code) {
    case "EPERM":
    case "EACCES":
      return new LinkTunError("permission-denied",
        `permission denied creating ${dev}: needs root or CAP_NET_ADMIN (or a device made persistent for this user)`, code);
    case "EBUSY":
      return new LinkTunError("device-busy",
        `${dev} is busy: another process has it open (open it with multiQueue on both sides to share it)`, code);
    case "EINVAL":
      return new LinkTunError("device-mismatch",
        `cannot attach to ${dev}: an interface of that name exists with another type or flags (TUN vs TAP, multi-queue), or the name is invalid`, code);
    case "ENOENT":
    case "ENODEV":
    case "ENXIO":
      return new LinkTunError("no-tun-device", `no TUN/TAP support: ${msg}`, code);
    default:
      return new LinkTunError("io-error", `cannot open ${dev}: ${msg}`, code);
  }
}

/** Maps a failed interface configuration step to a LinkTunError. */
export function configError(err: unknown, name: string, what: string): LinkTunError {
  if (err instanceof LinkTunError) return err;
  const code = errnoOf(err);
  if (code === "EINVALNAME") return new LinkTunError("invalid-name", messageOf(err), "EINVAL");
  if (code === "EPERM" || code === "EACCES")
    return new LinkTunError("permission-denied", `permission denied setting ${what} on "${name}": needs root or CAP_NET_ADMIN`, code);
  if (code === "ENODEV")
    return new LinkTunError("config-failed", `cannot set ${what}: no interface "${name}" in this network namespace`, code);
  return new LinkTunError("config-failed", `cannot set ${what} on "${name}": ${messageOf(err)}`, code);
}
