#include "common/stack_walk.h"

uint32_t hvb_stack_walk(uint64_t rsp, uint64_t rbp, hvb_read_virt64_fn read,
                        void *context, uint64_t *out, uint32_t max) {
  const uint64_t max_frame_span = 1u << 20;
  uint32_t n = 0;
  uint64_t top;
  out[n++] = read(context, rsp, &top) ? top : 0;
  uint64_t floor = rsp;
  while (n < max && rbp % 8 == 0 && rbp >= floor &&
         rbp - floor < max_frame_span) {
    uint64_t saved_rbp, ret;
    if (!read(context, rbp, &saved_rbp) || !read(context, rbp + 8, &ret)) {
      break;
    }
    out[n++] = ret;
    floor = rbp + 16;
    rbp = saved_rbp;
  }
  return n;
}
