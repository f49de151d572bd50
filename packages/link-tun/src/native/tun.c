/*
 * tun.c: the native half of @netstack-ts/link-tun. A Linux TUN/TAP file descriptor, watched by
 * libuv, plus the interface ioctls a user would otherwise need `ip` for.
 *
 * Node-API only (node_api.h) plus libuv's poll handle. Everything runs on the event-loop thread:
 * no thread pool, no locks.
 *
 * Read path: the fd is non-blocking and watched by a uv_poll_t. On each readable wakeup we drain
 * up to `batchMax` packets into ONE slab (one read() per packet, packets laid end to end; one
 * packet per wakeup for request/response traffic, see SINGLE_AFTER), hand the batch to JavaScript
 * and write each packet's (offset, length) into a Uint32Array the JavaScript side created once and
 * owns. JavaScript is called once per batch. A small batch (SMALL_COPY) is copied into a plain
 * ArrayBuffer and its slab is read into again at the next wakeup; a large one is handed over as
 * an external ArrayBuffer and never reused: its finalizer frees it when the last view into it is
 * collected (PacketBuffer's inbound ownership rule: the stack may keep views).
 *
 * Write path: writePackets(handle, packets) takes an array whose elements are either a Uint8Array
 * (a whole packet) or an array of Uint8Array pieces (header area, payload pieces) and issues ONE
 * writev() per packet. An optional Uint32Array of spans narrows each packet's first piece (the
 * stack's header buffer) to its header bytes, so JavaScript makes no view per packet. A TUN write
 * carries exactly one packet, so packets are never concatenated.
 * When the kernel answers EAGAIN the rest is copied into a bounded FIFO that is flushed when the
 * fd becomes writable; what does not fit is dropped and counted.
 *
 * Offloads: with vnetHdr, open() sets IFF_VNET_HDR and TUNSETOFFLOAD (checksum, TSO4, TSO6), so
 * the kernel may hand us TCP segments up to 64 KiB with a partial checksum. Every read then starts
 * with a struct virtio_net_hdr (10 bytes), which the JavaScript side parses and strips. Every
 * write gets a header in front as an extra writev piece: all zero (no GSO, checksum complete), or,
 * for a TCP super-segment whose gso size JavaScript passes, a GSO header built here from the
 * packet's own IP and TCP headers (gso_type TCPV4/TCPV6, gso_size, hdr_len, and NEEDS_CSUM with
 * csum_start/csum_offset at the TCP checksum, which holds the pseudo-header sum): the kernel
 * cuts the packet into gso_size-byte segments and completes their checksums.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <node_api.h>
#include <uv.h>

#define MAX_PIECES 32
/* sizeof(struct virtio_net_hdr): the TUN default (TUNSETVNETHDRSZ) */
#define VNET_HDR_LEN 10
_Static_assert(sizeof(struct virtio_net_hdr) == VNET_HDR_LEN, "virtio_net_hdr is 10 bytes");
#define DEFAULT_BATCH 256
#define MAX_BATCH 4096
#define SLAB_INITIAL (256 * 1024)
/* Largest packet a read may return: an IP datagram of 65535 bytes plus an Ethernet header with
 * a VLAN tag (TAP) plus a virtio-net header. A TUN never hands over more than its MTU without
 * offloads, but the interface MTU can be changed under us, so reads are sized for the maximum. */
#define MAX_READ (65535 + 18 + 12)
/* A batch of at most this many bytes is copied into a runtime-owned ArrayBuffer instead of being
 * handed over as an external one: for small packets (request/response traffic) a copy is cheaper
 * than an external buffer's finalizer and the weak handle the GC has to track for it. */
#define SMALL_COPY 2048
/* Request/response traffic brings one packet per wakeup, and draining then costs a read() that
 * only answers EAGAIN. After SINGLE_AFTER consecutive one-packet wakeups the poller reads one
 * packet per wakeup (the poll is level-triggered, so anything left wakes it again at once), except
 * every PROBE_EVERY-th wakeup, which drains as usual and leaves the mode if it finds more. */
#define SINGLE_AFTER 8
#define PROBE_EVERY 16

/* From linux/ipv6.h, declared here because that header fights with netinet/in.h. */
struct tun_in6_ifreq {
  struct in6_addr ifr6_addr;
  uint32_t ifr6_prefixlen;
  int ifr6_ifindex;
};

typedef struct {
  uint8_t *data;
  size_t len;
} queued_pkt;

typedef struct tun_handle {
  napi_env env;
  int fd;
  int closed;
  int poll_inited;     /* uv_poll_init done: uv_close must run before free */
  int poll_closed;     /* uv_close callback ran (or the poll was never initialised) */
  int wrap_gone;       /* the JS wrapper was finalized */
  int cleanup_hooked;  /* env cleanup hook registered */
  int events;          /* events the poll currently watches */
  int refed;
  int reading;         /* JavaScript wants packets */
  int self_strong;     /* `self` holds a strong reference */
  int in_cb;           /* depth of onBatch calls in progress */
  int release_pending; /* close() ran inside onBatch: release references when it returns */
  uv_poll_t poll;
  napi_ref cb;         /* onBatch(slab: ArrayBuffer, count: number) */
  napi_ref self;       /* the wrapper object; strong while started, so GC cannot close us */
  napi_ref meta_ref;   /* Uint32Array for (offset, length) pairs, owned by JavaScript */
  uint32_t *meta;
  uint32_t batch_max;
  napi_async_context actx;
  int has_actx;
  size_t read_size;
  /* write queue: a ring of copies, bounded in packets and bytes */
  queued_pkt *q;
  uint32_t q_cap, q_head, q_len;
  size_t q_bytes, q_max_bytes;
  /* counters */
  double rx_packets, rx_bytes, rx_batches, rx_errors;
  double tx_packets, tx_bytes, tx_queued, tx_drops, tx_errors, tx_eagain, tx_gso;
  int last_rx_errno, last_tx_errno;
  int vnet;            /* IFF_VNET_HDR: reads and writes carry a virtio_net_hdr first */
  uint8_t *spare;      /* read slab kept for the next wakeup (its last batch was copied out) */
  size_t spare_cap;
  uint32_t single_streak; /* consecutive wakeups that brought exactly one packet */
} tun_handle;

/* The header written in front of every packet with IFF_VNET_HDR: no GSO, checksum complete. */
static uint8_t zero_vnet_hdr[VNET_HDR_LEN];

/* ------------------------------------------------------------------ helpers */

static const char *errno_code(int e) {
  switch (e) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EACCES: return "EACCES";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case ENODEV: return "ENODEV";
    case ENXIO: return "ENXIO";
    case EINVAL: return "EINVAL";
    case EBADF: return "EBADF";
    case EBADFD: return "EBADFD";
    case EIO: return "EIO";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case ENOBUFS: return "ENOBUFS";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case EMSGSIZE: return "EMSGSIZE";
    case ENOTTY: return "ENOTTY";
    case EFAULT: return "EFAULT";
    default: return "EUNKNOWN";
  }
}

/* Throws an Error whose .code is the errno name and whose .syscall names the operation. */
static void throw_errno(napi_env env, const char *what, int e) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s (%s)", what, strerror(e), errno_code(e));
  napi_value m, code, err, sys, num;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
  napi_create_string_utf8(env, errno_code(e), NAPI_AUTO_LENGTH, &code);
  napi_create_error(env, code, m, &err);
  napi_create_string_utf8(env, what, NAPI_AUTO_LENGTH, &sys);
  napi_set_named_property(env, err, "syscall", sys);
  napi_create_int32(env, e, &num);
  napi_set_named_property(env, err, "errno", num);
  napi_throw(env, err);
}

#define NAPI_CALL(env, call)                                            \
  do {                                                                  \
    if ((call) != napi_ok) {                                            \
      bool pending__ = false;                                           \
      napi_is_exception_pending((env), &pending__);                     \
      if (!pending__) napi_throw_error((env), "EINTERNAL", #call " failed"); \
      return NULL;                                                      \
    }                                                                   \
  } while (0)

static int get_string(napi_env env, napi_value v, char *buf, size_t cap, size_t *len) {
  size_t n = 0;
  if (napi_get_value_string_utf8(env, v, buf, cap, &n) != napi_ok) return -1;
  if (len) *len = n;
  return 0;
}

/* Interface name: 1..15 bytes, no '/', no whitespace, not "." or ".." (the kernel's dev_valid_name). */
static int valid_ifname(const char *name, size_t len, int allow_empty) {
  if (len == 0) return allow_empty;
  if (len >= IFNAMSIZ) return 0;
  if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) return 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)name[i];
    if (c == '/' || c == ':' || c <= ' ' || c == 0x7f) return 0;
  }
  return 1;
}

static int read_ifname(napi_env env, napi_value v, char name[IFNAMSIZ], int allow_empty) {
  char buf[64];
  size_t len = 0;
  if (get_string(env, v, buf, sizeof buf, &len) != 0) {
    napi_throw_type_error(env, "EINVAL", "interface name must be a string");
    return -1;
  }
  if (!valid_ifname(buf, len, allow_empty)) {
    char msg[192];
    snprintf(msg, sizeof msg, "invalid interface name \"%.63s\" (1-15 characters, no '/', ':' or spaces)", buf);
    napi_throw_error(env, "EINVALNAME", msg);
    return -1;
  }
  memset(name, 0, IFNAMSIZ);
  memcpy(name, buf, len);
  return 0;
}

static tun_handle *unwrap(napi_env env, napi_value obj) {
  void *p = NULL;
  if (napi_unwrap(env, obj, &p) != napi_ok || p == NULL) {
    napi_throw_type_error(env, "EINVAL", "not a TUN handle");
    return NULL;
  }
  return (tun_handle *)p;
}

/* ------------------------------------------------------------------ lifetime */

static void maybe_free(tun_handle *h) {
  if (!h->wrap_gone || !h->poll_closed) return;
  free(h->spare);
  for (uint32_t i = 0; i < h->q_len; i++) free(h->q[(h->q_head + i) % h->q_cap].data);
  free(h->q);
  free(h);
}

static void on_poll_closed(uv_handle_t *ph) {
  tun_handle *h = (tun_handle *)ph->data;
  h->poll_closed = 1;
  maybe_free(h);
}

static void env_cleanup(void *arg);

/* Drops what ties the handle to JavaScript: the callback, the meta array, the async context, and
 * the strong reference to the wrapper (so it can be collected). Only while JavaScript can run. */
static void release_refs(tun_handle *h) {
  h->release_pending = 0;
  if (h->cb) { napi_delete_reference(h->env, h->cb); h->cb = NULL; }
  if (h->meta_ref) { napi_delete_reference(h->env, h->meta_ref); h->meta_ref = NULL; h->meta = NULL; }
  if (h->has_actx) { napi_async_destroy(h->env, h->actx); h->has_actx = 0; }
  if (h->self && h->self_strong) {
    napi_reference_unref(h->env, h->self, NULL);
    h->self_strong = 0;
  }
}

/* Stops the poller and closes the fd. Safe to call more than once, and from a finalizer. */
static void close_handle(tun_handle *h, int from_finalizer) {
  if (h->closed) return;
  h->closed = 1;
  if (h->poll_inited) {
    uv_poll_stop(&h->poll);
    uv_close((uv_handle_t *)&h->poll, on_poll_closed);
  } else {
    h->poll_closed = 1;
  }
  if (h->fd >= 0) {
    close(h->fd);
    h->fd = -1;
  }
  for (uint32_t i = 0; i < h->q_len; i++) {
    queued_pkt *qp = &h->q[(h->q_head + i) % h->q_cap];
    free(qp->data);
    qp->data = NULL;
  }
  h->tx_drops += h->q_len;
  h->q_len = 0;
  h->q_bytes = 0;
  if (h->cleanup_hooked) {
    napi_remove_env_cleanup_hook(h->env, env_cleanup, h);
    h->cleanup_hooked = 0;
  }
  if (!from_finalizer) {
    /* Closed from inside onBatch: the callback's async context and references are still in use
     * until it returns, so call_js releases them afterwards. */
    if (h->in_cb) h->release_pending = 1;
    else release_refs(h);
  }
}

static void env_cleanup(void *arg) {
  tun_handle *h = (tun_handle *)arg;
  h->cleanup_hooked = 0; /* the hook is being run: do not remove it */
  close_handle(h, 1);
}

static void finalize_handle(napi_env env, void *data, void *hint) {
  tun_handle *h = (tun_handle *)data;
  close_handle(h, 1);
  if (h->self) { napi_delete_reference(env, h->self); h->self = NULL; }
  if (h->cb) { napi_delete_reference(env, h->cb); h->cb = NULL; }
  if (h->meta_ref) { napi_delete_reference(env, h->meta_ref); h->meta_ref = NULL; }
  h->wrap_gone = 1;
  maybe_free(h);
}

/* ------------------------------------------------------------------ open */

/* open(name: string, tap: boolean, multiQueue: boolean, vnetHdr: boolean) -> handle
 * handle = { fd, name } with the native state wrapped inside. */
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char name[IFNAMSIZ];
  if (argc < 1 || read_ifname(env, argv[0], name, 1) != 0) return NULL;
  bool tap = false, mq = false, vnet = false;
  if (argc > 1) napi_get_value_bool(env, argv[1], &tap);
  if (argc > 2) napi_get_value_bool(env, argv[2], &mq);
  if (argc > 3) napi_get_value_bool(env, argv[3], &vnet);

  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    throw_errno(env, "open /dev/net/tun", errno);
    return NULL;
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, name, IFNAMSIZ);
  ifr.ifr_flags = (short)((tap ? IFF_TAP : IFF_TUN) | IFF_NO_PI | (mq ? IFF_MULTI_QUEUE : 0) |
                          (vnet ? IFF_VNET_HDR : 0));
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int e = errno;
    close(fd);
    throw_errno(env, "ioctl TUNSETIFF", e);
    return NULL;
  }

  if (vnet) {
    int sz = VNET_HDR_LEN;
    unsigned int off = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
    if (ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0 || ioctl(fd, TUNSETOFFLOAD, off) < 0) {
      int e = errno;
      close(fd);
      throw_errno(env, "ioctl TUNSETOFFLOAD", e);
      return NULL;
    }
  }

  tun_handle *h = calloc(1, sizeof *h);
  if (!h) {
    close(fd);
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  h->env = env;
  h->fd = fd;
  h->vnet = vnet ? 1 : 0;
  h->poll_closed = 1; /* until a poll handle exists */
  h->refed = 1;
  h->batch_max = DEFAULT_BATCH;
  h->read_size = MAX_READ;
  h->q_cap = 1024;
  h->q_max_bytes = 4 * 1024 * 1024;
  h->q = calloc(h->q_cap, sizeof(queued_pkt));
  if (!h->q) {
    close(fd);
    free(h);
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }

  napi_value obj, vfd, vname;
  NAPI_CALL(env, napi_create_object(env, &obj));
  NAPI_CALL(env, napi_create_int32(env, fd, &vfd));
  NAPI_CALL(env, napi_set_named_property(env, obj, "fd", vfd));
  char actual[IFNAMSIZ + 1];
  memcpy(actual, ifr.ifr_name, IFNAMSIZ);
  actual[IFNAMSIZ] = 0;
  NAPI_CALL(env, napi_create_string_utf8(env, actual, NAPI_AUTO_LENGTH, &vname));
  NAPI_CALL(env, napi_set_named_property(env, obj, "name", vname));
  if (napi_wrap(env, obj, h, finalize_handle, NULL, NULL) != napi_ok) {
    close(fd);
    free(h->q);
    free(h);
    napi_throw_error(env, "EINTERNAL", "napi_wrap failed");
    return NULL;
  }
  /* A weak reference now; made strong while the poller runs. */
  napi_create_reference(env, obj, 0, &h->self);
  if (napi_add_env_cleanup_hook(env, env_cleanup, h) == napi_ok) h->cleanup_hooked = 1;
  return obj;
}

/* ------------------------------------------------------------------ reading */

static void update_poll(tun_handle *h);


static void free_slab(napi_env env, void *data, void *hint) {
  free(data);
}

/* An exception thrown by the batch callback is an uncaught exception of the process. */
static void report_exception(napi_env env) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) {
    napi_value e;
    if (napi_get_and_clear_last_exception(env, &e) == napi_ok) napi_fatal_exception(env, e);
  }
}

/* Calls onBatch(slab, count); count < 0 reports a read error (-errno) and carries no slab. */
static void call_js(tun_handle *h, napi_value slab, int32_t count) {
  napi_env env = h->env;
  napi_value cb, self, argv[2], result;
  if (!h->cb || napi_get_reference_value(env, h->cb, &cb) != napi_ok || cb == NULL) return;
  if (napi_get_reference_value(env, h->self, &self) != napi_ok || self == NULL) napi_get_undefined(env, &self);
  argv[0] = slab;
  napi_create_int32(env, count, &argv[1]);
  h->in_cb++;
  napi_status st = napi_make_callback(env, h->actx, self, cb, 2, argv, &result);
  h->in_cb--;
  if (st != napi_ok) report_exception(env);
  if (h->in_cb == 0 && h->release_pending) release_refs(h);
}

/* Hands a batch to JavaScript. A small batch (see SMALL_COPY) is copied out and its slab kept as
 * the handle's spare for the next wakeup, so request/response traffic reads into the same memory
 * every time (no malloc and free of a read slab per packet); a large one is handed over whole. */
static void deliver_batch(tun_handle *h, uint8_t *slab, size_t cap, size_t used, uint32_t count) {
  napi_env env = h->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) {
    free(slab);
    return;
  }
  napi_value ab;
  if (used <= SMALL_COPY) {
    void *dst = NULL;
    if (napi_create_arraybuffer(env, used, &dst, &ab) != napi_ok) {
      free(slab);
      h->rx_errors++;
      napi_close_handle_scope(env, scope);
      return;
    }
    memcpy(dst, slab, used);
    /* Copied: the slab is ours again. Kept before calling JavaScript, which may close the handle
     * (maybe_free releases the spare). */
    free(h->spare);
    h->spare = slab;
    h->spare_cap = cap;
  } else if (napi_create_external_arraybuffer(env, slab, used, free_slab, NULL, &ab) != napi_ok) {
    /* Runtimes that forbid external buffers: copy once into a runtime-owned buffer. */
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value ignored;
      napi_get_and_clear_last_exception(env, &ignored);
    }
    void *dst = NULL;
    if (napi_create_arraybuffer(env, used, &dst, &ab) != napi_ok) {
      free(slab);
      h->rx_errors++;
      napi_close_handle_scope(env, scope);
      return;
    }
    memcpy(dst, slab, used);
    free(slab);
  }
  call_js(h, ab, (int32_t)count);
  napi_close_handle_scope(env, scope);
}

static void report_read_error(tun_handle *h, int err) {
  napi_handle_scope scope;
  if (napi_open_handle_scope(h->env, &scope) == napi_ok) {
    napi_value nul;
    napi_get_null(h->env, &nul);
    call_js(h, nul, -err);
    napi_close_handle_scope(h->env, scope);
  }
}

static void read_batch(tun_handle *h) {
  size_t cap = SLAB_INITIAL;
  if (cap < 2 * h->read_size) cap = 2 * h->read_size;
  uint8_t *slab;
  if (h->spare && h->spare_cap >= cap) {
    slab = h->spare;
    cap = h->spare_cap;
  } else {
    free(h->spare);
    slab = malloc(cap);
  }
  h->spare = NULL;
  if (!slab) {
    h->rx_errors++;
    return;
  }
  size_t used = 0;
  uint32_t count = 0;
  int err = 0;
  uint32_t limit = h->batch_max;
  int single = h->single_streak >= SINGLE_AFTER && h->single_streak % PROBE_EVERY != 0;
  if (single) limit = 1;
  while (count < limit && h->meta) {
    if (cap - used < h->read_size) {
      uint8_t *n = realloc(slab, cap * 2);
      if (!n) break;
      slab = n;
      cap *= 2;
    }
    ssize_t r = read(h->fd, slab + used, h->read_size);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) err = errno;
      break;
    }
    if (r == 0) break;
    h->meta[2 * count] = (uint32_t)used;
    h->meta[2 * count + 1] = (uint32_t)r;
    used += (size_t)r;
    count++;
    h->rx_packets++;
    h->rx_bytes += (double)r - (h->vnet ? VNET_HDR_LEN : 0);
  }
  if (err) {
    h->rx_errors++;
    h->last_rx_errno = err;
  }
  if (count == 1) {
    h->single_streak++;
    if (h->single_streak == 0) h->single_streak = SINGLE_AFTER; /* wrapped: stay in the mode */
  } else if (count > 1) {
    h->single_streak = 0;
  }
  if (count > 0) {
    uint8_t *shrunk = used <= SMALL_COPY ? slab : realloc(slab, used);
    if (shrunk) slab = shrunk;
    h->rx_batches++;
    deliver_batch(h, slab, cap, used, count);
  } else {
    /* Nothing read: keep the slab for the next wakeup. */
    h->spare = slab;
    h->spare_cap = cap;
    if (err && !h->closed) {
      /* The device went away (EBADFD after `ip link del`, EIO, ...): stop reading and tell
       * JavaScript once, instead of spinning on a descriptor that is always "readable". */
      h->reading = 0;
      update_poll(h);
      report_read_error(h, err);
    }
  }
}

/* ------------------------------------------------------------------ writing */

static int enqueue(tun_handle *h, const struct iovec *iov, int cnt, size_t total) {
  if (h->q_len >= h->q_cap || h->q_bytes + total > h->q_max_bytes) {
    h->tx_drops++;
    return 0;
  }
  uint8_t *d = malloc(total ? total : 1);
  if (!d) {
    h->tx_drops++;
    return 0;
  }
  size_t o = 0;
  for (int i = 0; i < cnt; i++) {
    memcpy(d + o, iov[i].iov_base, iov[i].iov_len);
    o += iov[i].iov_len;
  }
  queued_pkt *qp = &h->q[(h->q_head + h->q_len) % h->q_cap];
  qp->data = d;
  qp->len = total;
  h->q_len++;
  h->q_bytes += total;
  h->tx_queued++;
  return 1;
}

/* Writes queued packets, oldest first, until the queue is empty or the kernel says EAGAIN. */
static void flush_queue(tun_handle *h) {
  while (h->q_len > 0 && h->fd >= 0) {
    queued_pkt *qp = &h->q[h->q_head];
    ssize_t r = write(h->fd, qp->data, qp->len);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        h->tx_eagain++;
        break;
      }
      h->tx_errors++;
      h->last_tx_errno = errno;
    } else {
      h->tx_packets++;
      h->tx_bytes += (double)r - (h->vnet ? VNET_HDR_LEN : 0);
    }
    h->q_bytes -= qp->len;
    free(qp->data);
    qp->data = NULL;
    h->q_head = (h->q_head + 1) % h->q_cap;
    h->q_len--;
  }
}

static void on_poll(uv_poll_t *p, int status, int events) {
  tun_handle *h = (tun_handle *)p->data;
  if (h->closed) return;
  if (status < 0) {
    /* libuv stops the handle on POLLERR (reported as UV_EBADF): the device was detached, e.g.
     * deleted with `ip link del`. Tell JavaScript once. */
    h->rx_errors++;
    h->last_rx_errno = -status;
    h->reading = 0;
    h->events = 0;
    uv_poll_stop(&h->poll);
    report_read_error(h, -status);
    return;
  }
  if (events & UV_WRITABLE) flush_queue(h);
  if (!h->closed && (events & UV_READABLE) && h->reading) read_batch(h);
  if (!h->closed) update_poll(h);
}

static void update_poll(tun_handle *h) {
  if (h->closed || !h->poll_inited) return;
  int want = (h->reading ? UV_READABLE : 0) | (h->q_len > 0 ? UV_WRITABLE : 0);
  if (want == h->events) return;
  if (want == 0) uv_poll_stop(&h->poll);
  else uv_poll_start(&h->poll, want, on_poll);
  h->events = want;
}

/* Narrows the first piece of a packet to span[0] (offset) and span[1] (length) inside it, when
 * JavaScript passed spans (see writePackets): the header area goes as the whole header buffer
 * plus a span, not as a view made per packet. Returns -1 when the span does not fit. */
static int apply_span(const uint32_t *span, void **data, size_t *len) {
  if (!span) return 0;
  if ((size_t)span[0] > *len || (size_t)span[1] > *len - (size_t)span[0]) return -1;
  *data = (uint8_t *)*data + span[0];
  *len = span[1];
  return 0;
}

/* Reads one packet element: a Uint8Array, or an array of Uint8Array pieces. Returns the piece
 * count (0 for an empty or unusable element) and fills iov / total. `span` (or NULL) narrows the
 * first piece. */
static int gather(napi_env env, napi_value el, struct iovec *iov, size_t *total, uint32_t max_pieces,
                  const uint32_t *span) {
  bool is_ta = false, is_arr = false;
  *total = 0;
  napi_is_typedarray(env, el, &is_ta);
  if (is_ta) {
    napi_typedarray_type t;
    size_t len;
    void *data;
    if (napi_get_typedarray_info(env, el, &t, &len, &data, NULL, NULL) != napi_ok || t != napi_uint8_array)
      return 0;
    if (apply_span(span, &data, &len) != 0) return 0;
    iov[0].iov_base = data;
    iov[0].iov_len = len;
    *total = len;
    return 1;
  }
  napi_is_array(env, el, &is_arr);
  if (!is_arr) return 0;
  uint32_t n = 0;
  napi_get_array_length(env, el, &n);
  if (n > max_pieces) return -1;
  int cnt = 0;
  for (uint32_t i = 0; i < n; i++) {
    napi_value piece;
    napi_typedarray_type t;
    size_t len;
    void *data;
    if (napi_get_element(env, el, i, &piece) != napi_ok) return 0;
    if (napi_get_typedarray_info(env, piece, &t, &len, &data, NULL, NULL) != napi_ok || t != napi_uint8_array)
      return 0;
    if (i == 0 && apply_span(span, &data, &len) != 0) return 0;
    if (len == 0) continue;
    iov[cnt].iov_base = data;
    iov[cnt].iov_len = len;
    *total += len;
    cnt++;
  }
  return cnt;
}

/* Fills `vh` for a TCP super-segment from its headers (the first piece must hold the whole IP and
 * TCP header). Returns 0, or -1 when the packet is not a TCP packet whose headers can be read. */
static int gso_header(const struct iovec *first, uint32_t gso_size, struct virtio_net_hdr *vh) {
  const uint8_t *p = (const uint8_t *)first->iov_base;
  size_t len = first->iov_len;
  if (len < 20 || gso_size == 0 || gso_size > 0xffff) return -1;
  size_t l4;
  uint8_t type;
  if ((p[0] >> 4) == 4) {
    l4 = (size_t)(p[0] & 0x0f) * 4;
    if (l4 < 20 || p[9] != IPPROTO_TCP) return -1;
    type = VIRTIO_NET_HDR_GSO_TCPV4;
  } else if ((p[0] >> 4) == 6) {
    l4 = 40; /* this stack sends no extension headers in front of TCP */
    if (p[6] != IPPROTO_TCP) return -1;
    type = VIRTIO_NET_HDR_GSO_TCPV6;
  } else {
    return -1;
  }
  if (len < l4 + 20) return -1;
  size_t thl = (size_t)(p[l4 + 12] >> 4) * 4;
  if (thl < 20 || len < l4 + thl) return -1;
  /* RFC 3168 §6.1.2: CWR goes on the first segment only; the ECN gso bit says so. */
  if (p[l4 + 13] & 0x80) type |= VIRTIO_NET_HDR_GSO_ECN;
  memset(vh, 0, sizeof *vh);
  vh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  vh->gso_type = type;
  vh->hdr_len = (uint16_t)(l4 + thl);
  vh->gso_size = (uint16_t)gso_size;
  vh->csum_start = (uint16_t)l4;
  vh->csum_offset = 16; /* the TCP checksum field */
  return 0;
}

/* Reads an optional Uint32Array argument; NULL (and *len 0) when it is anything else. */
static const uint32_t *u32_arg(napi_env env, napi_value v, size_t *len) {
  bool is_ta = false;
  *len = 0;
  napi_is_typedarray(env, v, &is_ta);
  if (!is_ta) return NULL;
  napi_typedarray_type t;
  void *data = NULL;
  if (napi_get_typedarray_info(env, v, &t, len, &data, NULL, NULL) != napi_ok || t != napi_uint32_array) {
    *len = 0;
    return NULL;
  }
  return (const uint32_t *)data;
}

/* writePackets(handle, packets: (Uint8Array | Uint8Array[])[], gso?: Uint32Array, spans?: Uint32Array)
 * -> number accepted
 * One writev() per packet: a TUN write is exactly one packet. gso[i] > 0 (vnet only): packet i is
 * a TCP super-segment to be cut into gso[i]-byte segments by the kernel. spans[2i], spans[2i+1]:
 * the offset and length of packet i's header inside its first piece. */
static napi_value js_write_packets(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4], out;
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) {
    napi_throw_type_error(env, "EINVAL", "writePackets(handle, packets[, gso])");
    return NULL;
  }
  tun_handle *h = unwrap(env, argv[0]);
  if (!h) return NULL;
  uint32_t n = 0;
  bool is_arr = false;
  napi_is_array(env, argv[1], &is_arr);
  if (!is_arr) {
    napi_throw_type_error(env, "EINVAL", "packets must be an array");
    return NULL;
  }
  NAPI_CALL(env, napi_get_array_length(env, argv[1], &n));
  size_t gso_len = 0, spans_len = 0;
  const uint32_t *gso = argc > 2 ? u32_arg(env, argv[2], &gso_len) : NULL;
  const uint32_t *spans = argc > 3 ? u32_arg(env, argv[3], &spans_len) : NULL;
  struct virtio_net_hdr vh;
  uint32_t accepted = 0;
  if (h->closed) {
    h->tx_drops += n;
    NAPI_CALL(env, napi_create_uint32(env, 0, &out));
    return out;
  }
  if (h->q_len > 0) flush_queue(h);
  struct iovec iov[MAX_PIECES];
  for (uint32_t i = 0; i < n; i++) {
    napi_value el;
    if (napi_get_element(env, argv[1], i, &el) != napi_ok) break;
    size_t total = 0;
    int base = h->vnet;
    const uint32_t *span = spans && 2 * (size_t)i + 1 < spans_len ? spans + 2 * (size_t)i : NULL;
    int cnt = gather(env, el, iov + base, &total, MAX_PIECES - (uint32_t)base, span);
    if (cnt <= 0) {
      h->tx_errors++;
      h->last_tx_errno = cnt < 0 ? EMSGSIZE : EINVAL;
      continue;
    }
    int is_gso = 0;
    if (base) {
      iov[0].iov_base = zero_vnet_hdr;
      iov[0].iov_len = VNET_HDR_LEN;
      if (gso && i < gso_len && gso[i] > 0) {
        if (gso_header(&iov[1], gso[i], &vh) != 0) {
          h->tx_errors++;
          h->last_tx_errno = EINVAL;
          continue;
        }
        iov[0].iov_base = &vh;
        is_gso = 1;
      }
      cnt++;
      total += VNET_HDR_LEN;
    }
    if (h->q_len > 0) {
      /* Keep order: once something waits, everything after it waits too. */
      int q = enqueue(h, iov, cnt, total);
      accepted += (uint32_t)q;
      if (q && is_gso) h->tx_gso++;
      continue;
    }
    ssize_t r;
    do {
      r = writev(h->fd, iov, cnt);
    } while (r < 0 && errno == EINTR);
    if (r >= 0) {
      h->tx_packets++;
      h->tx_bytes += (double)r - (h->vnet ? VNET_HDR_LEN : 0);
      if (is_gso) h->tx_gso++;
      accepted++;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      h->tx_eagain++;
      int q = enqueue(h, iov, cnt, total);
      accepted += (uint32_t)q;
      if (q && is_gso) h->tx_gso++;
    } else {
      h->tx_errors++;
      h->last_tx_errno = errno;
    }
  }
  update_poll(h);
  NAPI_CALL(env, napi_create_uint32(env, accepted, &out));
  return out;
}

/* ------------------------------------------------------------------ start / close / stats */

/* start(handle, onBatch(slab: ArrayBuffer | null, count: number), meta: Uint32Array) */
static napi_value js_start(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) {
    napi_throw_type_error(env, "EINVAL", "start(handle, onBatch, meta)");
    return NULL;
  }
  tun_handle *h = unwrap(env, argv[0]);
  if (!h) return NULL;
  if (h->closed) {
    napi_throw_error(env, "EBADF", "the TUN device is closed");
    return NULL;
  }
  if (h->cb) {
    napi_throw_error(env, "EBUSY", "already started");
    return NULL;
  }
  napi_valuetype vt;
  napi_typeof(env, argv[1], &vt);
  if (vt != napi_function) {
    napi_throw_type_error(env, "EINVAL", "onBatch must be a function");
    return NULL;
  }
  napi_typedarray_type t;
  size_t len = 0;
  void *data = NULL;
  bool is_ta = false;
  napi_is_typedarray(env, argv[2], &is_ta);
  if (!is_ta || napi_get_typedarray_info(env, argv[2], &t, &len, &data, NULL, NULL) != napi_ok ||
      t != napi_uint32_array || len < 2) {
    napi_throw_type_error(env, "EINVAL", "meta must be a Uint32Array of at least 2 elements");
    return NULL;
  }
  uv_loop_t *loop = NULL;
  NAPI_CALL(env, napi_get_uv_event_loop(env, &loop));
  NAPI_CALL(env, napi_create_reference(env, argv[1], 1, &h->cb));
  NAPI_CALL(env, napi_create_reference(env, argv[2], 1, &h->meta_ref));
  h->meta = (uint32_t *)data;
  h->batch_max = (uint32_t)(len / 2);
  if (h->batch_max > MAX_BATCH) h->batch_max = MAX_BATCH;
  napi_value name;
  napi_create_string_utf8(env, "netstack:tun", NAPI_AUTO_LENGTH, &name);
  if (napi_async_init(env, argv[0], name, &h->actx) == napi_ok) h->has_actx = 1;
  if (!h->self_strong && napi_reference_ref(env, h->self, NULL) == napi_ok) h->self_strong = 1;
  if (!h->poll_inited) {
    int r = uv_poll_init(loop, &h->poll, h->fd);
    if (r != 0) {
      throw_errno(env, "uv_poll_init", -r);
      return NULL;
    }
    h->poll.data = h;
    h->poll_inited = 1;
    h->poll_closed = 0;
    if (!h->refed) uv_unref((uv_handle_t *)&h->poll);
  }
  h->reading = 1;
  update_poll(h);
  return NULL;
}

/* setReading(handle, on): pause or resume reads (backpressure); writes keep working. */
static napi_value js_set_reading(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tun_handle *h = argc > 0 ? unwrap(env, argv[0]) : NULL;
  if (!h) return NULL;
  bool on = true;
  if (argc > 1) napi_get_value_bool(env, argv[1], &on);
  if (!h->closed && h->cb) {
    h->reading = on ? 1 : 0;
    update_poll(h);
  }
  return NULL;
}

/* setRef(handle, ref): whether an open device keeps the event loop alive (default: yes). */
static napi_value js_set_ref(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tun_handle *h = argc > 0 ? unwrap(env, argv[0]) : NULL;
  if (!h) return NULL;
  bool on = true;
  if (argc > 1) napi_get_value_bool(env, argv[1], &on);
  h->refed = on ? 1 : 0;
  if (h->poll_inited && !h->closed) {
    if (on) uv_ref((uv_handle_t *)&h->poll);
    else uv_unref((uv_handle_t *)&h->poll);
  }
  return NULL;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tun_handle *h = argc > 0 ? unwrap(env, argv[0]) : NULL;
  if (!h) return NULL;
  close_handle(h, 0);
  return NULL;
}

static void set_num(napi_env env, napi_value obj, const char *k, double v) {
  napi_value n;
  napi_create_double(env, v, &n);
  napi_set_named_property(env, obj, k, n);
}

static napi_value js_stats(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], o;
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tun_handle *h = argc > 0 ? unwrap(env, argv[0]) : NULL;
  if (!h) return NULL;
  NAPI_CALL(env, napi_create_object(env, &o));
  set_num(env, o, "rxPackets", h->rx_packets);
  set_num(env, o, "rxBytes", h->rx_bytes);
  set_num(env, o, "rxBatches", h->rx_batches);
  set_num(env, o, "rxErrors", h->rx_errors);
  set_num(env, o, "txPackets", h->tx_packets);
  set_num(env, o, "txBytes", h->tx_bytes);
  set_num(env, o, "txQueued", h->tx_queued);
  set_num(env, o, "txDrops", h->tx_drops);
  set_num(env, o, "txErrors", h->tx_errors);
  set_num(env, o, "txEagain", h->tx_eagain);
  set_num(env, o, "txGsoPackets", h->tx_gso);
  set_num(env, o, "queueLength", h->q_len);
  set_num(env, o, "lastRxErrno", h->last_rx_errno);
  set_num(env, o, "lastTxErrno", h->last_tx_errno);
  return o;
}

/* ------------------------------------------------------------------ interface configuration
 * These act on an interface by name in the calling process's network namespace, like `ip link`
 * and `ip addr` would. The project only calls them inside namespaces it created. */

static int ifreq_for(napi_env env, napi_value v, struct ifreq *ifr) {
  char name[IFNAMSIZ];
  if (read_ifname(env, v, name, 0) != 0) return -1;
  memset(ifr, 0, sizeof *ifr);
  memcpy(ifr->ifr_name, name, IFNAMSIZ);
  return 0;
}

static int ctl_socket(napi_env env, int family) {
  int s = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) throw_errno(env, family == AF_INET6 ? "socket(AF_INET6)" : "socket(AF_INET)", errno);
  return s;
}

/* Runs one ioctl on an AF_INET control socket; throws on failure. */
static int if_ioctl(napi_env env, unsigned long req, struct ifreq *ifr, const char *what) {
  int s = ctl_socket(env, AF_INET);
  if (s < 0) return -1;
  int r = ioctl(s, req, ifr);
  int e = errno;
  close(s);
  if (r < 0) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s %.*s", what, IFNAMSIZ, ifr->ifr_name);
    throw_errno(env, msg, e);
    return -1;
  }
  return 0;
}

static napi_value js_if_get_mtu(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct ifreq ifr;
  if (argc < 1 || ifreq_for(env, argv[0], &ifr) != 0) return NULL;
  if (if_ioctl(env, SIOCGIFMTU, &ifr, "SIOCGIFMTU") != 0) return NULL;
  NAPI_CALL(env, napi_create_int32(env, ifr.ifr_mtu, &out));
  return out;
}

static napi_value js_if_set_mtu(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct ifreq ifr;
  if (argc < 2 || ifreq_for(env, argv[0], &ifr) != 0) return NULL;
  int32_t mtu = 0;
  NAPI_CALL(env, napi_get_value_int32(env, argv[1], &mtu));
  ifr.ifr_mtu = mtu;
  if_ioctl(env, SIOCSIFMTU, &ifr, "SIOCSIFMTU");
  return NULL;
}

static napi_value js_if_get_flags(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct ifreq ifr;
  if (argc < 1 || ifreq_for(env, argv[0], &ifr) != 0) return NULL;
  if (if_ioctl(env, SIOCGIFFLAGS, &ifr, "SIOCGIFFLAGS") != 0) return NULL;
  NAPI_CALL(env, napi_create_int32(env, (unsigned short)ifr.ifr_flags, &out));
  return out;
}

static napi_value js_if_set_up(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct ifreq ifr;
  if (argc < 2 || ifreq_for(env, argv[0], &ifr) != 0) return NULL;
  bool up = true;
  napi_get_value_bool(env, argv[1], &up);
  if (if_ioctl(env, SIOCGIFFLAGS, &ifr, "SIOCGIFFLAGS") != 0) return NULL;
  if (up) ifr.ifr_flags |= IFF_UP;
  else ifr.ifr_flags &= ~IFF_UP;
  if_ioctl(env, SIOCSIFFLAGS, &ifr, "SIOCSIFFLAGS");
  return NULL;
}

static napi_value js_if_set_txqlen(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct ifreq ifr;
  if (argc < 2 || ifreq_for(env, argv[0], &ifr) != 0) return NULL;
  int32_t q = 0;
  NAPI_CALL(env, napi_get_value_int32(env, argv[1], &q));
  ifr.ifr_qlen = q;
  if_ioctl(env, SIOCSIFTXQLEN, &ifr, "SIOCSIFTXQLEN");
  return NULL;
}

static napi_value js_if_index(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct ifreq ifr;
  if (argc < 1 || ifreq_for(env, argv[0], &ifr) != 0) return NULL;
  if (if_ioctl(env, SIOCGIFINDEX, &ifr, "SIOCGIFINDEX") != 0) return NULL;
  NAPI_CALL(env, napi_create_int32(env, ifr.ifr_ifindex, &out));
  return out;
}

/* ifSetAddress4(name, "a.b.c.d", prefixLen): SIOCSIFADDR then SIOCSIFNETMASK. */
static napi_value js_if_set_addr4(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct ifreq ifr;
  if (argc < 3 || ifreq_for(env, argv[0], &ifr) != 0) return NULL;
  char text[64];
  int32_t prefix = 0;
  if (get_string(env, argv[1], text, sizeof text, NULL) != 0) return NULL;
  NAPI_CALL(env, napi_get_value_int32(env, argv[2], &prefix));
  struct in_addr a;
  if (inet_pton(AF_INET, text, &a) != 1 || prefix < 0 || prefix > 32) {
    napi_throw_error(env, "EINVAL", "invalid IPv4 address or prefix length");
    return NULL;
  }
  struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
  sin->sin_family = AF_INET;
  sin->sin_addr = a;
  if (if_ioctl(env, SIOCSIFADDR, &ifr, "SIOCSIFADDR") != 0) return NULL;
  sin = (struct sockaddr_in *)&ifr.ifr_netmask;
  memset(sin, 0, sizeof *sin);
  sin->sin_family = AF_INET;
  sin->sin_addr.s_addr = htonl(prefix == 0 ? 0 : 0xffffffffu << (32 - prefix));
  if_ioctl(env, SIOCSIFNETMASK, &ifr, "SIOCSIFNETMASK");
  return NULL;
}

/* ifSetAddress6(name, "addr", prefixLen): SIOCSIFADDR on an AF_INET6 socket with in6_ifreq. */
static napi_value js_if_set_addr6(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct ifreq ifr;
  if (argc < 3 || ifreq_for(env, argv[0], &ifr) != 0) return NULL;
  char text[64];
  int32_t prefix = 0;
  if (get_string(env, argv[1], text, sizeof text, NULL) != 0) return NULL;
  NAPI_CALL(env, napi_get_value_int32(env, argv[2], &prefix));
  struct tun_in6_ifreq r6;
  memset(&r6, 0, sizeof r6);
  if (inet_pton(AF_INET6, text, &r6.ifr6_addr) != 1 || prefix < 0 || prefix > 128) {
    napi_throw_error(env, "EINVAL", "invalid IPv6 address or prefix length");
    return NULL;
  }
  if (if_ioctl(env, SIOCGIFINDEX, &ifr, "SIOCGIFINDEX") != 0) return NULL;
  r6.ifr6_ifindex = ifr.ifr_ifindex;
  r6.ifr6_prefixlen = (uint32_t)prefix;
  int s = ctl_socket(env, AF_INET6);
  if (s < 0) return NULL;
  int rc = ioctl(s, SIOCSIFADDR, &r6);
  int e = errno;
  close(s);
  if (rc < 0) {
    char msg[96];
    snprintf(msg, sizeof msg, "SIOCSIFADDR (IPv6) %.*s", IFNAMSIZ, ifr.ifr_name);
    throw_errno(env, msg, e);
  }
  return NULL;
}

static napi_value js_if_get_hwaddr(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], ab, out;
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct ifreq ifr;
  if (argc < 1 || ifreq_for(env, argv[0], &ifr) != 0) return NULL;
  if (if_ioctl(env, SIOCGIFHWADDR, &ifr, "SIOCGIFHWADDR") != 0) return NULL;
  void *d;
  NAPI_CALL(env, napi_create_arraybuffer(env, 6, &d, &ab));
  memcpy(d, ifr.ifr_hwaddr.sa_data, 6);
  NAPI_CALL(env, napi_create_typedarray(env, napi_uint8_array, 6, ab, 0, &out));
  return out;
}

/* ------------------------------------------------------------------ module */

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"open", NULL, js_open, NULL, NULL, NULL, napi_enumerable, NULL},
    {"start", NULL, js_start, NULL, NULL, NULL, napi_enumerable, NULL},
    {"setReading", NULL, js_set_reading, NULL, NULL, NULL, napi_enumerable, NULL},
    {"setRef", NULL, js_set_ref, NULL, NULL, NULL, napi_enumerable, NULL},
    {"writePackets", NULL, js_write_packets, NULL, NULL, NULL, napi_enumerable, NULL},
    {"close", NULL, js_close, NULL, NULL, NULL, napi_enumerable, NULL},
    {"stats", NULL, js_stats, NULL, NULL, NULL, napi_enumerable, NULL},
    {"ifGetMtu", NULL, js_if_get_mtu, NULL, NULL, NULL, napi_enumerable, NULL},
    {"ifSetMtu", NULL, js_if_set_mtu, NULL, NULL, NULL, napi_enumerable, NULL},
    {"ifGetFlags", NULL, js_if_get_flags, NULL, NULL, NULL, napi_enumerable, NULL},
    {"ifSetUp", NULL, js_if_set_up, NULL, NULL, NULL, napi_enumerable, NULL},
    {"ifSetTxQueueLen", NULL, js_if_set_txqlen, NULL, NULL, NULL, napi_enumerable, NULL},
    {"ifIndex", NULL, js_if_index, NULL, NULL, NULL, napi_enumerable, NULL},
    {"ifSetAddress4", NULL, js_if_set_addr4, NULL, NULL, NULL, napi_enumerable, NULL},
    {"ifSetAddress6", NULL, js_if_set_addr6, NULL, NULL, NULL, napi_enumerable, NULL},
    {"ifGetHwAddr", NULL, js_if_get_hwaddr, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
