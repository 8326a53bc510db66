/* hvbios guest SDK: the IDT and C-level interrupt dispatch. */
#include "hvbios/guest/hvb.h"

struct idt_gate {
  uint16_t offset_low;
  uint16_t selector;
  uint8_t ist;
  uint8_t type_attr;
  uint16_t offset_mid;
  uint32_t offset_high;
  uint32_t reserved;
};
_Static_assert(sizeof(struct idt_gate) == 16, "64-bit IDT gate");

static struct idt_gate idt[256] __attribute__((aligned(16)));
static hvb_interrupt_handler handlers[256];
static uint8_t manual_eoi[256]; /* 1: the handler acknowledges itself */
extern char hvb_isr_entries[];

void hvb_interrupts_load(void) {
  struct __attribute__((packed)) {
    uint16_t limit;
    uint64_t base;
  } idtr = {sizeof(idt) - 1, (uint64_t)(uintptr_t)idt};
  __asm__ volatile("lidt %0" : : "m"(idtr) : "memory");
}

void hvb_interrupts_init(void) {
  for (int v = 0; v < 256; ++v) {
    uint64_t entry = (uint64_t)(uintptr_t)(hvb_isr_entries + 16 * v);
    idt[v].offset_low = (uint16_t)entry;
    idt[v].selector = 0x08; /* the platform GDT's 64-bit code segment */
    idt[v].ist = 0;
    idt[v].type_attr = 0x8e; /* present, DPL 0, 64-bit interrupt gate */
    idt[v].offset_mid = (uint16_t)(entry >> 16);
    idt[v].offset_high = (uint32_t)(entry >> 32);
    idt[v].reserved = 0;
  }
  hvb_interrupts_load();
}

void hvb_interrupt_set_handler(uint8_t vector, hvb_interrupt_handler handler) {
  __atomic_store_n(&handlers[vector], handler, __ATOMIC_RELEASE);
}

void hvb_interrupt_set_manual_eoi(uint8_t vector, int manual) {
  __atomic_store_n(&manual_eoi[vector], manual ? 1 : 0, __ATOMIC_RELEASE);
}

/* The exceptions' mnemonics (SDM Vol. 3A, Table 6-1). */
static const char *const exception_names[32] = {
    "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "CSO", "#TS",
    "#NP", "#SS", "#GP", "#PF", "15",  "#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
    "22",  "23",  "24",  "25",  "26",  "27",  "#HV", "#VC", "#SX", "31"};

/* What an exception's error code says, for the two that say most: a page
 * fault's access (SDM Vol. 3A 4.7) and the selector of a fault that names
 * one (6.13). */
static void describe_error(uint64_t vector, uint64_t error, uint64_t cr2,
                           char *out, size_t size) {
  out[0] = '\0';
  if (vector == 14) {
    const char *access = error & 0x10  ? "instruction fetch at"
                         : error & 0x2 ? "write to"
                                       : "read of";
    hvb_snprintf(out, size, ": %s 0x%lx, %s%s%s", access, cr2,
                 error & 0x1 ? "protection violation" : "page not present",
                 error & 0x4 ? ", user mode" : "",
                 error & 0x8 ? ", reserved bit set" : "");
  } else if ((vector == 10 || vector == 11 || vector == 12 || vector == 13) &&
             error != 0) {
    hvb_snprintf(out, size, ": %s selector 0x%lx%s",
                 error & 0x2 ? "IDT" : (error & 0x4 ? "LDT" : "GDT"),
                 error & 0xfff8, error & 0x1 ? ", external event" : "");
  }
}

/* Called by interrupts.S with interrupts off. */
void hvb_interrupt_dispatch(struct hvb_interrupt_frame *frame);
void hvb_interrupt_dispatch(struct hvb_interrupt_frame *frame) {
  const uint64_t vector = frame->vector & 0xff;
  hvb_interrupt_handler handler =
      __atomic_load_n(&handlers[vector], __ATOMIC_ACQUIRE);
  if (handler != 0) {
    handler(frame);
  } else if (vector < 32) {
    uint64_t cr2;
    __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
    char detail[128];
    describe_error(vector, frame->error_code, cr2, detail, sizeof(detail));
    hvb_panic(HVB_EXIT_EXCEPTION,
              "unhandled exception %lu (%s%s; error code 0x%lx) at rip 0x%lx, "
              "rsp 0x%lx, cr2 0x%lx",
              vector, exception_names[vector], detail, frame->error_code,
              frame->rip, frame->rsp, cr2);
  }
  /* Events are acknowledged once handled, unless the handler does it
   * itself; the spurious vector never is (it was never in service, and an
   * EOI would end another event's service: docs/abi.md 5.8). */
  if (vector >= HVB_VECTOR_MIN && vector <= HVB_VECTOR_MAX &&
      !__atomic_load_n(&manual_eoi[vector], __ATOMIC_ACQUIRE)) {
    hvb_eoi();
  }
}
