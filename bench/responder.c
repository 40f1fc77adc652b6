/*
 * A responder that costs little, for measuring a scanner's own scaling (bench/scan.ts, "worker
 * scaling"): it answers every connection with the same canned bytes — a real redis-server's
 * reply to redscope's request, recorded by the bench — once the request has arrived, and
 * closes. No parsing, no state beyond one small struct per connection. Compiled with `cc -O2`
 * by the bench into its temp dir and run only inside the bench's network namespace.
 *
 *   responder --reply FILE [--port 6379] [--bind 0.0.0.0] [--min-request N] [--threads T]
 *
 * --min-request: answer once this many bytes have arrived (the request's length), so the close
 * does not find unread bytes (which would turn the FIN into a RST). --threads: T accept loops
 * on T SO_REUSEPORT listeners. Runs until killed; prints "listening" on stdout when ready.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static char *reply;
static size_t reply_len;
static long min_request = 1;
static long port = 6379;
static const char *bind_addr = "0.0.0.0";

struct client {
  int fd;
  uint32_t got;
  uint32_t sent; /* bytes of the reply written; > 0 once answering */
};

static int listen_socket(void) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, bind_addr, &sa.sin_addr) != 1) {
    fprintf(stderr, "responder: bad --bind\n");
    exit(2);
  }
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 65535) < 0) {
    perror("responder: bind/listen");
    exit(1);
  }
  return fd;
}

static void finish(int ep, struct client *c) {
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  free(c);
}

/* Write what is left of the reply; 1 when the client is done with (closed or failed). */
static int send_reply(struct client *c) {
  while (c->sent < reply_len) {
    ssize_t w = write(c->fd, reply + c->sent, reply_len - c->sent);
    if (w > 0) c->sent += (uint32_t)w;
    else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    else return 1;
  }
  return 1;
}

static void *loop(void *arg) {
  int lfd = *(int *)arg;
  int ep = epoll_create1(0);
  struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
  struct epoll_event events[512];
  char buf[16384];
  for (;;) {
    int n = epoll_wait(ep, events, 512, -1);
    for (int e = 0; e < n; e++) {
      struct client *c = events[e].data.ptr;
      if (c == NULL) {
        for (;;) {
          int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (fd < 0) break;
          struct client *nc = calloc(1, sizeof *nc);
          nc->fd = fd;
          struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = nc};
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        }
        continue;
      }
      if (c->sent > 0) {
        /* Was waiting for room to write the rest. */
        if (send_reply(c)) finish(ep, c);
        continue;
      }
      int closed = 0;
      for (;;) {
        ssize_t r = read(c->fd, buf, sizeof buf);
        if (r > 0) {
          c->got += (uint32_t)r;
          continue;
        }
        if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) closed = 1;
        break;
      }
      if (c->got >= (uint32_t)min_request) {
        if (send_reply(c)) finish(ep, c);
        else {
          struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
          epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        }
      } else if (closed) {
        finish(ep, c);
      }
    }
  }
  return NULL;
}

static long arg_long(const char *name, const char *v, long lo, long hi) {
  char *end;
  long n = v ? strtol(v, &end, 10) : 0;
  if (v == NULL || *end != '\0' || n < lo || n > hi) {
    fprintf(stderr, "responder: %s: expected an integer in [%ld, %ld]\n", name, lo, hi);
    exit(2);
  }
  return n;
}

int main(int argc, char **argv) {
  const char *reply_file = NULL;
  long threads = 1;
  for (int i = 1; i < argc; i += 2) {
    const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (v == NULL) {
      fprintf(stderr, "responder: missing value for %s\n", k);
      return 2;
    }
    if (!strcmp(k, "--reply")) reply_file = v;
    else if (!strcmp(k, "--port")) port = arg_long(k, v, 1, 65535);
    else if (!strcmp(k, "--bind")) bind_addr = v;
    else if (!strcmp(k, "--min-request")) min_request = arg_long(k, v, 1, 1 << 20);
    else if (!strcmp(k, "--threads")) threads = arg_long(k, v, 1, 64);
    else {
      fprintf(stderr, "responder: unknown option %s\n", k);
      return 2;
    }
  }
  if (!reply_file) {
    fprintf(stderr, "responder: --reply FILE is required\n");
    return 2;
  }
  FILE *f = fopen(reply_file, "rb");
  if (!f) {
    perror("responder: --reply");
    return 2;
  }
  reply = malloc(1 << 20);
  reply_len = fread(reply, 1, 1 << 20, f);
  fclose(f);
  if (reply_len == 0 || reply_len == 1 << 20) {
    fprintf(stderr, "responder: --reply must hold 1 byte to 1 MB\n");
    return 2;
  }
  pthread_t tids[64];
  int fds[64];
  for (long t = 0; t < threads; t++) fds[t] = listen_socket();
  for (long t = 0; t < threads; t++) pthread_create(&tids[t], NULL, loop, &fds[t]);
  printf("listening\n");
  fflush(stdout);
  for (long t = 0; t < threads; t++) pthread_join(tids[t], NULL);
  return 0;
}
