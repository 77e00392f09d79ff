/* Byte buffers, and the little JSON the front reads (the server's request lines) and writes. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "front.h"

void buf_put(buf_t *b, const void *data, size_t n) {
  if (b->off && b->off == b->len) b->off = b->len = 0;
  if (b->len + n > b->cap) {
    if (b->off > b->cap / 2) { /* a queue: drop what was consumed before growing */
      memmove(b->p, b->p + b->off, b->len - b->off);
      b->len -= b->off;
      b->off = 0;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n) cap *= 2;
    if (cap != b->cap) {
      char *p = realloc(b->p, cap);
      if (!p) {
        fputs("agent front: out of memory\n", stderr);
        _exit(1);
      }
      b->p = p;
      b->cap = cap;
    }
  }
  if (n) memcpy(b->p + b->len, data, n);
  b->len += n;
}

void buf_puts(buf_t *b, const char *s) { buf_put(b, s, strlen(s)); }

void buf_printf(buf_t *b, const char *fmt, ...) {
  char small[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n < sizeof small) return buf_put(b, small, (size_t)n);
  char *big = malloc((size_t)n + 1);
  if (!big) _exit(1);
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  buf_put(b, big, (size_t)n);
  free(big);
}

size_t buf_size(const buf_t *b) { return b->len - b->off; }
const char *buf_data(const buf_t *b) { return b->p + b->off; }

void buf_consume(buf_t *b, size_t n) {
  b->off += n;
  if (b->off >= b->len) b->off = b->len = 0;
}

void buf_free(buf_t *b) {
  free(b->p);
  b->p = NULL;
  b->len = b->cap = b->off = 0;
}

/* JSON's two-character escapes: the letter after the backslash, and the character it stands for. */
static const char ESCAPES[][2] = {{'"', '"'}, {'\\', '\\'}, {'n', '\n'}, {'r', '\r'}, {'t', '\t'}, {'b', '\b'}, {'f', '\f'}};
#define ESCAPE_COUNT (sizeof ESCAPES / sizeof ESCAPES[0])

static const char *skip_ws(const char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
  return p;
}

static const char *skip_string(const char *p, const char *end) {
  for (p++; p < end; p++) {
    if (*p == '\\') p++;
    else if (*p == '"') return p + 1;
  }
  return NULL;
}

/* The server writes this JSON (JSON.stringify): values are skipped, not validated. */
static const char *skip_value(const char *p, const char *end) {
  if (p >= end) return NULL;
  if (*p == '"') return skip_string(p, end);
  if (*p == '{' || *p == '[') {
    int depth = 0;
    while (p < end) {
      if (*p == '"') {
        p = skip_string(p, end);
        if (!p) return NULL;
        continue;
      }
      if (*p == '{' || *p == '[') depth++;
      else if ((*p == '}' || *p == ']') && --depth == 0) return p + 1;
      p++;
    }
    return NULL;
  }
  const char *start = p;
  while (p < end && !strchr(",}] \t\r\n", *p)) p++;
  return p > start ? p : NULL;
}

static void put_utf8(buf_t *out, unsigned cp) {
  char s[4];
  if (cp < 0x80) {
    s[0] = (char)cp;
    buf_put(out, s, 1);
  } else if (cp < 0x800) {
    s[0] = (char)(0xC0 | cp >> 6);
    s[1] = (char)(0x80 | (cp & 0x3F));
    buf_put(out, s, 2);
  } else if (cp < 0x10000) {
    s[0] = (char)(0xE0 | cp >> 12);
    s[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    s[2] = (char)(0x80 | (cp & 0x3F));
    buf_put(out, s, 3);
  } else {
    s[0] = (char)(0xF0 | cp >> 18);
    s[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    s[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    s[3] = (char)(0x80 | (cp & 0x3F));
    buf_put(out, s, 4);
  }
}

static int hex4(const char *p, const char *end, unsigned *out) {
  if (end - p < 4) return -1;
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    char c = p[i];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
    else return -1;
  }
  *out = v;
  return 0;
}

/* A JSON string as UTF-8 bytes; a lone surrogate becomes U+FFFD, as Node.js encodes one. */
int json_string(span_t v, buf_t *out) {
  if (!json_is_string(v)) return -1;
  const char *p = v.p + 1, *end = v.p + v.n - 1;
  while (p < end) {
    const char *q = p;
    while (q < end && *q != '\\') q++;
    buf_put(out, p, (size_t)(q - p));
    if (q >= end) break;
    if (q + 1 >= end) return -1;
    char e = q[1];
    p = q + 2;
    if (e != 'u') {
      char c = e; /* \/ and anything unknown stand for themselves */
      for (size_t k = 0; k < ESCAPE_COUNT; k++)
        if (ESCAPES[k][0] == e) c = ESCAPES[k][1];
      buf_put(out, &c, 1);
      continue;
    }
    unsigned cp;
    if (hex4(p, end, &cp)) return -1;
    p += 4;
    if (cp >= 0xD800 && cp < 0xDC00) {
      unsigned low;
      if (end - p >= 6 && p[0] == '\\' && p[1] == 'u' && !hex4(p + 2, end, &low) && low >= 0xDC00 && low < 0xE000) {
        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        p += 6;
      } else cp = 0xFFFD;
    } else if (cp >= 0xDC00 && cp < 0xE000) cp = 0xFFFD;
    put_utf8(out, cp);
  }
  return 0;
}

bool json_is_string(span_t v) { return v.p && v.n >= 2 && v.p[0] == '"' && v.p[v.n - 1] == '"'; }
bool json_is_true(span_t v) { return v.p && v.n == 4 && !memcmp(v.p, "true", 4); }
bool json_is_null(span_t v) { return v.p && v.n == 4 && !memcmp(v.p, "null", 4); }

bool json_number(span_t v, double *out) {
  if (!v.p || v.n == 0 || v.n > 64 || !(v.p[0] == '-' || (v.p[0] >= '0' && v.p[0] <= '9'))) return false;
  char text[65];
  memcpy(text, v.p, v.n);
  text[v.n] = 0;
  char *rest;
  *out = strtod(text, &rest);
  return *rest == 0;
}

/* Walks an object's members: fn gets each key's raw span and its value's. */
static int each_member(span_t obj, int (*fn)(void *ctx, span_t key, span_t value), void *ctx) {
  const char *p = obj.p, *end = obj.p + obj.n;
  p = skip_ws(p, end);
  if (p >= end || *p != '{') return -1;
  p = skip_ws(p + 1, end);
  if (p < end && *p == '}') return 0;
  while (p < end) {
    if (*p != '"') return -1;
    const char *key_end = skip_string(p, end);
    if (!key_end) return -1;
    span_t key = {p, (size_t)(key_end - p)};
    p = skip_ws(key_end, end);
    if (p >= end || *p != ':') return -1;
    p = skip_ws(p + 1, end);
    const char *value_end = skip_value(p, end);
    if (!value_end) return -1;
    if (fn(ctx, key, (span_t){p, (size_t)(value_end - p)})) return -1;
    p = skip_ws(value_end, end);
    if (p < end && *p == ',') {
      p = skip_ws(p + 1, end);
      continue;
    }
    if (p < end && *p == '}') return skip_ws(p + 1, end) == end ? 0 : -1;
    return -1;
  }
  return -1;
}

static int key_is(span_t key, const char *name) {
  size_t n = strlen(name);
  return key.n == n + 2 && !memcmp(key.p + 1, name, n);
}

static int request_member(void *ctx, span_t key, span_t value) {
  request_t *r = ctx;
  static const struct {
    const char *name;
    size_t offset;
  } fields[] = {
      {"id", offsetof(request_t, id)},          {"op", offsetof(request_t, op)},
      {"command", offsetof(request_t, command)}, {"cwd", offsetof(request_t, cwd)},
      {"stdin", offsetof(request_t, stdin_text)}, {"env", offsetof(request_t, env)},
      {"timeoutMs", offsetof(request_t, timeout_ms)}, {"maxOutputBytes", offsetof(request_t, max_output)},
      {"stream", offsetof(request_t, stream)},   {"target", offsetof(request_t, target)},
      {"$len", offsetof(request_t, len)},
  };
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
    if (key_is(key, fields[i].name)) *(span_t *)((char *)r + fields[i].offset) = value;
  return 0;
}

/* The top-level members the front reads; 0 when the line is one JSON object. */
int json_parse_request(const char *line, size_t n, request_t *req) {
  memset(req, 0, sizeof *req);
  return each_member((span_t){line, n}, request_member, req);
}

struct strings_ctx {
  void (*fn)(void *ctx, buf_t *key, buf_t *value);
  void *ctx;
};

static int string_member(void *ctx, span_t key, span_t value) {
  struct strings_ctx *s = ctx;
  if (!json_is_string(value)) return 0;
  buf_t k = {0}, v = {0};
  int bad = json_string(key, &k) || json_string(value, &v);
  if (!bad) s->fn(s->ctx, &k, &v);
  buf_free(&k);
  buf_free(&v);
  return bad;
}

int json_object_strings(span_t v, void (*fn)(void *ctx, buf_t *key, buf_t *value), void *ctx) {
  struct strings_ctx s = {fn, ctx};
  return each_member(v, string_member, &s);
}

static void put_escaped(buf_t *out, const char *p, size_t n) {
  static const char hex[] = "0123456789abcdef";
  size_t run = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    buf_put(out, p + run, i - run);
    run = i + 1;
    char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
    size_t len = 6;
    for (size_t k = 0; k < ESCAPE_COUNT; k++)
      if ((unsigned char)ESCAPES[k][1] == c) u[1] = ESCAPES[k][0], len = 2;
    buf_put(out, u, len);
  }
  buf_put(out, p + run, n - run);
}

/* WHATWG UTF-8 decoding (what Buffer.toString does): each maximal invalid subpart is one U+FFFD. */
void json_put_text(buf_t *out, const char *bytes, size_t n) {
  const unsigned char *b = (const unsigned char *)bytes;
  static const char fffd[] = "\xEF\xBF\xBD";
  size_t i = 0, valid = 0;
  while (i < n) {
    unsigned char c = b[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    int need;
    unsigned char lower = 0x80, upper = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) need = 1;
    else if (c == 0xE0) need = 2, lower = 0xA0;
    else if (c == 0xED) need = 2, upper = 0x9F;
    else if (c >= 0xE1 && c <= 0xEF) need = 2;
    else if (c == 0xF0) need = 3, lower = 0x90;
    else if (c == 0xF4) need = 3, upper = 0x8F;
    else if (c >= 0xF1 && c <= 0xF3) need = 3;
    else need = 0;
    size_t j = i + 1;
    bool ok = need > 0;
    for (int k = 0; ok && k < need; k++, j++) {
      if (j >= n || b[j] < (k ? 0x80 : lower) || b[j] > (k ? 0xBF : upper)) ok = false;
      if (!ok) break;
    }
    if (ok) {
      i = j;
      continue;
    }
    put_escaped(out, bytes + valid, i - valid);
    buf_put(out, fffd, 3);
    i = need > 0 ? j : i + 1;
    valid = i;
  }
  put_escaped(out, bytes + valid, n - valid);
}

void json_put_string(buf_t *out, const char *s) {
  buf_puts(out, "\"");
  json_put_text(out, s, strlen(s));
  buf_puts(out, "\"");
}
