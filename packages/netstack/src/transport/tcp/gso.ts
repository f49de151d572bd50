/**
 * TCP segmentation offload (GSO/TSO) on the send side. When the route's link takes TCP
 * super-segments (Route.gsoMaxSize, a CapGso link such as a TUN device with virtio-net headers),
 * the sender hands it up to a whole number of MSS-sized segments in one packet; the link (or the
 * kernel behind it) cuts it into segments of `mss` payload bytes, repeating the headers, and fills
 * in each segment's checksum. Congestion control, SACK and retransmission still count in MSS: a
 * super-segment is only a way to write many segments at once (as Linux's TSO skbs).
 */
import type { Route } from "../../stack/registration.js";

/** Largest TCP header: 20 bytes plus 40 of options (RFC 9293 §3.1). */
const TCP_MAX_HEADER = 60;

/**
 * Most payload bytes one packet may carry on `route`: a multiple (at least 2) of `mss` that fits
 * in the link's GSO limit with the network and TCP headers; `mss` itself when there is no GSO.
 */
export function gsoSegmentLimit(route: Route | null, mss: number): number {
  if (route === null || route.gsoMaxSize === 0 || mss <= 0) return mss;
  const room = route.gsoMaxSize - (route.localAddress.length === 4 ? 20 : 40) - TCP_MAX_HEADER;
  const n = Math.floor(room / mss);
  return n >= 2 ? n * mss : mss;
}

/** The gso size for a segment of `len` payload bytes: `mss` when it spans more than one segment. */
export function gsoSizeFor(route: Route, len: number, mss: number): number {
  return len > mss && route.gsoMaxSize > 0 ? mss : 0;
}
