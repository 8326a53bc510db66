/*
 * The C library's memory and string functions for freestanding code (the
 * guest SDK and the firmware link common/string.c; the host uses libc).
 */
#ifndef HVBIOS_COMMON_STRING_H_
#define HVBIOS_COMMON_STRING_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* HVBIOS_COMMON_STRING_H_ */
