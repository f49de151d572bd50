/**
 * The route table: longest-prefix match over (destination subnet, NIC, optional gateway).
 * Routes are few and looked up once per connection (endpoints cache their Route), so a list
 * kept sorted by prefix length, longest first, is simple and fast enough.
 */
import { Address, Subnet } from "../tcpip/address.js";

export interface RouteEntry {
  destination: Subnet;
  /** Next hop; null when the destination is on-link. */
  gateway: Address | null;
  nic: number;
  /** Lower wins among equal prefixes. */
  metric: number;
}

/** What `Stack.addRoute` accepts: strings or parsed values. */
export interface RouteSpec {
  destination: string | Subnet;
  gateway?: string | Address | null;
  nic: number;
  metric?: number;
}

export class RouteTable {
  private routes: RouteEntry[] = [];
  /** Bumped by every change (Stack's route cache checks it). */
  version = 0;

  add(spec: RouteSpec): RouteEntry {
    const destination = typeof spec.destination === "string" ? Subnet.parse(spec.destination) : spec.destination;
    const gateway = spec.gateway == null ? null : Address.from(spec.gateway);
    if (gateway && gateway.length !== destination.address.length)
      throw new RangeError(`gateway ${gateway} is not of the destination's family`);
    const entry: RouteEntry = { destination, gateway, nic: spec.nic, metric: spec.metric ?? 0 };
    this.routes.push(entry);
    this.version++;
    this.routes.sort((a, b) => b.destination.prefixLen - a.destination.prefixLen || a.metric - b.metric);
    return entry;
  }

  /** Removes routes matching the destination (and NIC, when given); returns how many. */
  remove(destination: string | Subnet, nic?: number): number {
    const d = typeof destination === "string" ? Subnet.parse(destination) : destination;
    const before = this.routes.length;
    this.version++;
    this.routes = this.routes.filter((r) => !(r.destination.prefixLen === d.prefixLen &&
      r.destination.address.equals(d.address) && (nic === undefined || r.nic === nic)));
    return before - this.routes.length;
  }

  removeNic(nic: number): void {
    this.version++;
    this.routes = this.routes.filter((r) => r.nic !== nic);
  }

  /** Longest-prefix match for `remote`, optionally only via `nic` (0 = any); `usable` filters NICs. */
  lookup(remote: Address, nic: number, usable: (nic: number) => boolean): RouteEntry | null {
    for (const r of this.routes) {
      if (r.destination.address.length !== remote.length) continue;
      if (nic !== 0 && r.nic !== nic) continue;
      if (!usable(r.nic)) continue;
      if (r.destination.contains(remote)) return r;
    }
    return null;
  }

  list(): readonly RouteEntry[] {
    return this.routes;
  }
}
