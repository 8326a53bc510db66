/* Test guest for host-side tests: does what its command line says.
 *   exit=N        power.shutdown(N)
 *   panic         debug.panic with code 7 and a two-line message
 *   page-fault    writes far above any mapping with the SDK's IDT: its
 *                 report decodes the #PF
 *   gp            loads selector 0xfff8 into ds (past the GDT's end) with
 *                 the SDK's IDT: #GP, its report names the selector
 *   reboot        power.reboot; after the reboot (a fresh VM) "reboot" is
 *                 still on the command line, so it prints and reboots again
 *   triple-fault  executes ud2 with no IDT: #UD, #DF, triple fault
 *   halt          cli; hlt: nothing can wake it
 *   port          writes an I/O port no device serves
 *   shared        writes "written by the guest" at the start of the first
 *                 HVB_MEM_SHARED region of its memory map, tries to write
 *                 the first HVB_MEM_ROM one and prints what it reads there
 *   hotplug       waits for the memory-map event, then finds the RAM the
 *                 host added above its boot map, maps it and writes
 *                 "hot-added RAM works" into its last 64 bytes
 *   irq           counts interrupts on vectors 0x46 and 0x48 and on 0x47,
 *                 which it routes the embedder's event source 0x10000 to;
 *                 prints "irq: ready", then "irq: 46", "irq: 48", "irq: 47"
 *                 as each first arrives, in that order
 *   device        drives the host's vendor devices 7 (ports) and 8 (MMIO):
 *                 reads and writes registers, rings device 8's doorbell
 *                 at +0x10 and waits for its event, printing what it saw
 *   port-read     reads I/O ports no device serves (in, then rep insb) and
 *                 prints what it got
 *   spin          loops forever (for timeouts and stopping)
 *   echo          copies console input to output until it reads "q"
 *   flood         prints numbered lines forever
 *   exception     executes ud2 with the SDK's IDT: its report, code 111
 * Unknown commands shut down with 99. */
#include "hvbios/guest/hvb.h"

static volatile uint64_t input_events, handled_events;
static void on_input(struct hvb_interrupt_frame *frame) {
  (void)frame;
  input_events = input_events + 1;
}

static volatile uint64_t map_events;
static void on_map_change(struct hvb_interrupt_frame *frame) {
  (void)frame;
  map_events = map_events + 1;
}

static volatile uint64_t irq_hits[3]; /* 0x46, 0x48, 0x47 */
static void on_46(struct hvb_interrupt_frame *f) {
  (void)f;
  irq_hits[0] = irq_hits[0] + 1;
}
static void on_48(struct hvb_interrupt_frame *f) {
  (void)f;
  irq_hits[1] = irq_hits[1] + 1;
}
static void on_47(struct hvb_interrupt_frame *f) {
  (void)f;
  irq_hits[2] = irq_hits[2] + 1;
}

/* irq: see the top. */
static int irq(void) {
  hvb_interrupts_init();
  hvb_interrupt_set_handler(0x46, on_46);
  hvb_interrupt_set_handler(0x48, on_48);
  hvb_interrupt_set_handler(0x47, on_47);
  if (hvb_event_route(HVB_EVENT_SRC_VENDOR_FIRST, 0, 0x47) != HVB_OK) return 2;
  hvb_printf("irq: ready\n");
  static const char *const kNames[3] = {"46", "48", "47"};
  for (int i = 0; i < 3; ++i) {
    HVB_WAIT_UNTIL(irq_hits[i] != 0);
    hvb_printf("irq: %s\n", kNames[i]);
  }
  return 0;
}

static volatile uint64_t device_events;
static void on_device_event(struct hvb_interrupt_frame *f) {
  (void)f;
  device_events = device_events + 1;
}

/* device: see the top. */
static int device(void) {
  const struct hvb_device *ports = hvb_find_device(HVB_DEV_VENDOR, 7);
  const struct hvb_device *mmio = hvb_find_device(HVB_DEV_VENDOR, 8);
  if (!ports || !mmio || !(ports->flags & HVB_DEV_F_PIO)) return 2;
  const uint16_t port = (uint16_t)ports->window_base;
  uint32_t id;
  __asm__ volatile("inl %1, %0" : "=a"(id) : "d"(port));
  __asm__ volatile("outl %0, %1"
                   :
                   : "a"(0xabcd0123u), "d"((uint16_t)(port + 4)));
  if (hvb_map_identity(mmio->window_base, mmio->window_size, 1) != HVB_OK) {
    return 3;
  }
  volatile uint64_t *regs = (volatile uint64_t *)(uintptr_t)mmio->window_base;
  const uint64_t magic = regs[0];
  regs[1] = 0x1122334455667788ull;
  hvb_interrupts_init();
  hvb_interrupt_set_handler(0x49, on_device_event);
  if (hvb_event_route(HVB_DEV_EVENT_SOURCE(mmio->flags), 0, 0x49) != HVB_OK) {
    return 4;
  }
  hvb_printf("device: port id %x, mmio magic %lx, window %lx+%lx\n", id, magic,
             mmio->window_base, mmio->window_size);
  regs[2] = 5; /* the doorbell */
  HVB_WAIT_UNTIL(device_events != 0);
  hvb_printf("device: event after the doorbell\n");
  return 0;
}

/* hotplug: see the top. */
static int hotplug(const struct hvb_boot_info *boot) {
  hvb_interrupts_init();
  hvb_interrupt_set_handler(0x45, on_map_change);
  hvb_event_route(HVB_EVENT_SRC_MEMORY_MAP, 0, 0x45);
  hvb_printf("hotplug: generation %lu, waiting\n", hvb_memory_generation());
  HVB_WAIT_UNTIL(map_events != 0);
  static struct hvb_mem_region map[64];
  uint32_t count = 0;
  if (hvb_memory_read_map(map, 64, &count) != HVB_OK) return 2;
  const struct hvb_mem_region *boot_map =
      (const struct hvb_mem_region *)(uintptr_t)boot->mem_map;
  const struct hvb_mem_region *last = &boot_map[boot->mem_map_count - 1];
  const uint64_t boot_top = last->base + last->length;
  for (uint32_t i = 0; i < count && i < 64; ++i) {
    if (map[i].type != HVB_MEM_USABLE || map[i].base < boot_top) continue;
    if (hvb_map_identity(map[i].base, map[i].length, 0) != HVB_OK) return 3;
    char *end = (char *)(uintptr_t)(map[i].base + map[i].length - 64);
    const char text[] = "hot-added RAM works";
    memcpy(end, text, sizeof(text));
    hvb_printf("hotplug: generation %lu, %u entries, new RAM at %lx+%lx\n",
               hvb_memory_generation(), count, map[i].base, map[i].length);
    return 0;
  }
  return 4;
}

static int starts_with(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

int hvb_main(const struct hvb_boot_info *boot) {
  const char *cmd = boot->cmdline ? (const char *)(uintptr_t)boot->cmdline : "";
  hvb_printf("behave: %s\n", cmd);
  if (starts_with(cmd, "exit=")) {
    uint32_t code = 0;
    for (const char *p = cmd + 5; *p >= '0' && *p <= '9'; ++p) {
      code = code * 10 + (uint32_t)(*p - '0');
    }
    hvb_power_shutdown(code);
    return 98; /* shutdown refused the code */
  }
  if (starts_with(cmd, "reboot")) {
    hvb_power_reboot();
    return 97;
  }
  if (starts_with(cmd, "page-fault")) {
    hvb_interrupts_init();
    *(volatile uint64_t *)(1ull << 45) = 1; /* far above any mapping */
  }
  if (starts_with(cmd, "gp")) {
    hvb_interrupts_init();
    __asm__ volatile("mov %0, %%ds" ::"r"(0xfff8) : "memory");
  }
  if (starts_with(cmd, "panic")) {
    hvb_panic(7, "the %s is on fire\nsecond line", "disk");
  }
  if (starts_with(cmd, "triple-fault")) __asm__ volatile("ud2");
  if (starts_with(cmd, "halt")) hvb_halt_forever();
  if (starts_with(cmd, "hotplug")) return hotplug(boot);
  if (starts_with(cmd, "irq")) return irq();
  if (starts_with(cmd, "device")) return device();
  if (starts_with(cmd, "shared")) {
    const struct hvb_mem_region *map =
        (const struct hvb_mem_region *)(uintptr_t)boot->mem_map;
    for (uint32_t i = 0; i < boot->mem_map_count; ++i) {
      volatile char *at = (volatile char *)(uintptr_t)map[i].base;
      if (map[i].type == HVB_MEM_SHARED) {
        const char text[] = "written by the guest";
        for (size_t j = 0; j < sizeof(text); ++j) at[j] = text[j];
        hvb_printf("shared: wrote at %lx\n", map[i].base);
      } else if (map[i].type == HVB_MEM_ROM) {
        const char before = at[0];
        at[0] = (char)(before + 1);
        hvb_printf("rom: %c then %c\n", before, at[0]);
      }
    }
    return 0;
  }
  if (starts_with(cmd, "port-read")) {
    uint8_t byte;
    uint32_t dword;
    __asm__ volatile("inb $0x80, %0" : "=a"(byte));
    __asm__ volatile("inl $0x84, %0" : "=a"(dword));
    uint8_t bytes[4] = {1, 2, 3, 4};
    uint8_t *dst = bytes;
    uint64_t count = sizeof(bytes);
    __asm__ volatile("rep insb"
                     : "+D"(dst), "+c"(count)
                     : "d"(0x80)
                     : "memory");
    hvb_printf("port-read: %x %x %x%x%x%x\n", byte, dword, bytes[0], bytes[1],
               bytes[2], bytes[3]);
    return 0;
  }
  if (starts_with(cmd, "port")) __asm__ volatile("outb %%al, $0x80" : : "a"(0));
  if (starts_with(cmd, "flood")) {
    for (uint64_t line = 0;; ++line) {
      hvb_printf("flood %lu: the quick brown fox jumps over the lazy dog\n",
                 line);
    }
  }
  if (starts_with(cmd, "exception")) {
    hvb_interrupts_init();
    __asm__ volatile("ud2");
  }
  if (starts_with(cmd, "spin")) {
    for (volatile uint64_t i = 0;; ++i) {
    }
  }
  if (starts_with(cmd, "event-echo")) {
    /* Sleeps until the console-input event says there is input. */
    hvb_interrupts_init();
    hvb_interrupt_set_handler(0x44, on_input);
    hvb_event_route(HVB_EVENT_SRC_CONSOLE_INPUT, 0, 0x44);
    hvb_printf("waiting for input\n");
    char buf[64];
    for (;;) {
      HVB_WAIT_UNTIL(input_events != handled_events);
      handled_events = input_events;
      size_t n = 0;
      while (hvb_console_read(buf, sizeof(buf), &n) == HVB_OK && n > 0) {
        for (size_t i = 0; i < n; ++i) {
          if (buf[i] == 'q') {
            hvb_console_write(buf, i);
            hvb_printf("[%lu input events]\n", input_events);
            return 0;
          }
        }
        hvb_console_write(buf, n);
      }
    }
  }
  if (starts_with(cmd, "echo")) {
    char buf[64];
    for (;;) {
      size_t n = 0;
      if (hvb_console_read(buf, sizeof(buf), &n) != HVB_OK) return 96;
      for (size_t i = 0; i < n; ++i) {
        if (buf[i] == 'q') {
          hvb_console_write(buf, i);
          return 0;
        }
      }
      hvb_console_write(buf, n);
    }
  }
  return 99;
}
