/* The guest driver of the mailbox device (examples/mailbox.h): finds the
 * device and its shared page, sends a request, sleeps until the reply's
 * interrupt, then waits for the RAM the device adds and uses it. */
#include "examples/mailbox.h"

#include "hvbios/guest/hvb.h"

enum { kReplyVector = 0x50, kMapVector = 0x51 };

static volatile uint64_t replies, map_changes;
static void on_reply(struct hvb_interrupt_frame *f) {
  (void)f;
  replies = replies + 1;
}
static void on_map_change(struct hvb_interrupt_frame *f) {
  (void)f;
  map_changes = map_changes + 1;
}

/* The first region of `type` at or above `from`, or NULL. */
static const struct hvb_mem_region *find_region(
    const struct hvb_mem_region *map, uint32_t count, uint32_t type,
    uint64_t from) {
  for (uint32_t i = 0; i < count; ++i) {
    if (map[i].type == type && map[i].base >= from) return &map[i];
  }
  return 0;
}

int hvb_main(const struct hvb_boot_info *boot) {
  const struct hvb_device *dev =
      hvb_find_device(HVB_DEV_VENDOR, MAILBOX_DEVICE_ID);
  const struct hvb_mem_region *map =
      (const struct hvb_mem_region *)(uintptr_t)boot->mem_map;
  const struct hvb_mem_region *shared =
      find_region(map, boot->mem_map_count, HVB_MEM_SHARED, 0);
  if (dev == 0 || shared == 0 || (dev->flags & HVB_DEV_F_PIO)) {
    hvb_printf("mailbox: no mailbox device or shared page here\n");
    return 3;
  }
  if (hvb_map_identity(dev->window_base, dev->window_size, 1) != HVB_OK) {
    return 4;
  }
  volatile uint64_t *regs = (volatile uint64_t *)(uintptr_t)dev->window_base;
  if (regs[MAILBOX_REG_MAGIC / 8] != MAILBOX_MAGIC) return 5;

  hvb_interrupts_init();
  hvb_interrupt_set_handler(kReplyVector, on_reply);
  hvb_interrupt_set_handler(kMapVector, on_map_change);
  hvb_event_route(HVB_EVENT_SRC_MEMORY_MAP, 0, kMapVector);
  regs[MAILBOX_REG_VECTOR / 8] = kReplyVector;

  char *page = (char *)(uintptr_t)shared->base;
  const char request[] = "hello, device model";
  memcpy(page, request, sizeof(request));
  regs[MAILBOX_REG_DOORBELL / 8] = 1;
  HVB_WAIT_UNTIL(replies != 0);
  page[MAILBOX_REPLY_OFFSET + MAILBOX_MAX_MESSAGE] = 0;
  hvb_printf("mailbox: the device replied \"%s\" (%lu replies)\n",
             page + MAILBOX_REPLY_OFFSET, regs[MAILBOX_REG_REPLIES / 8]);

  /* The device adds RAM after its reply: wait for the map to change. */
  HVB_WAIT_UNTIL(map_changes != 0);
  static struct hvb_mem_region now[64];
  uint32_t count = 0;
  if (hvb_memory_read_map(now, 64, &count) != HVB_OK) return 6;
  const struct hvb_mem_region *last = &map[boot->mem_map_count - 1];
  const struct hvb_mem_region *ram = find_region(
      now, count < 64 ? count : 64, HVB_MEM_USABLE, last->base + last->length);
  if (ram == 0 || hvb_map_identity(ram->base, ram->length, 0) != HVB_OK) {
    return 7;
  }
  uint64_t *words = (uint64_t *)(uintptr_t)ram->base;
  for (uint64_t i = 0; i < ram->length / 8; i += 512)
    words[i] = i; /* each page */
  hvb_printf("mailbox: using %lu KiB of new RAM at %lx (map generation %lu)\n",
             ram->length >> 10, ram->base, hvb_memory_generation());
  return 0;
}
