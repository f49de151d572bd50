/**
 * The NIC's address checks on the receive path. `hasAddress` answers IPv4 questions from a list of
 * the preferred addresses as int32 keys, kept in step with the address list: these tests fail if
 * the list goes stale after an add, a removal or a state change, or if addresses with the top
 * bit set (negative as int32) are mishandled.
 */
import { describe, expect, it } from "vitest";
import { Address } from "../src/tcpip/address.js";
import { SeededRandom } from "../src/clock/random.js";
import { ManualClock } from "../src/clock/clock.js";
import { ChannelEndpoint } from "../src/link/channel.js";
import { Stack } from "../src/stack/stack.js";
import { ipv4 } from "../src/network/ipv4/index.js";
import { udp } from "../src/transport/udp/index.js";
import { rawPing } from "./helpers/net.js";

function channelStack(): { s: Stack; link: ChannelEndpoint } {
  const link = new ChannelEndpoint({ mtu: 1500 });
  const s = new Stack({ networkProtocols: [ipv4], transportProtocols: [udp], clock: new ManualClock(), random: new SeededRandom(5) });
  s.createNic(1, link);
  s.addRoute({ destination: "0.0.0.0/0", nic: 1 });
  return { s, link };
}

const has = (s: Stack, a: string): boolean => {
  const b = Address.from(a).bytes;
  return s.nic(1)!.hasAddress(b, 0, b.length);
};

describe("NIC address checks (RFC 1122 §3.2.1.3 / §3.3.4: a packet is for us when it is addressed to one of our addresses)", () => {
  it("knows IPv4 addresses with and without the top bit set, through adds and removals", () => {
    const { s } = channelStack();
    expect(has(s, "198.18.0.1")).toBe(false);
    s.addAddress(1, "198.18.0.1/24");
    s.addAddress(1, "10.1.2.3/8");
    s.addAddress(1, "255.255.255.254/32");
    for (const a of ["198.18.0.1", "10.1.2.3", "255.255.255.254"]) expect(has(s, a)).toBe(true);
    for (const a of ["198.18.0.2", "10.1.2.4", "0.0.0.0", "255.255.255.255", "70.18.0.1"]) expect(has(s, a)).toBe(false);
    s.removeAddress(1, "198.18.0.1");
    expect(has(s, "198.18.0.1")).toBe(false);
    expect(has(s, "10.1.2.3")).toBe(true);
    s.removeAddress(1, "10.1.2.3");
    expect(has(s, "10.1.2.3")).toBe(false);
    expect(has(s, "255.255.255.254")).toBe(true);
  });

  it("only counts preferred addresses: a tentative one is not ours until it becomes preferred again", () => {
    const { s } = channelStack();
    s.addAddress(1, "198.18.0.1/24");
    const nic = s.nic(1)!;
    nic.setAddressState(Address.from("198.18.0.1"), "tentative");
    expect(has(s, "198.18.0.1")).toBe(false);
    nic.setAddressState(Address.from("198.18.0.1"), "preferred");
    expect(has(s, "198.18.0.1")).toBe(true);
  });

  it("answers no for bytes that run past the end of the buffer, and for IPv6 lengths without IPv6 addresses", () => {
    const { s } = channelStack();
    s.addAddress(1, "0.0.0.0/32");
    const nic = s.nic(1)!;
    expect(nic.hasAddress(new Uint8Array(4), 0, 4)).toBe(true);
    expect(nic.hasAddress(new Uint8Array(3), 0, 4)).toBe(false);
    expect(nic.hasAddress(new Uint8Array(8), 5, 4)).toBe(false);
    expect(nic.hasAddress(new Uint8Array(16), 0, 16)).toBe(false);
  });

  it("delivers to an address only while the NIC has it, and drops a packet claiming it as source", () => {
    const { s, link } = channelStack();
    s.addAddress(1, "198.18.0.1/24");
    link.inject(rawPing("198.18.0.2", "198.18.0.1"));
    expect(s.stats.icmp.v4.received.echoRequest).toBe(1);
    expect(link.read()).not.toBeNull(); // the echo reply
    s.removeAddress(1, "198.18.0.1");
    link.inject(rawPing("198.18.0.2", "198.18.0.1"));
    expect(s.stats.ip.invalidDestinationAddressesReceived).toBe(1);
    expect(s.stats.icmp.v4.received.echoRequest).toBe(1);
    s.addAddress(1, "198.18.0.1/24");
    link.inject(rawPing("198.18.0.1", "198.18.0.1"));
    expect(s.stats.ip.invalidSourceAddressesReceived).toBe(1);
    link.inject(rawPing("198.18.0.2", "198.18.0.1"));
    expect(s.stats.icmp.v4.received.echoRequest).toBe(2);
    s.close();
  });
});
