/* debug (docs/abi.md 5.5): the call path itself, and the guest's panic. */
#include "common/format.h"
#include "common/page_tables.h"
#include "common/stack_walk.h"
#include "devices.h"
#include "firmware.h"
#include "services/services.h"

struct fw_result fw_debug_null(const uint64_t *args) {
  (void)args;
  return fw_ok(0);
}
struct fw_result fw_debug_echo(const uint64_t *args) {
  return fw_ok(args[0] ^ args[1] ^ args[2] ^ args[3] ^ args[4] ^ args[5]);
}

extern char hcpage[]; /* hcpage.S */

/* Guest memory as the panicking vCPU sees it: through its page tables. */
struct guest_view {
  uint64_t cr0, cr3;
};

static int read_phys64(void *context, uint64_t gpa, uint64_t *value) {
  (void)context;
  if (!fw_ram_contains(gpa, 8)) return 0;
  *value = *(const volatile uint64_t *)(uintptr_t)gpa;
  return 1;
}

static int read_virt64(void *context, uint64_t va, uint64_t *value) {
  const struct guest_view *view = (const struct guest_view *)context;
  uint64_t gpa;
  return hvb_guest_virtual_to_physical(view->cr0, view->cr3, va, read_phys64, 0,
                                       &gpa) &&
         read_phys64(0, gpa, value);
}

static uint64_t read_cr(int n) {
  uint64_t v = 0;
  if (n == 0) __asm__ volatile("mov %%cr0, %0" : "=r"(v));
  if (n == 2) __asm__ volatile("mov %%cr2, %0" : "=r"(v));
  if (n == 4) __asm__ volatile("mov %%cr4, %0" : "=r"(v));
  return v;
}

/* The calling vCPU's registers as hvbios-run prints them (lib/vm_util.cc,
 * FormatRegisters), then "stack" and the return addresses of its stack
 * (common/stack_walk.c), which hvbios-qemu names from the guest's symbols.
 * The caller is in the hypercall page (rip), its rsp at the return
 * address; r10, r11 and rflags are where the page pushed them. cr0, cr4,
 * efer and the selectors are the guest's: the firmware changes only cr3
 * and the stack. Appends to `line` at `n`; returns the new length. */
static int describe_caller(const struct fw_call_frame *f, char *line, int n,
                           int size) {
  struct guest_view view = {read_cr(0), f->cr3};
  uint64_t r11 = 0, r10 = 0, rflags = 0;
  (void)read_virt64(&view, f->rsp, &r11);
  (void)read_virt64(&view, f->rsp + 8, &r10);
  (void)read_virt64(&view, f->rsp + 16, &rflags);
  const uint64_t rsp = f->rsp + 3 * 8;
  uint16_t cs, ss;
  __asm__ volatile("mov %%cs, %0" : "=r"(cs));
  __asm__ volatile("mov %%ss, %0" : "=r"(ss));
  n += hvb_snprintf(
      line + n, size - n,
      "\n  rip %016lx  rsp %016lx  rflags %08lx  cs %04x ss %04x"
      "\n  rax %016lx  rbx %016lx  rcx %016lx  rdx %016lx"
      "\n  rsi %016lx  rdi %016lx  rbp %016lx  r8  %016lx"
      "\n  r9  %016lx  r10 %016lx  r11 %016lx  r12 %016lx"
      "\n  r13 %016lx  r14 %016lx  r15 %016lx"
      "\n  cr0 %016lx  cr2 %016lx  cr3 %016lx  cr4 %016lx  efer %lx"
      "\nstack",
      (uint64_t)(uintptr_t)hcpage, rsp, rflags, cs, ss,
      (uint64_t)HVB_FN_DEBUG_PANIC, f->rbx, f->rcx, f->args[2], f->rsi, f->rdi,
      f->rbp, f->r8, f->r9, r10, r11, f->r12, f->r13, f->r14, f->r15, view.cr0,
      read_cr(2), f->cr3, read_cr(4), rdmsr(0xc0000080u) /* EFER */);
  uint64_t returns[16];
  const uint32_t count =
      hvb_stack_walk(rsp, f->rbp, read_virt64, &view, returns, 16);
  for (uint32_t i = 0; i < count && n < size; ++i) {
    n += hvb_snprintf(line + n, size - n, " 0x%lx", returns[i]);
  }
  return n < size ? n : size - 1;
}

/* The guest's panic: a status line for hvbios-qemu (machine.c),
 *   panic CODE CPU RSP CR3 MESSAGE
 * with the caller's stack pointer before its call and page tables, then
 * the caller's registers and stack (describe_caller). The message is
 * copied once, its control characters made spaces. */
struct fw_result fw_debug_panic(const uint64_t *args) {
  const struct fw_call_frame *frame = (const struct fw_call_frame *)args;
  const uint64_t code = args[0], message = args[1], length = args[2];
  if (code > 255 || length > HVB_PANIC_MAX_MESSAGE) {
    return fw_error(HVB_ERR_INVAL);
  }
  if (length > 0 && !fw_guest_owns(message, length)) {
    return fw_error(HVB_ERR_FAULT);
  }
  static char line[HVB_PANIC_MAX_MESSAGE + 1024];
  int n =
      hvb_snprintf(line, sizeof(line), "panic %u %u 0x%lx 0x%lx ",
                   (unsigned)code, this_cpu(), frame->rsp + 4 * 8, frame->cr3);
  const char *text = (const char *)(uintptr_t)message;
  for (uint64_t i = 0; i < length && n + 1 < (int)sizeof(line); ++i) {
    const char c = text[i];
    line[n++] = ((unsigned char)c < 0x20 || c == 0x7f) ? ' ' : c;
  }
  n = describe_caller(frame, line, n, (int)sizeof(line));
  line[n] = '\0';
  machine_exit(line);
}
