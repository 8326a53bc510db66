/*
 * hvbios ABI: the function table. Every service and every function of the
 * ABI, with its number, is one row here, and everything that must list
 * them is generated from these rows: the HVB_SVC_* and HVB_FN_* ids, the
 * host's and the firmware's dispatch tables, the guest SDK's list of
 * functions, the conformance suite's probe check, the hostile-guest
 * test's function list. Numbers are written in the rows, and the dispatch
 * tables are built by number and checked dense, so reordering rows changes
 * nothing and a gap or a duplicate does not build.
 *
 * Freestanding: usable in guest kernels, firmware and the host library.
 * Specification: docs/abi.md, section 5.
 *
 * HVB_SERVICES(S):     S(SERVICE, service, id)
 * HVB_FUNCTIONS_X(F):  F(SERVICE, service, FUNCTION, function, number)
 *                      for service X, functions in number order
 * HVB_FUNCTIONS(F):    every function of every service
 */
#ifndef HVBIOS_ABI_FUNCTIONS_H_
#define HVBIOS_ABI_FUNCTIONS_H_

#define HVB_SERVICES(S)              \
  S(BASE, base, 0x00)                \
  S(CONSOLE, console, 0x01)          \
  S(CLOCK, clock, 0x02)              \
  S(POWER, power, 0x03)              \
  S(DEBUG, debug, 0x04)              \
  S(VCPU, vcpu, 0x05)     /* 0.2 */  \
  S(TIMER, timer, 0x06)   /* 0.2 */  \
  S(EVENT, event, 0x07)   /* 0.2 */  \
  S(BLOCK, block, 0x08)   /* 0.3 */  \
  S(NET, net, 0x09)       /* 0.10 */ \
  S(RNG, rng, 0x0a)       /* 0.3 */  \
  S(MEMORY, memory, 0x0b) /* 0.6 */

/* base: discovering the implementation. */
#define HVB_FUNCTIONS_BASE(F)                                       \
  /* () -> value = HVB_ABI_VERSION implemented. */                  \
  F(BASE, base, GET_ABI_VERSION, get_abi_version, 0)                \
  /* () -> value = implementation id (HVB_IMPL_*). */               \
  F(BASE, base, GET_IMPL_ID, get_impl_id, 1)                        \
  /* () -> value = implementation version (major << 16 | minor). */ \
  F(BASE, base, GET_IMPL_VERSION, get_impl_version, 2)              \
  /* (fid) -> value = 1 if function fid is implemented, else 0. */  \
  F(BASE, base, PROBE, probe, 3)

/* console: a byte stream, like a serial line. */
#define HVB_FUNCTIONS_CONSOLE(F)                                     \
  /* (gpa buf, len) -> value = bytes written, 1..min(len,            \
   * HVB_CONSOLE_MAX_IO); 0 if len is 0. Short writes are allowed:   \
   * loop until done. HVB_ERR_AGAIN when the platform's output lags  \
   * and takes nothing now: try again. */                            \
  F(CONSOLE, console, WRITE, write, 0)                               \
  /* (gpa buf, len) -> value = bytes read, 0 if no input is pending. \
   * Never blocks. */                                                \
  F(CONSOLE, console, READ, read, 1)

/* clock: nanosecond clocks. */
#define HVB_FUNCTIONS_CLOCK(F)                                       \
  /* () -> value = monotonic ns since an unspecified point before    \
   * boot. */                                                        \
  F(CLOCK, clock, MONOTONIC, monotonic, 0)                           \
  /* () -> value = wall-clock ns since 1970-01-01T00:00:00Z (UTC, no \
   * leap seconds). */                                               \
  F(CLOCK, clock, WALLCLOCK, wallclock, 1)

/* power: leaving the machine. Neither returns on success. */
#define HVB_FUNCTIONS_POWER(F)                                          \
  /* (code 0..255) -> does not return; HVB_ERR_INVAL for code > 255. */ \
  F(POWER, power, SHUTDOWN, shutdown, 0)                                \
  /* () -> does not return; the platform boots the same image again. */ \
  F(POWER, power, REBOOT, reboot, 1)

/* debug: measuring and checking the call path itself. */
#define HVB_FUNCTIONS_DEBUG(F)                                           \
  /* () -> value = 0. Does nothing; its cost is the cost of the path. */ \
  F(DEBUG, debug, NULL, null, 0)                                         \
  /* (a0, a1, a2, a3, a4, a5) -> value = a0 ^ a1 ^ a2 ^ a3 ^ a4 ^ a5:    \
   * proves that all six argument registers arrive. */                   \
  F(DEBUG, debug, ECHO, echo, 1)                                         \
  /* (code 0..255, gpa msg, len) -> does not return: the guest panics,   \
   * and the platform reports the message (at most                       \
   * HVB_PANIC_MAX_MESSAGE bytes), the code and the calling vCPU's       \
   * registers, then stops the machine. HVB_ERR_INVAL for code > 255 or  \
   * len > HVB_PANIC_MAX_MESSAGE, HVB_ERR_FAULT if the message is not    \
   * the guest's RAM: the call then returns. Since 0.9. */               \
  F(DEBUG, debug, PANIC, panic, 2)

/* vcpu: bringing virtual CPUs up and down (after RISC-V SBI HSM and ARM
 * PSCI CPU_ON/CPU_OFF). Since 0.2. */
#define HVB_FUNCTIONS_VCPU(F)                                         \
  /* () -> value = number of vCPUs (ids 0 .. count - 1). */           \
  F(VCPU, vcpu, COUNT, count, 0)                                      \
  /* () -> value = the calling vCPU's id. */                          \
  F(VCPU, vcpu, SELF, self, 1)                                        \
  /* (id, entry, stack, arg, cr3) -> 0. Starts stopped vCPU `id` in   \
   * long mode at `entry` with rsp = `stack` (16-byte aligned), rdi = \
   * `arg`, interrupts off, the platform's GDT, and page tables at    \
   * `cr3` (0: the platform's boot identity map). Returns once the    \
   * start is under way. */                                           \
  F(VCPU, vcpu, START, start, 2)                                      \
  /* () -> does not return: the calling vCPU stops until started      \
   * again; its timer is disarmed. */                                 \
  F(VCPU, vcpu, STOP, stop, 3)                                        \
  /* (id) -> value = HVB_VCPU_STOPPED / _RUNNING / _PAUSED. */        \
  F(VCPU, vcpu, STATUS, status, 4)

/* timer: one one-shot deadline per vCPU. Since 0.2. */
#define HVB_FUNCTIONS_TIMER(F)                                        \
  /* (deadline_ns, vector) -> 0. When clock.monotonic reaches         \
   * deadline_ns, raises `vector` on the calling vCPU (at once if it  \
   * already has). Replaces the vCPU's armed deadline, if any. */     \
  F(TIMER, timer, SET, set, 0)                                        \
  /* () -> 0. Disarms the calling vCPU's deadline (no-op if none). */ \
  F(TIMER, timer, CANCEL, cancel, 1)

/* event: routing event sources to vCPUs and vectors; IPIs. Since 0.2. */
#define HVB_FUNCTIONS_EVENT(F)                                         \
  /* (source, vcpu, vector) -> 0. Delivers `source`'s events as        \
   * `vector` on `vcpu`. A source starts unrouted and unmasked. */     \
  F(EVENT, event, ROUTE, route, 0)                                     \
  /* (source) -> 0. Holds the source's events; one is kept pending. */ \
  F(EVENT, event, MASK, mask, 1)                                       \
  /* (source) -> 0. Releases the source; a pending event is delivered  \
   * now. */                                                           \
  F(EVENT, event, UNMASK, unmask, 2)                                   \
  /* (vcpu, vector) -> 0. Raises `vector` on `vcpu` (may be the        \
   * caller). */                                                       \
  F(EVENT, event, SEND_IPI, send_ipi, 3)

/* block: disks, by device id from the boot info's device list. Since 0.3.
 * Sectors are HVB_BLOCK_SECTOR_SIZE bytes. A write is durable once a later
 * flush of the same device has returned HVB_OK. */
#define HVB_FUNCTIONS_BLOCK(F)                                         \
  /* (dev, gpa info) -> 0. Writes a struct hvb_block_info (ring.h). */ \
  F(BLOCK, block, INFO, info, 0)                                       \
  /* (dev, sector, count, gpa buf) -> count; 1 <= count <=             \
   * max_sectors. */                                                   \
  F(BLOCK, block, READ, read, 1)                                       \
  /* (dev, sector, count, gpa buf) -> count. HVB_ERR_PERM if           \
   * read-only, HVB_ERR_NOMEM (nothing written) if the host has no     \
   * space; after HVB_ERR_IO the sectors hold unspecified data. */     \
  F(BLOCK, block, WRITE, write, 2)                                     \
  /* (dev) -> 0. Makes every write completed before it durable. */     \
  F(BLOCK, block, FLUSH, flush, 3)                                     \
  /* (dev, sector, count) -> 0. The sectors' contents become           \
   * unspecified (reads return zeros on hvbios-run's file disks). */   \
  F(BLOCK, block, DISCARD, discard, 4)                                 \
  /* (dev, gpa ring, entries) -> queue id. Registers a request ring    \
   * (ring.h) of `entries` (a power of two, 1..256) slots at `ring`    \
   * (4 KiB aligned, HVB_RING_BYTES(entries) bytes of the guest's      \
   * RAM). */                                                          \
  F(BLOCK, block, QUEUE_SETUP, queue_setup, 5)

/* net: network devices, by device id from the boot info's device list
 * (net.h). Since 0.10. */
#define HVB_FUNCTIONS_NET(F)                                              \
  /* (dev, gpa info) -> 0. Writes a struct hvb_net_info (net.h). */       \
  F(NET, net, INFO, info, 0)                                              \
  /* (dev, gpa frame, len) -> 0 once the frame is handed to the link.     \
   * HVB_ERR_INVAL unless HVB_NET_MIN_FRAME <= len <= max_frame;          \
   * HVB_ERR_AGAIN if the link takes nothing now (nothing sent): try      \
   * again. */                                                            \
  F(NET, net, SEND, send, 1)                                              \
  /* (dev, gpa buf, capacity) -> value = length of the frame received     \
   * into buf, the oldest one waiting. Never blocks: HVB_ERR_AGAIN when   \
   * none is waiting; HVB_ERR_RANGE if it is longer than capacity (it     \
   * stays waiting; max_frame bytes always hold one). */                  \
  F(NET, net, RECV, recv, 2)                                              \
  /* (dev, gpa ring, entries, direction) -> queue id. Registers a ring    \
   * (ring.h) as block.queue_setup does, of frames to send                \
   * (HVB_NET_QUEUE_TX) or of buffers to receive into (HVB_NET_QUEUE_RX); \
   * one of each per device (HVB_ERR_BUSY). */                            \
  F(NET, net, QUEUE_SETUP, queue_setup, 3)

/* rng: random bytes from the platform's generator (the host kernel's
 * CSPRNG, RDRAND on bare metal). Since 0.3. */
#define HVB_FUNCTIONS_RNG(F)                                         \
  /* (gpa buf, len) -> bytes written, min(len, HVB_RNG_MAX_FILL). */ \
  F(RNG, rng, FILL, fill, 0)

/* memory: the memory map as it is now (it changes when the embedding VMM
 * adds or removes memory). Since 0.6. */
#define HVB_FUNCTIONS_MEMORY(F)                                        \
  /* () -> the map's generation: the boot info's mem_map_generation at \
   * boot, one more after each change. */                              \
  F(MEMORY, memory, GENERATION, generation, 0)                         \
  /* (gpa buf, capacity) -> the number of entries in the map. Copies   \
   * min(number, capacity) struct hvb_mem_region entries, sorted by    \
   * base, to buf (which must hold them: HVB_ERR_FAULT). */            \
  F(MEMORY, memory, READ_MAP, read_map, 1)

/* Every function, service by service. */
#define HVB_FUNCTIONS(F)   \
  HVB_FUNCTIONS_BASE(F)    \
  HVB_FUNCTIONS_CONSOLE(F) \
  HVB_FUNCTIONS_CLOCK(F)   \
  HVB_FUNCTIONS_POWER(F)   \
  HVB_FUNCTIONS_DEBUG(F)   \
  HVB_FUNCTIONS_VCPU(F)    \
  HVB_FUNCTIONS_TIMER(F)   \
  HVB_FUNCTIONS_EVENT(F)   \
  HVB_FUNCTIONS_BLOCK(F)   \
  HVB_FUNCTIONS_NET(F)     \
  HVB_FUNCTIONS_RNG(F)     \
  HVB_FUNCTIONS_MEMORY(F)

#endif /* HVBIOS_ABI_FUNCTIONS_H_ */
