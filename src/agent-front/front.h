/*
 * The agent's native front: the first process of a local sandbox. It answers the agent protocol's
 * ping, exec and cancel itself (a fork of a 1 MB process, where Node.js forked 45 MB) and starts the
 * Node.js agent only when a request needs it (files, processes, ports), relaying those requests and
 * its answers frame by frame. A sandbox that only runs commands never pays Node's start (about 100 ms
 * of CPU here) nor its memory (about 6 MiB). The wire format is protocol.ts's; frames.ts documents it.
 */
#ifndef FRONT_H
#define FRONT_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <unistd.h>

/* A byte buffer; `off` is what a queue has already consumed from its front. */
typedef struct {
  char *p;
  size_t len, cap, off;
} buf_t;

void buf_put(buf_t *b, const void *data, size_t n);
void buf_puts(buf_t *b, const char *s);
void buf_printf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
size_t buf_size(const buf_t *b);
const char *buf_data(const buf_t *b);
void buf_consume(buf_t *b, size_t n);
void buf_free(buf_t *b);

/* A JSON value's raw text inside a line; p is NULL when the key was absent. */
typedef struct {
  const char *p;
  size_t n;
} span_t;

typedef struct {
  span_t id, op, command, cwd, stdin_text, env, timeout_ms, max_output, stream, target, len;
} request_t;

int json_parse_request(const char *line, size_t n, request_t *req);
int json_string(span_t v, buf_t *out);
bool json_number(span_t v, double *out);
bool json_is_true(span_t v);
bool json_is_null(span_t v);
bool json_is_string(span_t v);
/* Calls fn for each member of a JSON object whose value is a string; -1 if v is not an object. */
int json_object_strings(span_t v, void (*fn)(void *ctx, buf_t *key, buf_t *value), void *ctx);
/* Appends bytes as JSON string content (no quotes), decoded as Node.js decodes UTF-8 (U+FFFD). */
void json_put_text(buf_t *out, const char *bytes, size_t n);
void json_put_string(buf_t *out, const char *s);

/* The head and the tail of a stream within a byte budget (capture.ts). */
typedef struct {
  size_t budget, head_cap, tail_cap;
  buf_t head;
  char *ring;
  size_t ring_len, ring_start;
  uint64_t total;
} capture_t;

void capture_init(capture_t *c, size_t budget);
void capture_push(capture_t *c, const char *data, size_t n);
uint64_t capture_dropped(const capture_t *c);
void capture_put_json(const capture_t *c, buf_t *out);
void capture_free(capture_t *c);

/* Everything the front sends the server goes through here (main.c). */
void emit(buf_t *message);
double now_ms(void);
/* `{"id":<id>`: how every answer and event starts (null when the request had none). */
void put_reply_id(buf_t *msg, span_t id);
void reply_error(span_t id, const char *code, const char *message, const char *hint);

/* spawn.c: a command's environment ("K=V" strings for execve, the base one with the request's over it),
   its folder (files.ts resolve), and bash started in a session of its own. */
typedef struct {
  char **items;
  size_t count;
} env_t;
void env_set(env_t *env, const char *key, size_t key_len, const char *value, size_t value_len);
void env_member(void *ctx, buf_t *key, buf_t *value);
void env_copy(env_t *dst, const env_t *src);
void env_free(env_t *env);
char *resolve_path(const char *path, const char *workdir, const char *home);
pid_t spawn_shell(const char *command, const char *cwd, char **envp, int fds[3], int *error);
void prefer_oom_kill(pid_t pid);

/* exec.c */
void exec_start(const request_t *req, const env_t *base_env, const char *workdir, const char *home);
void exec_cancel(const request_t *req);
int exec_poll_fds(struct pollfd *fds, int max, void **owners);
void exec_on_ready(void *owner, int fd, short revents);
bool exec_on_exit(pid_t pid, int status);
void exec_tick(double now, double *next_deadline);

/* node.c: the Node.js agent, started on demand, and its frames relayed whole. */
void node_init(char **argv);
bool node_started(void);
void node_start(void);
void node_send(const char *data, size_t n);
size_t node_backlog(void);
void node_close_input(void);
int node_poll_fds(struct pollfd *fds, int max, bool may_read);
void node_on_ready(int fd, short revents);
bool node_on_exit(pid_t pid);

/* main.c: node.c's frames go out between the front's own messages, never through them. */
void out_frame_bytes(const char *data, size_t n, bool frame_complete);
void on_node_ready(void);

#endif
