/* capture.ts's HeadTailCapture: the first half of the budget, the last half, and a count of the rest. */
#include <stdlib.h>
#include <string.h>

#include "front.h"

void capture_init(capture_t *c, size_t budget) {
  memset(c, 0, sizeof *c);
  c->budget = budget;
  c->head_cap = (budget + 1) / 2;
  c->tail_cap = budget / 2;
  c->ring = malloc(c->tail_cap ? c->tail_cap : 1);
  if (!c->ring) _exit(1);
}

void capture_push(capture_t *c, const char *data, size_t n) {
  c->total += n;
  if (c->head.len < c->head_cap) {
    size_t take = c->head_cap - c->head.len;
    if (take > n) take = n;
    buf_put(&c->head, data, take);
    data += take;
    n -= take;
  }
  if (!n || !c->tail_cap) return;
  if (n >= c->tail_cap) {
    memcpy(c->ring, data + n - c->tail_cap, c->tail_cap);
    c->ring_start = 0;
    c->ring_len = c->tail_cap;
    return;
  }
  size_t end = (c->ring_start + c->ring_len) % c->tail_cap;
  size_t first = n < c->tail_cap - end ? n : c->tail_cap - end;
  memcpy(c->ring + end, data, first);
  memcpy(c->ring, data + first, n - first);
  if (c->ring_len + n <= c->tail_cap) c->ring_len += n;
  else {
    c->ring_start = (c->ring_start + c->ring_len + n - c->tail_cap) % c->tail_cap;
    c->ring_len = c->tail_cap;
  }
}

uint64_t capture_dropped(const capture_t *c) { return c->total - c->head.len - c->ring_len; }

/* The kept text as a JSON string: head and tail decoded apart, a marker between them if bytes fell out. */
void capture_put_json(const capture_t *c, buf_t *out) {
  buf_puts(out, "\"");
  json_put_text(out, c->head.p ? c->head.p : "", c->head.len);
  uint64_t dropped = capture_dropped(c);
  if (dropped) {
    buf_t marker = {0};
    buf_printf(&marker,
               "\n[... %llu bytes dropped: output exceeded the %zu-byte cap; redirect to a file and read it in "
               "ranges ...]\n",
               (unsigned long long)dropped, c->budget);
    json_put_text(out, marker.p, marker.len);
    buf_free(&marker);
  }
  char *tail = malloc(c->ring_len ? c->ring_len : 1);
  if (!tail) _exit(1);
  size_t first = c->ring_len;
  if (c->ring_start + first > c->tail_cap) first = c->tail_cap - c->ring_start;
  memcpy(tail, c->ring + c->ring_start, first);
  memcpy(tail + first, c->ring, c->ring_len - first);
  json_put_text(out, tail, c->ring_len);
  free(tail);
  buf_puts(out, "\"");
}

void capture_free(capture_t *c) {
  buf_free(&c->head);
  free(c->ring);
  c->ring = NULL;
}
