/**
 * Counters modelled on gVisor's tcpip.Stats: one plain object per stack (and a smaller one per
 * NIC). Every dropped packet increments a counter that names why. Plain numbers so `stats()`
 * snapshots are a structured clone away.
 */
export function newStackStats() {
  return {
    /** Packets with an unknown network protocol. */
    unknownProtocolRcvdPackets: 0,
    /** Packets too short or inconsistent to be parsed at their layer. */
    malformedRcvdPackets: 0,
    /** Packets dropped for lack of resources or because the NIC was down. */
    droppedPackets: 0,
    ip: {
      packetsReceived: 0,
      invalidDestinationAddressesReceived: 0,
      invalidSourceAddressesReceived: 0,
      packetsDelivered: 0,
      packetsSent: 0,
      outgoingPacketErrors: 0,
      malformedPacketsReceived: 0,
      malformedFragmentsReceived: 0,
      checksumErrors: 0,
      ttlExpired: 0,
      fragmentsReceived: 0,
      reassembled: 0,
      reassemblyTimeouts: 0,
      reassemblyOverlaps: 0,
      reassemblyMemoryDrops: 0,
      fragmentsSent: 0,
      fragmentationNeededDrops: 0,
      optionsUnknown: 0,
      noRoute: 0,
    },
    icmp: {
      v4: {
        sent: { echoRequest: 0, echoReply: 0, dstUnreachable: 0, timeExceeded: 0, paramProblem: 0, rateLimited: 0, dropped: 0 },
        received: { echoRequest: 0, echoReply: 0, dstUnreachable: 0, timeExceeded: 0, paramProblem: 0, other: 0, invalid: 0 },
      },
      v6: {
        sent: { echoRequest: 0, echoReply: 0, dstUnreachable: 0, packetTooBig: 0, timeExceeded: 0, paramProblem: 0, neighborSolicit: 0, neighborAdvert: 0, routerSolicit: 0, rateLimited: 0, dropped: 0 },
        received: { echoRequest: 0, echoReply: 0, dstUnreachable: 0, packetTooBig: 0, timeExceeded: 0, paramProblem: 0, neighborSolicit: 0, neighborAdvert: 0, routerAdvert: 0, other: 0, invalid: 0 },
      },
    },
    /** IPv6-specific drops (the shared `ip` counters count IPv6 packets too). */
    ipv6: {
      /** More extension headers than the configured limit: dropped (never walked past). */
      extensionChainTooLong: 0,
      /** An extension header or option that runs past the packet, or malformed option framing. */
      malformedExtensionHeaders: 0,
      /** Dropped for an unknown option whose high bits say discard (RFC 8200 §4.2). */
      unknownOptionDrops: 0,
      /** Routing headers with segments left that a host cannot process, type 0 included (RFC 5095). */
      routingHeaderDrops: 0,
      /** Unknown Next Header values, a Hop-by-Hop header not first (RFC 8200 §4.1): parameter problem. */
      unknownNextHeader: 0,
      /** First fragments without the whole header chain (RFC 8200 §4.5, RFC 7112). */
      incompleteFirstFragments: 0,
      /** Packets to a multicast group this NIC has not joined, or to a tentative address. */
      notJoinedOrTentative: 0,
    },
    ndp: {
      /** Malformed NDP messages, or ones failing RFC 4861 §7.1 validity checks (hop limit 255 ...). */
      invalidMessages: 0,
      resolutionTimeouts: 0,
      /** Duplicate address detection runs started, passed, and failed (RFC 4862 §5.4). */
      dadStarted: 0,
      dadSucceeded: 0,
      dadFailed: 0,
    },
    arp: {
      packetsReceived: 0,
      requestsReceived: 0,
      repliesReceived: 0,
      requestsSent: 0,
      repliesSent: 0,
      malformedPacketsReceived: 0,
      resolutionTimeouts: 0,
      pendingPacketsDropped: 0,
    },
    tcp: {
      activeConnectionOpenings: 0,
      passiveConnectionOpenings: 0,
      currentEstablished: 0,
      currentConnected: 0,
      establishedResets: 0,
      establishedClosed: 0,
      establishedTimeout: 0,
      listenOverflowSynDrop: 0,
      listenOverflowAckDrop: 0,
      failedConnectionAttempts: 0,
      validSegmentsReceived: 0,
      invalidSegmentsReceived: 0,
      segmentsSent: 0,
      segmentSendErrors: 0,
      resetsSent: 0,
      resetsReceived: 0,
      retransmits: 0,
      fastRetransmit: 0,
      timeouts: 0,
      checksumErrors: 0,
      failedPortReservations: 0,
      segmentsAckedWithDSACK: 0,
      spuriousRecovery: 0,
      slowStartRetransmits: 0,
      fastRecovery: 0,
      challengeAcksSent: 0,
      synCookiesSent: 0,
      synCookiesValidated: 0,
      /** ACKs at a listener that failed the SYN cookie check while cookies were in use (Linux's SyncookiesFailed). */
      synCookiesFailed: 0,
      keepAliveProbes: 0,
      zeroWindowProbes: 0,
    },
    udp: {
      packetsReceived: 0,
      unknownPortErrors: 0,
      receiveBufferErrors: 0,
      malformedPacketsReceived: 0,
      packetsSent: 0,
      packetSendErrors: 0,
      checksumErrors: 0,
    },
  };
}

export type StackStats = ReturnType<typeof newStackStats>;

export function newNicStats() {
  return {
    rx: { packets: 0, bytes: 0 },
    tx: { packets: 0, bytes: 0 },
    /** Received while the NIC was down, or for an unknown network protocol. */
    disabledRx: 0,
    unknownL3ProtocolRcvdPackets: 0,
    malformedL4RcvdPackets: 0,
    txErrors: 0,
    /** Packets dropped waiting for neighbor resolution. */
    neighborDrops: 0,
  };
}

export type NicStats = ReturnType<typeof newNicStats>;
