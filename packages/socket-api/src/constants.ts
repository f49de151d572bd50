/**
 * Linux's numbers for the socket interface (x86-64 / generic values, as in the kernel's uapi
 * headers): address families, socket types, protocols, option levels and names, message flags,
 * shutdown modes, ioctl requests, poll bits, interface flags, TCP states and errno values.
 * Applications that speak Linux's binary socket interface use these directly.
 */

// ---------------------------------------------------------------- address families
export const AF_UNSPEC = 0;
export const AF_UNIX = 1;
export const AF_LOCAL = 1;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const AF_NETLINK = 16;
export const AF_PACKET = 17;
export const PF_INET = AF_INET;
export const PF_INET6 = AF_INET6;

// ---------------------------------------------------------------- socket types
export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_RAW = 3;
export const SOCK_RDM = 4;
export const SOCK_SEQPACKET = 5;
/** Flags or-ed into the type argument of socket(2) / accept4(2). */
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
export const SOCK_TYPE_MASK = 0xf;

// ---------------------------------------------------------------- protocols
export const IPPROTO_IP = 0;
export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_IPV6 = 41;
export const IPPROTO_ICMPV6 = 58;
export const IPPROTO_RAW = 255;

// ---------------------------------------------------------------- option levels
export const SOL_IP = 0;
export const SOL_SOCKET = 1;
export const SOL_TCP = 6;
export const SOL_UDP = 17;
export const SOL_IPV6 = 41;

// ---------------------------------------------------------------- SOL_SOCKET options
export const SO_DEBUG = 1;
export const SO_REUSEADDR = 2;
export const SO_TYPE = 3;
export const SO_ERROR = 4;
export const SO_DONTROUTE = 5;
export const SO_BROADCAST = 6;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
export const SO_KEEPALIVE = 9;
export const SO_OOBINLINE = 10;
export const SO_NO_CHECK = 11;
export const SO_PRIORITY = 12;
export const SO_LINGER = 13;
export const SO_BSDCOMPAT = 14;
export const SO_REUSEPORT = 15;
export const SO_PASSCRED = 16;
export const SO_PEERCRED = 17;
export const SO_RCVLOWAT = 18;
export const SO_SNDLOWAT = 19;
export const SO_RCVTIMEO = 20;
export const SO_SNDTIMEO = 21;
export const SO_BINDTODEVICE = 25;
export const SO_TIMESTAMP = 29;
export const SO_ACCEPTCONN = 30;
export const SO_SNDBUFFORCE = 32;
export const SO_RCVBUFFORCE = 33;
export const SO_TIMESTAMPNS = 35;
export const SO_PROTOCOL = 38;
export const SO_DOMAIN = 39;
export const SCM_TIMESTAMP = SO_TIMESTAMP;

// ---------------------------------------------------------------- IPPROTO_TCP options
export const TCP_NODELAY = 1;
export const TCP_MAXSEG = 2;
export const TCP_CORK = 3;
export const TCP_KEEPIDLE = 4;
export const TCP_KEEPINTVL = 5;
export const TCP_KEEPCNT = 6;
export const TCP_SYNCNT = 7;
export const TCP_LINGER2 = 8;
export const TCP_DEFER_ACCEPT = 9;
export const TCP_WINDOW_CLAMP = 10;
export const TCP_INFO = 11;
export const TCP_QUICKACK = 12;
export const TCP_CONGESTION = 13;
export const TCP_USER_TIMEOUT = 18;
export const TCP_NOTSENT_LOWAT = 25;

// ---------------------------------------------------------------- IPPROTO_IP options (and cmsg types)
export const IP_TOS = 1;
export const IP_TTL = 2;
export const IP_HDRINCL = 3;
export const IP_OPTIONS = 4;
export const IP_PKTINFO = 8;
export const IP_MTU_DISCOVER = 10;
export const IP_RECVERR = 11;
export const IP_RECVTTL = 12;
export const IP_RECVTOS = 13;
export const IP_MTU = 14;
export const IP_MULTICAST_IF = 32;
export const IP_MULTICAST_TTL = 33;
export const IP_MULTICAST_LOOP = 34;

// ---------------------------------------------------------------- IPPROTO_IPV6 options
export const IPV6_UNICAST_HOPS = 16;
export const IPV6_MULTICAST_HOPS = 18;
export const IPV6_V6ONLY = 26;
export const IPV6_RECVPKTINFO = 49;
export const IPV6_PKTINFO = 50;
export const IPV6_RECVHOPLIMIT = 51;
export const IPV6_HOPLIMIT = 52;
export const IPV6_RECVTCLASS = 66;
export const IPV6_TCLASS = 67;

// ---------------------------------------------------------------- message flags
export const MSG_OOB = 0x1;
export const MSG_PEEK = 0x2;
export const MSG_DONTROUTE = 0x4;
export const MSG_CTRUNC = 0x8;
export const MSG_TRUNC = 0x20;
export const MSG_DONTWAIT = 0x40;
export const MSG_EOR = 0x80;
export const MSG_WAITALL = 0x100;
export const MSG_CONFIRM = 0x800;
export const MSG_ERRQUEUE = 0x2000;
export const MSG_NOSIGNAL = 0x4000;
export const MSG_MORE = 0x8000;
export const MSG_WAITFORONE = 0x10000;
export const MSG_CMSG_CLOEXEC = 0x40000000;

// ---------------------------------------------------------------- shutdown(2)
export const SHUT_RD = 0;
export const SHUT_WR = 1;
export const SHUT_RDWR = 2;

// ---------------------------------------------------------------- ioctl requests
export const TIOCOUTQ = 0x5411;
export const FIONREAD = 0x541b;
export const TIOCINQ = FIONREAD;
export const FIONBIO = 0x5421;
export const FIOASYNC = 0x5452;
export const SIOCATMARK = 0x8905;
export const SIOCGSTAMP = 0x8906;
export const SIOCGIFNAME = 0x8910;
export const SIOCGIFCONF = 0x8912;
export const SIOCGIFFLAGS = 0x8913;
export const SIOCGIFADDR = 0x8915;
export const SIOCGIFDSTADDR = 0x8917;
export const SIOCGIFBRDADDR = 0x8919;
export const SIOCGIFNETMASK = 0x891b;
export const SIOCGIFMETRIC = 0x891d;
export const SIOCGIFMTU = 0x8921;
export const SIOCGIFHWADDR = 0x8927;
export const SIOCGIFINDEX = 0x8933;
export const SIOCGIFTXQLEN = 0x8942;
export const SIOCOUTQNSD = 0x894b;

/** struct ifreq is 40 bytes on 64-bit Linux: a 16-byte name and a 24-byte union. */
export const IFNAMSIZ = 16;
export const IFREQ_SIZE = 40;
/** struct ifconf: int ifc_len; (4 bytes padding); union { char *ifc_buf; struct ifreq *ifc_req; }. */
export const IFCONF_SIZE = 16;

// ---------------------------------------------------------------- interface flags (SIOCGIFFLAGS)
export const IFF_UP = 0x1;
export const IFF_BROADCAST = 0x2;
export const IFF_DEBUG = 0x4;
export const IFF_LOOPBACK = 0x8;
export const IFF_POINTOPOINT = 0x10;
export const IFF_NOTRAILERS = 0x20;
export const IFF_RUNNING = 0x40;
export const IFF_NOARP = 0x80;
export const IFF_PROMISC = 0x100;
export const IFF_MULTICAST = 0x1000;
export const IFF_LOWER_UP = 0x10000;

/** Hardware types (SIOCGIFHWADDR's sa_family). */
export const ARPHRD_ETHER = 1;
export const ARPHRD_LOOPBACK = 772;
export const ARPHRD_NONE = 0xfffe;

// ---------------------------------------------------------------- poll / epoll
export const POLLIN = 0x1;
export const POLLPRI = 0x2;
export const POLLOUT = 0x4;
export const POLLERR = 0x8;
export const POLLHUP = 0x10;
export const POLLNVAL = 0x20;
export const POLLRDNORM = 0x40;
export const POLLRDBAND = 0x80;
export const POLLWRNORM = 0x100;
export const POLLWRBAND = 0x200;
export const POLLRDHUP = 0x2000;
export const EPOLLIN = POLLIN;
export const EPOLLPRI = POLLPRI;
export const EPOLLOUT = POLLOUT;
export const EPOLLERR = POLLERR;
export const EPOLLHUP = POLLHUP;
export const EPOLLRDHUP = POLLRDHUP;
export const EPOLLONESHOT = 1 << 30;
export const EPOLLET = 1 << 31;
export const EPOLL_CTL_ADD = 1;
export const EPOLL_CTL_DEL = 2;
export const EPOLL_CTL_MOD = 3;

// ---------------------------------------------------------------- TCP states (/proc/net/tcp, tcpi_state)
export const TCP_ESTABLISHED = 1;
export const TCP_SYN_SENT = 2;
export const TCP_SYN_RECV = 3;
export const TCP_FIN_WAIT1 = 4;
export const TCP_FIN_WAIT2 = 5;
export const TCP_TIME_WAIT = 6;
export const TCP_CLOSE = 7;
export const TCP_CLOSE_WAIT = 8;
export const TCP_LAST_ACK = 9;
export const TCP_LISTEN = 10;
export const TCP_CLOSING = 11;

// ---------------------------------------------------------------- errno
/** Linux errno values by name (asm-generic/errno-base.h and errno.h). */
export const errno = {
  EPERM: 1, ENOENT: 2, ESRCH: 3, EINTR: 4, EIO: 5, ENXIO: 6, E2BIG: 7, ENOEXEC: 8, EBADF: 9, ECHILD: 10,
  EAGAIN: 11, ENOMEM: 12, EACCES: 13, EFAULT: 14, ENOTBLK: 15, EBUSY: 16, EEXIST: 17, EXDEV: 18, ENODEV: 19,
  ENOTDIR: 20, EISDIR: 21, EINVAL: 22, ENFILE: 23, EMFILE: 24, ENOTTY: 25, ETXTBSY: 26, EFBIG: 27, ENOSPC: 28,
  ESPIPE: 29, EROFS: 30, EMLINK: 31, EPIPE: 32, EDOM: 33, ERANGE: 34, EDEADLK: 35, ENAMETOOLONG: 36,
  ENOLCK: 37, ENOSYS: 38, ENOTEMPTY: 39, ELOOP: 40, ENOMSG: 42, EIDRM: 43, ENOSTR: 60, ENODATA: 61, ETIME: 62,
  ENOSR: 63, ENOLINK: 67, EPROTO: 71, EMULTIHOP: 72, EBADMSG: 74, EOVERFLOW: 75, EILSEQ: 84, EUSERS: 87,
  ENOTSOCK: 88, EDESTADDRREQ: 89, EMSGSIZE: 90, EPROTOTYPE: 91, ENOPROTOOPT: 92, EPROTONOSUPPORT: 93,
  ESOCKTNOSUPPORT: 94, EOPNOTSUPP: 95, EPFNOSUPPORT: 96, EAFNOSUPPORT: 97, EADDRINUSE: 98, EADDRNOTAVAIL: 99,
  ENETDOWN: 100, ENETUNREACH: 101, ENETRESET: 102, ECONNABORTED: 103, ECONNRESET: 104, ENOBUFS: 105,
  EISCONN: 106, ENOTCONN: 107, ESHUTDOWN: 108, ETOOMANYREFS: 109, ETIMEDOUT: 110, ECONNREFUSED: 111,
  EHOSTDOWN: 112, EHOSTUNREACH: 113, EALREADY: 114, EINPROGRESS: 115, ESTALE: 116, EDQUOT: 122,
  ECANCELED: 125, EOWNERDEAD: 130, ENOTRECOVERABLE: 131,
} as const;

export type ErrnoCode = keyof typeof errno;
/** EWOULDBLOCK is EAGAIN on Linux. */
export const EWOULDBLOCK = errno.EAGAIN;
export const ENOTSUP = errno.EOPNOTSUPP;

const errnoNames = new Map<number, ErrnoCode>();
for (const [k, v] of Object.entries(errno)) errnoNames.set(v, k as ErrnoCode);

/** The errno name for a number ("EAGAIN" for 11), or "E<n>" when unknown. */
export function errnoName(n: number): string {
  return errnoNames.get(n) ?? `E${n}`;
}

/** Linux's strerror texts for the values the socket layer produces. */
export const strerror: Partial<Record<ErrnoCode, string>> = {
  EPERM: "Operation not permitted", EBADF: "Bad file descriptor", EAGAIN: "Resource temporarily unavailable",
  EACCES: "Permission denied", EFAULT: "Bad address", EEXIST: "File exists", ENODEV: "No such device",
  EINVAL: "Invalid argument", ENOTTY: "Inappropriate ioctl for device", EPIPE: "Broken pipe",
  ENXIO: "No such device or address", EPROTO: "Protocol error", ENOTSOCK: "Socket operation on non-socket",
  EDESTADDRREQ: "Destination address required", EMSGSIZE: "Message too long",
  EPROTOTYPE: "Protocol wrong type for socket", ENOPROTOOPT: "Protocol not available",
  EPROTONOSUPPORT: "Protocol not supported", ESOCKTNOSUPPORT: "Socket type not supported",
  EOPNOTSUPP: "Operation not supported", EAFNOSUPPORT: "Address family not supported by protocol",
  EADDRINUSE: "Address already in use", EADDRNOTAVAIL: "Cannot assign requested address",
  ENETDOWN: "Network is down", ENETUNREACH: "Network is unreachable",
  ECONNABORTED: "Software caused connection abort", ECONNRESET: "Connection reset by peer",
  ENOBUFS: "No buffer space available", EISCONN: "Transport endpoint is already connected",
  ENOTCONN: "Transport endpoint is not connected", ESHUTDOWN: "Cannot send after transport endpoint shutdown",
  ETIMEDOUT: "Connection timed out", ECONNREFUSED: "Connection refused", EHOSTUNREACH: "No route to host",
  EALREADY: "Operation already in progress", EINPROGRESS: "Operation now in progress",
  ECANCELED: "Operation canceled", EINTR: "Interrupted system call",
};
