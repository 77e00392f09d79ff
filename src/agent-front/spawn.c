/* How exec.c starts a command: its environment, its working folder, the fork and exec of bash. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "front.h"

/* env: the base environment with the request's variables over it, as "K=V" strings for execve. */
void env_set(env_t *env, const char *key, size_t key_len, const char *value, size_t value_len) {
  char *item = malloc(key_len + value_len + 2);
  if (!item) _exit(1);
  memcpy(item, key, key_len);
  item[key_len] = '=';
  memcpy(item + key_len + 1, value, value_len);
  item[key_len + value_len + 1] = 0;
  for (size_t i = 0; i < env->count; i++)
    if (!strncmp(env->items[i], item, key_len + 1)) {
      free(env->items[i]);
      env->items[i] = item;
      return;
    }
  env->items = realloc(env->items, (env->count + 2) * sizeof *env->items);
  if (!env->items) _exit(1);
  env->items[env->count++] = item;
  env->items[env->count] = NULL;
}

void env_member(void *ctx, buf_t *key, buf_t *value) {
  env_set(ctx, key->p ? key->p : "", key->len, value->p ? value->p : "", value->len);
}

/* `dst`, empty, gets src's variables (its own copies). */
void env_copy(env_t *dst, const env_t *src) {
  for (size_t i = 0; i < src->count; i++) {
    const char *eq = strchr(src->items[i], '=');
    env_set(dst, src->items[i], (size_t)(eq - src->items[i]), eq + 1, strlen(eq + 1));
  }
}

void env_free(env_t *env) {
  for (size_t i = 0; i < env->count; i++) free(env->items[i]);
  free(env->items);
}

/* files.ts resolve(): "~" and "~/x" are under HOME; anything else is resolved from the workdir. */
char *resolve_path(const char *path, const char *workdir, const char *home) {
  buf_t joined = {0};
  if (home && *home && (!strcmp(path, "~") || !strncmp(path, "~/", 2))) {
    buf_puts(&joined, home);
    buf_puts(&joined, "/");
    buf_puts(&joined, path + 1);
  } else if (path[0] == '/') buf_puts(&joined, path);
  else {
    buf_puts(&joined, workdir);
    buf_puts(&joined, "/");
    buf_puts(&joined, path);
  }
  buf_put(&joined, "", 1);
  /* Normalize like path.resolve: no empty or "." parts, ".." drops one, never above "/". */
  char *out = malloc(joined.len + 2);
  if (!out) _exit(1);
  size_t n = 0;
  for (char *part = strtok(joined.p, "/"); part; part = strtok(NULL, "/")) {
    if (!strcmp(part, ".")) continue;
    if (!strcmp(part, "..")) {
      while (n > 0 && out[n - 1] != '/') n--;
      if (n > 0) n--;
      continue;
    }
    out[n++] = '/';
    size_t len = strlen(part);
    memcpy(out + n, part, len);
    n += len;
  }
  if (n == 0) out[n++] = '/';
  out[n] = 0;
  buf_free(&joined);
  return out;
}

pid_t spawn_shell(const char *command, const char *cwd, char **envp, int fds[3], int *error) {
  int in[2], out[2], err[2], report[2];
  if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC) || pipe2(report, O_CLOEXEC)) {
    *error = errno;
    return -1;
  }
  pid_t pid = fork();
  if (pid == 0) {
    setsid();
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    sigset_t none;
    sigemptyset(&none);
    for (int sig = 1; sig < NSIG; sig++) signal(sig, SIG_DFL);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (chdir(cwd) == 0) execve("/bin/bash", (char *[]){"/bin/bash", "--norc", "-c", (char *)command, NULL}, envp);
    int e = errno;
    if (write(report[1], &e, sizeof e)) { /* nothing else to do */
    }
    _exit(127);
  }
  int e = pid < 0 ? errno : 0;
  close(in[0]);
  close(out[1]);
  close(err[1]);
  close(report[1]);
  if (pid > 0) {
    ssize_t got;
    do got = read(report[0], &e, sizeof e);
    while (got < 0 && errno == EINTR);
    if (got != sizeof e) e = 0;
    else waitpid(pid, NULL, 0);
  }
  close(report[0]);
  if (e) {
    close(in[1]);
    close(out[0]);
    close(err[0]);
    *error = e;
    return -1;
  }
  fds[0] = in[1];
  fds[1] = out[0];
  fds[2] = err[0];
  for (int i = 0; i < 3; i++) fcntl(fds[i], F_SETFL, O_NONBLOCK);
  return pid;
}

/* The OOM killer takes a command before the agent that holds the sandbox together (exec.ts). */
void prefer_oom_kill(pid_t pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/oom_score_adj", (int)pid);
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return;
  if (write(fd, "500", 3)) { /* best effort */
  }
  close(fd);
}
