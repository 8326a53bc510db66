/*
 * A small snprintf for freestanding code, written once for the guest SDK,
 * the firmware and the spec's shared checks (which format their messages
 * with it on the host too): %d %i %u %x %X %p %s %c %%, flags '-' '0',
 * width and precision (numbers or '*'), length modifiers l, ll, z.
 */
#ifndef HVBIOS_COMMON_FORMAT_H_
#define HVBIOS_COMMON_FORMAT_H_

#include <stdarg.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* As C's vsnprintf: writes at most `size` bytes including the NUL and
 * returns the length the whole output would have. */
int hvb_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int hvb_snprintf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* HVBIOS_COMMON_FORMAT_H_ */
