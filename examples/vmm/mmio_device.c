/* A VMM in C against hvbios.h alone that gives its guest a device of its
 * own: the mailbox of examples/mailbox.h, with
 *  - a page of memory shared with the guest (a memfd mapped in both),
 *  - an MMIO window whose registers this file serves,
 *  - a doorbell the guest rings without a VM exit (an ioeventfd),
 *  - an interrupt route the device's I/O thread raises the reply with,
 *  - RAM added while the guest runs, and dirty-page logs of both.
 * Usage: mmio_device GUEST.elf (examples/guests/mailbox). Exits with the
 * guest's shutdown code. */
#define _GNU_SOURCE
#include <ctype.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "examples/mailbox.h"
#include "hvbios/hvbios.h"

#define SHARED_GPA (5ull << 30)
#define WINDOW_GPA 0xd0000000ull
#define NEW_RAM_GPA (8ull << 30)
#define NEW_RAM_BYTES (2u << 20)

struct mailbox {
  hyperv_bios_vm *vm;
  char *page; /* the shared page, as this process maps it */
  int doorbell;
  uint32_t route;
  int route_fd;
  uint32_t new_ram; /* region id, once added */
  uint64_t replies; /* atomic: the I/O thread counts, vCPUs read */
};

static uint64_t mailbox_read(void *context, uint64_t offset, uint32_t size) {
  struct mailbox *m = context;
  (void)size;
  if (offset == MAILBOX_REG_MAGIC) return MAILBOX_MAGIC;
  if (offset == MAILBOX_REG_REPLIES) {
    return __atomic_load_n(&m->replies, __ATOMIC_ACQUIRE);
  }
  return ~0ull;
}

/* Runs on the vCPU thread: a callback, which may make calls that do not
 * wait (hvbios.h), such as moving the route. */
static void mailbox_write(void *context, uint64_t offset, uint32_t size,
                          uint64_t value) {
  struct mailbox *m = context;
  (void)size;
  if (offset == MAILBOX_REG_VECTOR && value >= 32 && value < 255) {
    hyperv_bios_retarget_interrupt_route(m->vm, m->route, 0, (uint8_t)value);
  }
}

/* The device's I/O thread: one request, then the RAM. */
static void *mailbox_thread(void *context) {
  struct mailbox *m = context;
  struct pollfd p = {m->doorbell, POLLIN, 0};
  if (poll(&p, 1, 60 * 1000) != 1) return NULL;
  uint64_t rings;
  if (read(m->doorbell, &rings, sizeof(rings)) != sizeof(rings)) return NULL;
  /* The guest's bytes: copy once, with a bound, then use the copy. */
  char request[MAILBOX_MAX_MESSAGE + 1];
  memcpy(request, m->page, MAILBOX_MAX_MESSAGE);
  request[MAILBOX_MAX_MESSAGE] = 0;
  char *reply = m->page + MAILBOX_REPLY_OFFSET;
  size_t n = 0;
  for (; request[n] != 0 && n < MAILBOX_MAX_MESSAGE; ++n) {
    reply[n] = (char)toupper((unsigned char)request[n]);
  }
  reply[n] = 0;
  __atomic_fetch_add(&m->replies, 1, __ATOMIC_RELEASE);
  const uint64_t one = 1;
  if (write(m->route_fd, &one, sizeof(one)) != sizeof(one)) return NULL;

  hyperv_bios_memory_region ram = {
      .struct_size = sizeof(ram), .gpa = NEW_RAM_GPA, .size = NEW_RAM_BYTES};
  if (hyperv_bios_map_memory(m->vm, &ram, &m->new_ram) == HYPERV_BIOS_OK) {
    hyperv_bios_start_dirty_log(m->vm, m->new_ram);
  }
  return NULL;
}

static void print_console(void *context, const char *bytes, size_t length) {
  (void)context;
  fwrite(bytes, 1, length, stdout);
  fflush(stdout);
}

static int dirty_pages(hyperv_bios_vm *vm, uint32_t id, size_t words) {
  uint64_t bitmap[8] = {0};
  if (words > 8 ||
      hyperv_bios_fetch_dirty_log(vm, id, bitmap, words) != HYPERV_BIOS_OK) {
    return -1;
  }
  int pages = 0;
  for (size_t i = 0; i < words; ++i) pages += __builtin_popcountll(bitmap[i]);
  return pages;
}

static int fail(const char *what) {
  fprintf(stderr, "mmio_device: %s: %s\n", what, hyperv_bios_last_error());
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: mmio_device GUEST.elf\n");
    return 2;
  }
  static struct mailbox m = {.new_ram = UINT32_MAX};
  const int memfd = memfd_create("mailbox", MFD_CLOEXEC);
  if (memfd < 0 || ftruncate(memfd, 4096) != 0) return fail("memfd");
  m.page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
  m.doorbell = eventfd(0, EFD_CLOEXEC);
  if (m.page == MAP_FAILED || m.doorbell < 0) return fail("mmap/eventfd");

  hyperv_bios_vm_config config;
  hyperv_bios_init_vm_config(&config);
  config.memory_bytes = 32u << 20;
  config.console_output = print_console;
  if (hyperv_bios_create_vm(&config, &m.vm) != HYPERV_BIOS_OK) {
    return fail("create VM");
  }
  uint32_t shared = 0;
  const hyperv_bios_memory_region region = {.struct_size = sizeof(region),
                                            .gpa = SHARED_GPA,
                                            .size = 4096,
                                            .fd = memfd,
                                            .flags = HYPERV_BIOS_MEMORY_FD};
  const hyperv_bios_device device = {.struct_size = sizeof(device),
                                     .id = MAILBOX_DEVICE_ID,
                                     .base = WINDOW_GPA,
                                     .size = 4096,
                                     .read = mailbox_read,
                                     .write = mailbox_write,
                                     .context = &m};
  pthread_t io;
  int rc = 1;
  if (hyperv_bios_map_memory(m.vm, &region, &shared) != HYPERV_BIOS_OK) {
    fail("map the shared page");
  } else if (hyperv_bios_start_dirty_log(m.vm, shared) != HYPERV_BIOS_OK ||
             hyperv_bios_add_device(m.vm, &device) != HYPERV_BIOS_OK ||
             hyperv_bios_bind_device_doorbell(m.vm, MAILBOX_DEVICE_ID,
                                              MAILBOX_REG_DOORBELL, 8, 0, 0,
                                              m.doorbell) != HYPERV_BIOS_OK ||
             hyperv_bios_add_interrupt_route(m.vm, 0, 0xfe, &m.route,
                                             &m.route_fd) != HYPERV_BIOS_OK) {
    fail("set up the device");
  } else if (pthread_create(&io, NULL, mailbox_thread, &m) != 0) {
    fprintf(stderr, "mmio_device: no I/O thread\n");
  } else {
    hyperv_bios_vcpu *vcpu = NULL;
    hyperv_bios_vm_exit exit_info = {.struct_size = sizeof(exit_info)};
    if (hyperv_bios_load_guest(m.vm, argv[1]) != HYPERV_BIOS_OK ||
        hyperv_bios_create_vcpu(m.vm, 0, &vcpu) != HYPERV_BIOS_OK ||
        hyperv_bios_start_vcpu(vcpu) != HYPERV_BIOS_OK ||
        hyperv_bios_wait_vm(m.vm, 60 * 1000, &exit_info) != HYPERV_BIOS_OK) {
      fail("run the guest");
      hyperv_bios_stop_vm(m.vm);
    } else if (exit_info.reason == HYPERV_BIOS_EXIT_SHUTDOWN) {
      rc = exit_info.exit_code;
    } else {
      printf("mmio_device: guest stopped (reason %d): %s\n", exit_info.reason,
             exit_info.message);
    }
    pthread_join(io, NULL);
    printf("mmio_device: dirty pages: shared %d of 1, new RAM %d of %u\n",
           dirty_pages(m.vm, shared, 1),
           m.new_ram == UINT32_MAX
               ? -1
               : dirty_pages(m.vm, m.new_ram, NEW_RAM_BYTES / 4096 / 64),
           NEW_RAM_BYTES / 4096);
  }
  hyperv_bios_destroy_vm(m.vm);
  return rc;
}
