/* Freestanding memory and string functions, for the guest SDK and the
 * firmware (the host has its C library). GCC may emit calls to memcpy,
 * memmove, memset and memcmp even with -ffreestanding, and may turn a
 * byte-copy loop back into a memcpy call: the copies are `rep` string
 * instructions, which also cost one instruction where a loop costs many. */
#include "common/string.h"

void *memcpy(void *dst, const void *src, size_t n) {
  void *d = dst;
  __asm__ volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
  return dst;
}

void *memmove(void *dst, const void *src, size_t n) {
  if ((uintptr_t)dst <= (uintptr_t)src ||
      (uintptr_t)dst >= (uintptr_t)src + n) {
    return memcpy(dst, src, n);
  }
  /* Overlapping with dst above src: copy backwards (DF=1), then restore
   * DF=0 as the calling convention requires. */
  void *d = (char *)dst + n - 1;
  const void *s = (const char *)src + n - 1;
  __asm__ volatile("std; rep movsb; cld"
                   : "+D"(d), "+S"(s), "+c"(n)
                   :
                   : "memory");
  return dst;
}

void *memset(void *dst, int c, size_t n) {
  void *d = dst;
  __asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
  return dst;
}

int memcmp(const void *a, const void *b, size_t n) {
  const unsigned char *x = (const unsigned char *)a;
  const unsigned char *y = (const unsigned char *)b;
  for (; n; --n, ++x, ++y) {
    if (*x != *y) return *x - *y;
  }
  return 0;
}

size_t strlen(const char *s) {
  size_t n = 0;
  while (s[n]) ++n;
  return n;
}

int strcmp(const char *a, const char *b) {
  while (*a && *a == *b) ++a, ++b;
  return (unsigned char)*a - (unsigned char)*b;
}

int strncmp(const char *a, const char *b, size_t n) {
  for (; n; --n, ++a, ++b) {
    if (*a != *b || !*a) return (unsigned char)*a - (unsigned char)*b;
  }
  return 0;
}
