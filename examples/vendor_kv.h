/* The "kv" vendor service of the examples: a small key-value store that a
 * VMM (vmm/vendor_service.c) keeps for its guest (guests/vendor). This
 * header is the service's ABI, shared by both sides as the hvbios ABI's
 * own headers are; freestanding C. A real VMM would publish one like it.
 *
 *   put(key, key_len, value, value_len) -> 0
 *       HVB_ERR_INVAL: key_len is 0 or above KV_MAX_KEY, or value_len
 *       above KV_MAX_VALUE. HVB_ERR_FAULT: a buffer is not the guest's RAM.
 *       HVB_ERR_NOMEM: KV_MAX_ENTRIES keys are stored already.
 *   get(key, key_len, buf, capacity) -> the value's length; its first
 *       min(length, capacity) bytes are copied to buf. HVB_ERR_NODEV: no
 *       such key.
 *   remove(key, key_len) -> 0. HVB_ERR_NODEV: no such key.
 *   count() -> the number of keys stored. */
#ifndef HVBIOS_EXAMPLES_VENDOR_KV_H_
#define HVBIOS_EXAMPLES_VENDOR_KV_H_

#include "hvbios/abi/hypercall.h"

#define KV_SERVICE (HVB_SVC_VENDOR_FIRST + 1)
enum kv_function {
  KV_FN_PUT = 0,
  KV_FN_GET = 1,
  KV_FN_REMOVE = 2,
  KV_FN_COUNT = 3,
  KV_FUNCTION_COUNT = 4,
};
#define KV_MAX_KEY 64
#define KV_MAX_VALUE 1024
#define KV_MAX_ENTRIES 64

#endif /* HVBIOS_EXAMPLES_VENDOR_KV_H_ */
