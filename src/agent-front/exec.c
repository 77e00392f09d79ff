/* The exec op, as exec.ts runs it: `bash --norc -c` in a session of its own, head and tail of its output. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "front.h"

/* After the shell exits, how long its pipes may stay open before the answer goes (exec.ts DRAIN_MS). */
#define DRAIN_MS 100

typedef struct exec {
  struct exec *next;
  /* The request's id as it came (raw JSON), echoed in every event and the answer. */
  span_t id;
  double id_value;
  pid_t pid;
  int out_fd, err_fd, in_fd;
  buf_t input;
  capture_t out, err;
  bool stream, timed_out, cancelled, exited, replied;
  int status;
  double started, deadline, drain_until;
} exec_t;

static exec_t *execs;

static const char *signal_name(int sig) {
  static const char *names[] = {
      [SIGHUP] = "SIGHUP",   [SIGINT] = "SIGINT",   [SIGQUIT] = "SIGQUIT", [SIGILL] = "SIGILL",
      [SIGTRAP] = "SIGTRAP", [SIGABRT] = "SIGABRT", [SIGBUS] = "SIGBUS",   [SIGFPE] = "SIGFPE",
      [SIGKILL] = "SIGKILL", [SIGUSR1] = "SIGUSR1", [SIGSEGV] = "SIGSEGV", [SIGUSR2] = "SIGUSR2",
      [SIGPIPE] = "SIGPIPE", [SIGALRM] = "SIGALRM", [SIGTERM] = "SIGTERM", [SIGSTKFLT] = "SIGSTKFLT",
      [SIGCHLD] = "SIGCHLD", [SIGCONT] = "SIGCONT", [SIGSTOP] = "SIGSTOP", [SIGTSTP] = "SIGTSTP",
      [SIGTTIN] = "SIGTTIN", [SIGTTOU] = "SIGTTOU", [SIGURG] = "SIGURG",   [SIGXCPU] = "SIGXCPU",
      [SIGXFSZ] = "SIGXFSZ", [SIGVTALRM] = "SIGVTALRM", [SIGPROF] = "SIGPROF", [SIGWINCH] = "SIGWINCH",
      [SIGIO] = "SIGIO",     [SIGPWR] = "SIGPWR",   [SIGSYS] = "SIGSYS",
  };
  return sig > 0 && sig < (int)(sizeof names / sizeof names[0]) ? names[sig] : NULL;
}

static void kill_group(pid_t pid) {
  if (kill(-pid, SIGKILL) && kill(pid, SIGKILL)) { /* already gone */
  }
}

static bool has_nul(const buf_t *b) { return b->len && memchr(b->p, 0, b->len); }

static void close_fd(int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

void exec_start(const request_t *req, const env_t *base_env, const char *workdir, const char *home) {
  buf_t command = {0}, cwd_arg = {0};
  char *cwd = NULL;
  env_t env = {0};
  /* String(command) in exec.ts: a string as it is, anything else as its JSON text, nothing as "undefined". */
  if (json_is_string(req->command)) json_string(req->command, &command);
  else if (req->command.p) buf_put(&command, req->command.p, req->command.n);
  else buf_puts(&command, "undefined");
  if (req->cwd.p && !json_is_null(req->cwd)) {
    if (json_string(req->cwd, &cwd_arg) || cwd_arg.len == 0) {
      reply_error(req->id, "INVALID_ARGUMENT", "path must be a non-empty string",
                  "pass a path relative to the workdir or an absolute one");
      goto done;
    }
    if (has_nul(&cwd_arg)) {
      reply_error(req->id, "INVALID_ARGUMENT", "path contains a NUL byte", "remove it");
      goto done;
    }
    buf_put(&cwd_arg, "", 1);
    cwd = resolve_path(cwd_arg.p, workdir, home);
  } else cwd = resolve_path(workdir, workdir, home);
  struct stat st;
  if (stat(cwd, &st) || !S_ISDIR(st.st_mode)) {
    buf_t message = {0};
    buf_printf(&message, "cwd %s is not an existing directory", cwd);
    buf_put(&message, "", 1);
    reply_error(req->id, "INVALID_ARGUMENT", message.p,
                "pass an existing directory (relative paths start at the workdir), or create it first with mkdir -p");
    buf_free(&message);
    goto done;
  }
  if (has_nul(&command)) {
    reply_error(req->id, "INVALID_ARGUMENT", "command contains a NUL byte", "remove it");
    goto done;
  }
  buf_put(&command, "", 1);
  env_copy(&env, base_env);
  if (req->env.p && !json_is_null(req->env)) json_object_strings(req->env, env_member, &env);
  if (!env.items && !(env.items = calloc(1, sizeof *env.items))) _exit(1);

  exec_t *e = calloc(1, sizeof *e);
  if (!e) _exit(1);
  e->id = req->id.p ? (span_t){strndup(req->id.p, req->id.n), req->id.n} : (span_t){strdup("null"), 4};
  if (!json_number(req->id, &e->id_value)) e->id_value = NAN;
  double max_output = 0, timeout = NAN;
  json_number(req->max_output, &max_output);
  size_t budget = max_output / 2 > 512 ? (size_t)(max_output / 2) : 512;
  capture_init(&e->out, budget);
  capture_init(&e->err, budget);
  e->stream = json_is_true(req->stream);
  e->started = now_ms();
  int fds[3], error = 0;
  e->pid = spawn_shell(command.p, cwd, env.items, fds, &error);
  if (e->pid < 0) {
    buf_t message = {0};
    buf_printf(&message, "/bin/bash: %s", strerror(error));
    buf_put(&message, "", 1);
    reply_error(req->id, error == ENOENT ? "NOT_FOUND" : error == EACCES ? "PERMISSION_DENIED" : "INTERNAL",
                message.p, NULL);
    buf_free(&message);
    capture_free(&e->out);
    capture_free(&e->err);
    free((char *)e->id.p);
    free(e);
    goto done;
  }
  prefer_oom_kill(e->pid);
  e->in_fd = fds[0];
  e->out_fd = fds[1];
  e->err_fd = fds[2];
  if (json_is_string(req->stdin_text)) json_string(req->stdin_text, &e->input);
  if (!buf_size(&e->input)) close_fd(&e->in_fd);
  /* setTimeout's delay: at least 1 ms, and 1 ms for anything not a number or past 2^31 - 1. */
  json_number(req->timeout_ms, &timeout);
  if (!(timeout >= 1 && timeout <= 2147483647.0)) timeout = 1;
  e->deadline = e->started + timeout;
  e->next = execs;
  execs = e;
done:
  env_free(&env);
  buf_free(&command);
  buf_free(&cwd_arg);
  free(cwd);
}

void exec_cancel(const request_t *req) {
  double target;
  if (json_number(req->target, &target))
    for (exec_t *e = execs; e; e = e->next)
      if (!e->replied && e->id_value == target) {
        e->cancelled = true;
        kill_group(e->pid);
      }
  buf_t msg = {0};
  put_reply_id(&msg, req->id);
  buf_puts(&msg, ",\"ok\":true,\"result\":{}}\n");
  emit(&msg);
  buf_free(&msg);
}

int exec_poll_fds(struct pollfd *fds, int max, void **owners) {
  int n = 0;
  for (exec_t *e = execs; e && n + 3 <= max; e = e->next) {
    if (e->in_fd >= 0) owners[n] = e, fds[n++] = (struct pollfd){e->in_fd, POLLOUT, 0};
    if (e->out_fd >= 0) owners[n] = e, fds[n++] = (struct pollfd){e->out_fd, POLLIN, 0};
    if (e->err_fd >= 0) owners[n] = e, fds[n++] = (struct pollfd){e->err_fd, POLLIN, 0};
  }
  return n;
}

static void on_output(exec_t *e, int *fd, capture_t *capture, const char *stream) {
  static char chunk[65536];
  for (int reads = 0; reads < 16; reads++) {
    ssize_t got = read(*fd, chunk, sizeof chunk);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0 && errno == EAGAIN) return;
    if (got <= 0) {
      close_fd(fd);
      return;
    }
    if (e->replied) continue; /* a background child still writing: read and drop, so it never gets SIGPIPE */
    capture_push(capture, chunk, (size_t)got);
    if (e->stream) {
      buf_t event = {0};
      put_reply_id(&event, e->id);
      buf_printf(&event, ",\"event\":\"output\",\"stream\":\"%s\",\"data\":\"", stream);
      json_put_text(&event, chunk, (size_t)got);
      buf_puts(&event, "\"}\n");
      emit(&event);
      buf_free(&event);
    }
  }
}

void exec_on_ready(void *owner, int fd, short revents) {
  exec_t *e = owner;
  if (fd == e->in_fd) {
    if (revents & (POLLERR | POLLHUP)) return close_fd(&e->in_fd);
    ssize_t put = write(e->in_fd, buf_data(&e->input), buf_size(&e->input));
    if (put > 0) buf_consume(&e->input, (size_t)put);
    if ((put < 0 && errno != EAGAIN && errno != EINTR) || !buf_size(&e->input)) {
      close_fd(&e->in_fd);
      buf_free(&e->input);
    }
  } else if (fd == e->out_fd) on_output(e, &e->out_fd, &e->out, "stdout");
  else if (fd == e->err_fd) on_output(e, &e->err_fd, &e->err, "stderr");
}

bool exec_on_exit(pid_t pid, int status) {
  for (exec_t *e = execs; e; e = e->next)
    if (e->pid == pid && !e->exited) {
      e->exited = true;
      e->status = status;
      e->drain_until = now_ms() + DRAIN_MS;
      close_fd(&e->in_fd);
      return true;
    }
  return false;
}

static void finish(exec_t *e, double now) {
  e->replied = true;
  buf_t msg = {0};
  put_reply_id(&msg, e->id);
  buf_puts(&msg, ",\"ok\":true,\"result\":{\"exitCode\":");
  const char *sig = WIFSIGNALED(e->status) ? signal_name(WTERMSIG(e->status)) : NULL;
  if (WIFEXITED(e->status)) buf_printf(&msg, "%d,\"signal\":null", WEXITSTATUS(e->status));
  else if (sig) buf_printf(&msg, "null,\"signal\":\"%s\"", sig);
  else buf_puts(&msg, "null,\"signal\":null");
  buf_puts(&msg, ",\"stdout\":");
  capture_put_json(&e->out, &msg);
  buf_puts(&msg, ",\"stderr\":");
  capture_put_json(&e->err, &msg);
  uint64_t dropped = capture_dropped(&e->out) + capture_dropped(&e->err);
  buf_printf(&msg, ",\"durationMs\":%.2f,\"timedOut\":%s,\"cancelled\":%s,\"truncated\":%s,\"droppedBytes\":%llu}}\n",
             round((now - e->started) * 100) / 100, e->timed_out ? "true" : "false",
             e->cancelled ? "true" : "false", dropped ? "true" : "false", (unsigned long long)dropped);
  emit(&msg);
  buf_free(&msg);
  capture_free(&e->out);
  capture_free(&e->err);
  buf_free(&e->input);
}

/* Timeouts, drains, answers; frees what is over. next_deadline gets the earliest time to come back. */
void exec_tick(double now, double *next_deadline) {
  for (exec_t **link = &execs; *link;) {
    exec_t *e = *link;
    if (!e->exited && !e->timed_out && now >= e->deadline) {
      e->timed_out = true;
      kill_group(e->pid);
    }
    if (e->exited && !e->replied && ((e->out_fd < 0 && e->err_fd < 0) || now >= e->drain_until)) finish(e, now);
    if (e->replied && e->out_fd < 0 && e->err_fd < 0) {
      *link = e->next;
      free((char *)e->id.p);
      free(e);
      continue;
    }
    if (!e->exited && !e->timed_out && e->deadline < *next_deadline) *next_deadline = e->deadline;
    if (e->exited && !e->replied && e->drain_until < *next_deadline) *next_deadline = e->drain_until;
    link = &e->next;
  }
}
