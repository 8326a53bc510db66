/* common/format.h */
#include "common/format.h"

#include <stdint.h>

struct out {
  char *buf;
  size_t size;
  size_t len; /* characters produced, even past size */
};

static void put(struct out *o, char c) {
  if (o->len + 1 < o->size) o->buf[o->len] = c;
  o->len++;
}

static void pad(struct out *o, char c, int n) {
  while (n-- > 0) put(o, c);
}

static void put_number(struct out *o, uint64_t v, int negative, unsigned base,
                       int upper, int width, int zero, int left) {
  const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  char tmp[24];
  int n = 0;
  do {
    tmp[n++] = digits[v % base];
    v /= base;
  } while (v != 0);
  int length = n + (negative ? 1 : 0);
  if (!left && !zero) pad(o, ' ', width - length);
  if (negative) put(o, '-');
  if (!left && zero) pad(o, '0', width - length);
  while (n > 0) put(o, tmp[--n]);
  if (left) pad(o, ' ', width - length);
}

int hvb_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap) {
  struct out o = {buf, size, 0};
  for (const char *p = fmt; *p; ++p) {
    if (*p != '%') {
      put(&o, *p);
      continue;
    }
    ++p;
    int left = 0, zero = 0, width = 0, precision = -1, longs = 0,
        size_t_mod = 0;
    for (;; ++p) {
      if (*p == '-')
        left = 1;
      else if (*p == '0')
        zero = 1;
      else
        break;
    }
    if (*p == '*') {
      width = va_arg(ap, int);
      ++p;
    } else {
      while (*p >= '0' && *p <= '9') width = width * 10 + (*p++ - '0');
    }
    if (*p == '.') {
      ++p;
      precision = 0;
      if (*p == '*') {
        precision = va_arg(ap, int);
        ++p;
      } else {
        while (*p >= '0' && *p <= '9')
          precision = precision * 10 + (*p++ - '0');
      }
    }
    while (*p == 'l') ++longs, ++p;
    if (*p == 'z') size_t_mod = 1, ++p;
    switch (*p) {
      case 'd':
      case 'i': {
        int64_t v = longs        ? va_arg(ap, int64_t)
                    : size_t_mod ? (int64_t)va_arg(ap, size_t)
                                 : va_arg(ap, int);
        uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
        put_number(&o, mag, v < 0, 10, 0, width, zero, left);
        break;
      }
      case 'u':
      case 'x':
      case 'X': {
        uint64_t v =
            (longs || size_t_mod) ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
        put_number(&o, v, 0, *p == 'u' ? 10 : 16, *p == 'X', width, zero, left);
        break;
      }
      case 'p':
        put(&o, '0');
        put(&o, 'x');
        put_number(&o, (uint64_t)(uintptr_t)va_arg(ap, void *), 0, 16, 0,
                   width > 2 ? width - 2 : 0, 1, 0);
        break;
      case 's': {
        const char *s = va_arg(ap, const char *);
        if (s == 0) s = "(null)";
        int n = 0;
        while (s[n] && (precision < 0 || n < precision)) ++n;
        if (!left) pad(&o, ' ', width - n);
        for (int i = 0; i < n; ++i) put(&o, s[i]);
        if (left) pad(&o, ' ', width - n);
        break;
      }
      case 'c':
        if (!left) pad(&o, ' ', width - 1);
        put(&o, (char)va_arg(ap, int));
        if (left) pad(&o, ' ', width - 1);
        break;
      case '%':
        put(&o, '%');
        break;
      case '\0':
        --p; /* a lone '%' at the end */
        break;
      default: /* unknown conversion: print it as is */
        put(&o, '%');
        put(&o, *p);
        break;
    }
  }
  if (size > 0) buf[o.len < size ? o.len : size - 1] = '\0';
  return (int)o.len;
}

int hvb_snprintf(char *buf, size_t size, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = hvb_vsnprintf(buf, size, fmt, ap);
  va_end(ap);
  return n;
}
