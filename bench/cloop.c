/*
 * The physical limit of this machine for one scan probe: a minimal C epoll loop, compiled by
 * bench/scan.ts with `cc -O2` into its temp dir at bench time. N connections in flight; each
 * does a non-blocking connect, writes one request (redscope's, or INFO+QUIT), reads until the
 * server closes or a byte bound, and closes. Per-connection deadlines: a connect budget, then a
 * read budget re-armed by every chunk (the same budgets as redscope's --connect-timeout and
 * --read-timeout). No parsing, no output per target.
 *
 *   cloop --targets FILE [--concurrency N] [--request FILE] [--connect-timeout-ms 5000]
 *         [--read-timeout-ms 5000] [--max-bytes 262144] [--limit N] [--max-runtime-ms 300000]
 *         [--dump FILE]
 *
 * FILE: one target a line, `a.b.c.d` (port --port, default 6379) or `a.b.c.d:port`. Prints one
 * JSON object: targets, ok (bytes received and closed by the server or the byte bound),
 * refused, timeouts, errors, bytes, seconds, probesPerSec, peakRssKB (VmHWM), nofile.
 * --dump FILE (one target only): also write the bytes received to FILE (the bench records a real
 * server's reply for bench/responder.c this way, from inside its namespace).
 * Exit 2 on a usage error, 3 when the max runtime was reached (what it has is still printed).
 *
 * Deadlines: every connect shares one budget and every read one, so a deadline armed later is
 * never earlier than one armed before it. Two FIFO lists (connecting, reading), each ordered by
 * deadline, give O(1) arm, re-arm and expiry without a heap or a wheel.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { FREE = 0, CONNECTING = 1, READING = 2 };

struct conn {
  int fd;
  int state;
  uint64_t deadline; /* ms, monotonic */
  uint32_t bytes;
  int prev, next; /* in the list of its state */
};

struct list {
  int head, tail;
};

static struct conn *conns;
static struct list lists[3];
static int *freelist;
static int nfree;

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void unlink_conn(int i) {
  struct conn *c = &conns[i];
  struct list *l = &lists[c->state];
  if (c->prev >= 0) conns[c->prev].next = c->next; else l->head = c->next;
  if (c->next >= 0) conns[c->next].prev = c->prev; else l->tail = c->prev;
  c->prev = c->next = -1;
}

static void append(int i, int state, uint64_t deadline) {
  struct conn *c = &conns[i];
  struct list *l = &lists[state];
  c->state = state;
  c->deadline = deadline;
  c->next = -1;
  c->prev = l->tail;
  if (l->tail >= 0) conns[l->tail].next = i; else l->head = i;
  l->tail = i;
}

static void die_usage(const char *msg) {
  fprintf(stderr, "cloop: %s\n", msg);
  exit(2);
}

static long arg_long(const char *name, const char *v, long lo, long hi) {
  char *end;
  if (v == NULL) die_usage("missing value");
  long n = strtol(v, &end, 10);
  if (*end != '\0' || n < lo || n > hi) {
    fprintf(stderr, "cloop: %s: expected an integer in [%ld, %ld]\n", name, lo, hi);
    exit(2);
  }
  return n;
}

static long vmhwm_kb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kb = -1;
  if (!f) return -1;
  while (fgets(line, sizeof line, f))
    if (strncmp(line, "VmHWM:", 6) == 0) kb = strtol(line + 6, NULL, 10);
  fclose(f);
  return kb;
}

int main(int argc, char **argv) {
  const char *targets_file = NULL, *request_file = NULL, *dump_file = NULL;
  long concurrency = 1000, connect_ms = 5000, read_ms = 5000, max_bytes = 262144;
  long limit = 0, max_runtime_ms = 300000, default_port = 6379;
  for (int i = 1; i < argc; i++) {
    const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(k, "--targets")) targets_file = v;
    else if (!strcmp(k, "--request")) request_file = v;
    else if (!strcmp(k, "--dump")) dump_file = v;
    else if (!strcmp(k, "--concurrency")) concurrency = arg_long(k, v, 1, 1000000);
    else if (!strcmp(k, "--connect-timeout-ms")) connect_ms = arg_long(k, v, 1, 3600000);
    else if (!strcmp(k, "--read-timeout-ms")) read_ms = arg_long(k, v, 1, 3600000);
    else if (!strcmp(k, "--max-bytes")) max_bytes = arg_long(k, v, 1, 1 << 30);
    else if (!strcmp(k, "--limit")) limit = arg_long(k, v, 1, 100000000);
    else if (!strcmp(k, "--max-runtime-ms")) max_runtime_ms = arg_long(k, v, 1, 86400000);
    else if (!strcmp(k, "--port")) default_port = arg_long(k, v, 1, 65535);
    else die_usage("unknown option");
    if (v == NULL) die_usage("missing value");
    i++;
  }
  if (!targets_file) die_usage("--targets FILE is required");

  /* The request: a file's bytes, else INFO then QUIT (the server answers both and closes). */
  static char request[65536];
  size_t request_len;
  if (request_file) {
    FILE *f = fopen(request_file, "rb");
    if (!f) die_usage("cannot open --request file");
    request_len = fread(request, 1, sizeof request, f);
    fclose(f);
    if (request_len == 0 || request_len == sizeof request) die_usage("bad --request file");
  } else {
    const char *iq = "*1\r\n$4\r\nINFO\r\n*1\r\n$4\r\nQUIT\r\n";
    request_len = strlen(iq);
    memcpy(request, iq, request_len);
  }

  /* Targets, parsed up front (the list is not part of the loop's cost). */
  FILE *tf = fopen(targets_file, "r");
  if (!tf) die_usage("cannot open --targets file");
  size_t cap = 1 << 16, n = 0;
  struct sockaddr_in *addrs = malloc(cap * sizeof *addrs);
  char line[128];
  while (fgets(line, sizeof line, tf)) {
    char *nl = strpbrk(line, "\r\n");
    if (nl) *nl = '\0';
    if (line[0] == '\0') continue;
    long port = default_port;
    char *colon = strchr(line, ':');
    if (colon) {
      *colon = '\0';
      port = arg_long("port in --targets", colon + 1, 1, 65535);
    }
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, line, &sa.sin_addr) != 1) die_usage("bad address in --targets");
    if (n == cap) addrs = realloc(addrs, (cap *= 2) * sizeof *addrs);
    addrs[n++] = sa;
    if (limit > 0 && (long)n >= limit) break;
  }
  fclose(tf);

  FILE *dump = NULL;
  if (dump_file) {
    if (n != 1) die_usage("--dump needs exactly one target");
    dump = fopen(dump_file, "wb");
    if (!dump) die_usage("cannot open --dump file");
  }

  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  if ((rlim_t)concurrency + 16 > rl.rlim_cur) {
    fprintf(stderr, "cloop: open-file limit %llu < concurrency %ld + 16\n",
            (unsigned long long)rl.rlim_cur, concurrency);
    return 2;
  }

  conns = calloc((size_t)concurrency, sizeof *conns);
  freelist = malloc((size_t)concurrency * sizeof *freelist);
  for (long i = 0; i < concurrency; i++) freelist[nfree++] = (int)(concurrency - 1 - i);
  for (int s = 0; s < 3; s++) lists[s].head = lists[s].tail = -1;
  int ep = epoll_create1(0);
  struct epoll_event *events = malloc(1024 * sizeof *events);
  static char rbuf[65536];

  size_t next = 0;
  long inflight = 0, ok = 0, refused = 0, timeouts = 0, errors = 0;
  unsigned long long bytes = 0;
  uint64_t t0 = now_ms();
  int exit_code = 0;

  for (;;) {
    /* Fill the free slots. */
    while (nfree > 0 && next < n) {
      int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) {
        errors++;
        next++;
        continue;
      }
      int r = connect(fd, (struct sockaddr *)&addrs[next++], sizeof(struct sockaddr_in));
      if (r < 0 && errno != EINPROGRESS) {
        if (errno == ECONNREFUSED) refused++; else errors++;
        close(fd);
        continue;
      }
      int i = freelist[--nfree];
      conns[i].fd = fd;
      conns[i].bytes = 0;
      append(i, CONNECTING, now_ms() + (uint64_t)connect_ms);
      struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = (uint32_t)i};
      epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
      inflight++;
    }
    if (inflight == 0 && next >= n) break;
    uint64_t now = now_ms();
    if (now - t0 > (uint64_t)max_runtime_ms) {
      fprintf(stderr, "cloop: max runtime %ld ms reached\n", max_runtime_ms);
      exit_code = 3;
      break;
    }
    /* Sleep until the earliest deadline at most. */
    uint64_t wake = now + 1000;
    for (int s = CONNECTING; s <= READING; s++)
      if (lists[s].head >= 0 && conns[lists[s].head].deadline < wake)
        wake = conns[lists[s].head].deadline;
    int timeout = wake > now ? (int)(wake - now) : 0;
    int ne = epoll_wait(ep, events, 1024, timeout);
    if (ne < 0 && errno != EINTR) {
      perror("cloop: epoll_wait");
      return 1;
    }
    now = now_ms();
    for (int e = 0; e < ne; e++) {
      int i = (int)events[e].data.u32;
      struct conn *c = &conns[i];
      if (c->state == FREE) continue;
      int done = 0;
      if (c->state == CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
          if (err == ECONNREFUSED) refused++; else errors++;
          done = 1;
        } else {
          /* The request is small: one write fits the empty send buffer. */
          if (write(c->fd, request, request_len) != (ssize_t)request_len) {
            errors++;
            done = 1;
          } else {
            unlink_conn(i);
            append(i, READING, now + (uint64_t)read_ms);
            struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u32 = (uint32_t)i};
            epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
          }
        }
      } else {
        for (;;) {
          ssize_t r = read(c->fd, rbuf, sizeof rbuf);
          if (r > 0) {
            c->bytes += (uint32_t)r;
            bytes += (unsigned long long)r;
            if (dump) fwrite(rbuf, 1, (size_t)r, dump);
            if (c->bytes >= (uint32_t)max_bytes) {
              ok++;
              done = 1;
              break;
            }
            continue;
          }
          if (r == 0) {
            if (c->bytes > 0) ok++; else errors++;
            done = 1;
          } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
            errors++;
            done = 1;
          } else {
            /* Bytes arrived: the read budget starts again. */
            unlink_conn(i);
            append(i, READING, now + (uint64_t)read_ms);
          }
          break;
        }
      }
      if (done) {
        unlink_conn(i);
        close(c->fd);
        c->state = FREE;
        freelist[nfree++] = i;
        inflight--;
      }
    }
    /* Expire: each list is ordered by deadline, so only heads need looking at. */
    for (int s = CONNECTING; s <= READING; s++) {
      while (lists[s].head >= 0 && conns[lists[s].head].deadline <= now) {
        int i = lists[s].head;
        unlink_conn(i);
        close(conns[i].fd);
        conns[i].state = FREE;
        freelist[nfree++] = i;
        inflight--;
        timeouts++;
      }
    }
  }
  if (dump) fclose(dump);
  double seconds = (double)(now_ms() - t0) / 1000.0;
  printf("{\"targets\":%zu,\"ok\":%ld,\"refused\":%ld,\"timeouts\":%ld,\"errors\":%ld,"
         "\"bytes\":%llu,\"seconds\":%.3f,\"probesPerSec\":%.1f,\"peakRssKB\":%ld,"
         "\"nofile\":%llu}\n",
         n, ok, refused, timeouts, errors, bytes, seconds, seconds > 0 ? (double)n / seconds : 0.0,
         vmhwm_kb(), (unsigned long long)rl.rlim_cur);
  return exit_code;
}
