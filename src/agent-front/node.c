/*
 * The Node.js agent behind the front: started at the first request the front does not serve (files,
 * processes, ports), fed those requests as they came, and its answers passed on frame by frame.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "front.h"

static char **node_argv;
static pid_t pid = -1;
static int to_fd = -1, from_fd = -1;
static bool ready, close_when_drained;
static buf_t to_node, line;
/* Bytes of a frame body still to pass on after its header line. */
static uint64_t body_left;

void node_init(char **argv) { node_argv = argv; }
bool node_started(void) { return pid > 0; }
size_t node_backlog(void) { return buf_size(&to_node); }

void node_start(void) {
  if (pid > 0) return;
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC)) {
    perror("agent front: pipe");
    _exit(1);
  }
  pid = fork();
  if (pid < 0) {
    perror("agent front: fork");
    _exit(1);
  }
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    sigset_t none;
    sigemptyset(&none);
    for (int sig = 1; sig < NSIG; sig++) signal(sig, SIG_DFL);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execv(node_argv[0], node_argv);
    perror("agent front: cannot start the Node.js agent");
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  to_fd = in[1];
  from_fd = out[0];
  fcntl(to_fd, F_SETFL, O_NONBLOCK);
  fcntl(from_fd, F_SETFL, O_NONBLOCK);
}

void node_send(const char *data, size_t n) { buf_put(&to_node, data, n); }

void node_close_input(void) {
  close_when_drained = true;
  if (!buf_size(&to_node) && to_fd >= 0) {
    close(to_fd);
    to_fd = -1;
  }
}

int node_poll_fds(struct pollfd *fds, int max, bool may_read) {
  int n = 0;
  if (to_fd >= 0 && buf_size(&to_node) && n < max) fds[n++] = (struct pollfd){to_fd, POLLOUT, 0};
  if (from_fd >= 0 && may_read && n < max) fds[n++] = (struct pollfd){from_fd, POLLIN, 0};
  return n;
}

/* protocol.ts: a line with a body ends `,"$len":N}` (frameHeader puts $bin and $len last). */
static uint64_t body_length(const char *p, size_t n) {
  if (n < 9 || p[n - 1] != '}') return 0;
  size_t i = n - 1;
  while (i > 0 && p[i - 1] >= '0' && p[i - 1] <= '9') i--;
  static const char key[] = "\"$len\":";
  size_t k = sizeof key - 1;
  if (i == n - 1 || i < k || memcmp(p + i - k, key, k)) return 0;
  return strtoull(p + i, NULL, 10);
}

static void on_line(const char *p, size_t n) {
  if (!ready) {
    ready = true; /* its {"ready":true,...}: the server has the front's */
    on_node_ready();
    return;
  }
  body_left = body_length(p, n);
  out_frame_bytes(p, n, false);
  out_frame_bytes("\n", 1, body_left == 0);
}

static void on_output(const char *p, size_t n) {
  while (n) {
    if (body_left) {
      size_t take = n < body_left ? n : (size_t)body_left;
      body_left -= take;
      out_frame_bytes(p, take, body_left == 0);
      p += take, n -= take;
      continue;
    }
    const char *nl = memchr(p, '\n', n);
    if (!nl) {
      buf_put(&line, p, n);
      return;
    }
    size_t part = (size_t)(nl - p);
    if (line.len) {
      buf_put(&line, p, part);
      buf_t whole = line;
      line = (buf_t){0};
      on_line(whole.p, whole.len);
      buf_free(&whole);
    } else on_line(p, part);
    p += part + 1, n -= part + 1;
  }
}

void node_on_ready(int fd, short revents) {
  if (fd == to_fd) {
    ssize_t put = write(to_fd, buf_data(&to_node), buf_size(&to_node));
    if (put > 0) buf_consume(&to_node, (size_t)put);
    else if (put < 0 && errno != EAGAIN && errno != EINTR) buf_consume(&to_node, buf_size(&to_node));
    if (close_when_drained && !buf_size(&to_node)) node_close_input();
    return;
  }
  static char chunk[65536];
  for (int reads = 0; reads < 16; reads++) {
    ssize_t got = read(from_fd, chunk, sizeof chunk);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0 && errno == EAGAIN) return;
    if (got <= 0) {
      close(from_fd);
      from_fd = -1;
      return;
    }
    on_output(chunk, (size_t)got);
  }
  (void)revents;
}

bool node_on_exit(pid_t exited) {
  if (pid <= 0 || exited != pid) return false;
  pid = -1;
  return true;
}
