/*
 * The front's event loop: requests from the server on stdin, answers and events to it on stdout, the
 * commands' pipes, and the Node.js agent's (front.h says why there is a front).
 * Usage: front <node> [node flags...] <main.cjs>, with the agent's environment (provider.ts agentEnv).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "front.h"

/* Past this much waiting to go out, the front stops reading what would add to it. */
#define BACKLOG_BYTES (16u << 20)
/* main.ts MAX_REQUEST_BODY_BYTES: the largest body a request carries. */
#define MAX_REQUEST_BODY (1ull << 30)
#define MAX_FDS 1024

static buf_t out, deferred, in;
static bool frame_open, ready_sent, stdin_done;
static uint64_t forward_left;
static const char *workdir, *home;
/* SANDBOX_BASE_ENV: every command's environment before its request's variables. */
static env_t base_env;

double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1000 + (double)t.tv_nsec / 1e6;
}

/* A message of the front's own: whole, and never inside a frame of the Node.js agent's. */
void emit(buf_t *message) { buf_put(frame_open ? &deferred : &out, message->p, message->len); }

void out_frame_bytes(const char *data, size_t n, bool frame_complete) {
  buf_put(&out, data, n);
  frame_open = !frame_complete;
  if (!frame_open && deferred.len) {
    buf_put(&out, deferred.p, deferred.len);
    deferred.len = 0;
  }
}

static void send_ready(void) {
  buf_t msg = {0};
  buf_printf(&msg, "{\"ready\":true,\"pid\":%d}\n", (int)getpid());
  emit(&msg);
  buf_free(&msg);
  ready_sent = true;
}

void on_node_ready(void) {
  if (!ready_sent) send_ready();
}

void put_reply_id(buf_t *msg, span_t id) {
  buf_puts(msg, "{\"id\":");
  buf_put(msg, id.p ? id.p : "null", id.p ? id.n : 4);
}

void reply_error(span_t id, const char *code, const char *message, const char *hint) {
  buf_t msg = {0};
  put_reply_id(&msg, id);
  buf_puts(&msg, ",\"ok\":false,\"error\":{\"code\":");
  json_put_string(&msg, code);
  buf_puts(&msg, ",\"message\":");
  json_put_string(&msg, message);
  if (hint) {
    buf_puts(&msg, ",\"hint\":");
    json_put_string(&msg, hint);
  }
  buf_puts(&msg, "}}\n");
  emit(&msg);
  buf_free(&msg);
}

static void flush_out(void) {
  while (buf_size(&out)) {
    ssize_t put = write(1, buf_data(&out), buf_size(&out));
    if (put > 0) buf_consume(&out, (size_t)put);
    else if (put < 0 && errno == EINTR) continue;
    else if (put < 0 && errno == EAGAIN) return;
    else _exit(0); /* the server is gone: so is the sandbox */
  }
}

static void stop(const char *reason) {
  fprintf(stderr, "agent: unreadable request (%s); stopping\n", reason);
  if (node_started()) node_close_input();
  flush_out();
  _exit(1);
}

static bool op_is(span_t op, const char *name) {
  size_t n = strlen(name);
  return op.n == n + 2 && op.p[0] == '"' && !memcmp(op.p + 1, name, n);
}

static void on_request(const char *line, size_t n) {
  request_t req;
  if (json_parse_request(line, n, &req)) stop("a line that is not a JSON object");
  if (!req.len.p && op_is(req.op, "exec")) return exec_start(&req, &base_env, workdir, home);
  if (!req.len.p && op_is(req.op, "cancel")) return exec_cancel(&req);
  /* Once the Node.js agent runs, it answers pings: the server's liveness check (agent-client.ts) then
     covers the process that serves files too, not only the front. */
  if (!req.len.p && op_is(req.op, "ping") && !node_started()) {
    buf_t msg = {0};
    put_reply_id(&msg, req.id);
    buf_printf(&msg, ",\"ok\":true,\"result\":{\"pid\":%d}}\n", (int)getpid());
    emit(&msg);
    return buf_free(&msg);
  }
  double len = 0;
  if (req.len.p && (!json_number(req.len, &len) || len < 0 || len > (double)MAX_REQUEST_BODY || len != floor(len)))
    stop("$len is not a byte count");
  node_start();
  node_send(line, n);
  node_send("\n", 1);
  forward_left = (uint64_t)len;
}

static void on_input(void) {
  while (buf_size(&in)) {
    const char *p = buf_data(&in);
    size_t n = buf_size(&in);
    if (forward_left) {
      size_t take = n < forward_left ? n : (size_t)forward_left;
      node_send(p, take);
      forward_left -= take;
      buf_consume(&in, take);
      continue;
    }
    const char *nl = memchr(p, '\n', n);
    if (!nl) return;
    size_t len = (size_t)(nl - p);
    if (len) on_request(p, len);
    buf_consume(&in, len + 1);
  }
}

static void read_stdin(void) {
  static char chunk[65536];
  ssize_t got = read(0, chunk, sizeof chunk);
  if (got < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (got <= 0) {
    /* The server closing our stdin means the sandbox is over (main.ts): the Node.js agent stops its
       background processes when its own input ends. */
    stdin_done = true;
    if (node_started()) node_close_input();
    return;
  }
  buf_put(&in, chunk, (size_t)got);
  on_input();
}

static void reap(int sigfd) {
  struct signalfd_siginfo info;
  while (read(sigfd, &info, sizeof info) == sizeof info) {
  }
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    if (exec_on_exit(pid, status)) continue;
    if (node_on_exit(pid)) {
      if (stdin_done) {
        flush_out();
        _exit(0);
      }
      fputs("agent: the Node.js agent ended; stopping\n", stderr);
      flush_out();
      _exit(1);
    }
  }
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fputs("usage: front <node> [flags...] <main.cjs>\n", stderr);
    return 2;
  }
  /* Like the execute-only Node.js copy: code of the sandbox, same uid, cannot open our descriptors,
     ptrace us or read our memory. Commands exec'ed from here are dumpable again. */
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  signal(SIGPIPE, SIG_IGN);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, NULL);
  int sigfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
  workdir = getenv("SANDBOX_WORKDIR") ? getenv("SANDBOX_WORKDIR") : "/workspace";
  home = getenv("HOME");
  const char *base = getenv("SANDBOX_BASE_ENV");
  if (base && *base && json_object_strings((span_t){base, strlen(base)}, env_member, &base_env))
    fputs("agent front: SANDBOX_BASE_ENV is not a JSON object\n", stderr);
  fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
  fcntl(1, F_SETFL, fcntl(1, F_GETFL) | O_NONBLOCK);
  node_init(argv + 1);
  /* The egress relay is the Node.js agent's: it must listen before the first command (main.ts). */
  const char *egress = getenv("SANDBOX_EGRESS_SOCKET");
  if (egress && *egress) node_start();
  else send_ready();

  static struct pollfd fds[MAX_FDS];
  static void *owners[MAX_FDS];
  for (;;) {
    double now = now_ms(), next = INFINITY;
    exec_tick(now, &next);
    flush_out();
    if (stdin_done && !node_started()) _exit(0);
    int n = 0;
    fds[n++] = (struct pollfd){sigfd, POLLIN, 0};
    if (!stdin_done && node_backlog() < BACKLOG_BYTES) fds[n++] = (struct pollfd){0, POLLIN, 0};
    if (buf_size(&out)) fds[n++] = (struct pollfd){1, POLLOUT, 0};
    int node_first = n;
    n += node_poll_fds(fds + n, MAX_FDS - n, buf_size(&out) < BACKLOG_BYTES);
    int exec_first = n;
    n += exec_poll_fds(fds + n, MAX_FDS - n, owners + n);
    int timeout = isinf(next) ? -1 : (int)ceil(fmax(0, next - now_ms()));
    if (poll(fds, (nfds_t)n, timeout) < 0) {
      if (errno == EINTR) continue;
      perror("agent front: poll");
      _exit(1);
    }
    for (int i = 0; i < n; i++) {
      if (!fds[i].revents) continue;
      if (fds[i].fd == sigfd && i == 0) reap(sigfd);
      else if (fds[i].fd == 0 && i < node_first) read_stdin();
      else if (fds[i].fd == 1 && i < node_first) flush_out();
      else if (i < exec_first) node_on_ready(fds[i].fd, fds[i].revents);
      else exec_on_ready(owners[i], fds[i].fd, fds[i].revents);
    }
  }
}
