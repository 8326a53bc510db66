/* vendor_service: a VMM in C that gives its guest a hypercall service of
 * its own, the key-value store of ../vendor_kv.h, on the hvbios C API.
 * The store starts with the KEY=VALUE pairs given; when the guest has shut
 * down, the VMM prints what the store holds.
 *
 *   vendor_service GUEST.elf [KEY=VALUE ...]
 *
 * Exits with the guest's shutdown code, or 1 if it did not shut down. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "examples/vendor_kv.h"
#include "hvbios/hvbios.h"

struct entry {
  char key[KV_MAX_KEY];
  size_t key_length;
  char value[KV_MAX_VALUE];
  size_t value_length;
};

/* The handler runs on vCPU threads, several at once: one lock. */
struct store {
  pthread_mutex_t mu;
  struct entry entries[KV_MAX_ENTRIES];
  size_t count;
};

/* The entry with this key, or NULL. Called with mu held. */
static struct entry *find(struct store *s, const char *key, size_t length) {
  for (size_t i = 0; i < s->count; ++i) {
    if (s->entries[i].key_length == length &&
        memcmp(s->entries[i].key, key, length) == 0) {
      return &s->entries[i];
    }
  }
  return NULL;
}

static int64_t put(struct store *s, const char *key, size_t key_length,
                   const char *value, size_t value_length) {
  struct entry *e = find(s, key, key_length);
  if (e == NULL) {
    if (s->count == KV_MAX_ENTRIES) return HVB_ERR_NOMEM;
    e = &s->entries[s->count++];
    memcpy(e->key, key, key_length);
    e->key_length = key_length;
  }
  memcpy(e->value, value, value_length);
  e->value_length = value_length;
  return HVB_OK;
}

/* Copies the key the guest named (args[0], args[1]) once, checked. */
static int64_t copy_key(const hyperv_bios_service_call *call, char *key,
                        size_t *length) {
  if (call->args[1] == 0 || call->args[1] > KV_MAX_KEY) return HVB_ERR_INVAL;
  *length = (size_t)call->args[1];
  if (hyperv_bios_copy_from_guest(call, call->args[0], key, *length) !=
      HYPERV_BIOS_OK) {
    return HVB_ERR_FAULT;
  }
  return HVB_OK;
}

static int64_t serve(void *context, const hyperv_bios_service_call *call,
                     uint64_t *value) {
  struct store *s = context;
  char key[KV_MAX_KEY], data[KV_MAX_VALUE];
  size_t key_length = 0;
  int64_t status = HVB_OK;
  if (call->function != KV_FN_COUNT) {
    status = copy_key(call, key, &key_length);
    if (status != HVB_OK) return status;
  }
  if (call->function == KV_FN_PUT) {
    if (call->args[3] > KV_MAX_VALUE) return HVB_ERR_INVAL;
    const size_t length = (size_t)call->args[3];
    if (hyperv_bios_copy_from_guest(call, call->args[2], data, length) !=
        HYPERV_BIOS_OK) {
      return HVB_ERR_FAULT;
    }
    pthread_mutex_lock(&s->mu);
    status = put(s, key, key_length, data, length);
    pthread_mutex_unlock(&s->mu);
    return status;
  }
  pthread_mutex_lock(&s->mu);
  struct entry *e = find(s, key, key_length);
  size_t length = 0;
  switch (call->function) {
    case KV_FN_GET:
      if (e == NULL) {
        status = HVB_ERR_NODEV;
        break;
      }
      length = e->value_length;
      memcpy(data, e->value, length);
      break;
    case KV_FN_REMOVE:
      if (e == NULL) {
        status = HVB_ERR_NODEV;
        break;
      }
      *e = s->entries[--s->count];
      break;
    case KV_FN_COUNT:
      *value = s->count;
      break;
  }
  pthread_mutex_unlock(&s->mu);
  if (call->function == KV_FN_GET && status == HVB_OK) {
    /* Out of the lock: copying into guest RAM may fault pages in. */
    const size_t n = length < call->args[3] ? length : (size_t)call->args[3];
    if (hyperv_bios_copy_to_guest(call, call->args[2], data, n) !=
        HYPERV_BIOS_OK) {
      return HVB_ERR_FAULT;
    }
    *value = length;
  }
  return status;
}

/* Prints bytes the guest chose, control characters escaped. */
static void print_untrusted(const char *bytes, size_t length) {
  for (size_t i = 0; i < length; ++i) {
    const unsigned char c = (unsigned char)bytes[i];
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      putchar(c);
    } else {
      printf("\\x%02x", c);
    }
  }
}

static void print_console(void *context, const char *bytes, size_t length) {
  (void)context;
  fwrite(bytes, 1, length, stdout);
  fflush(stdout);
}

static int fail(const char *what) {
  fprintf(stderr, "vendor_service: %s: %s\n", what, hyperv_bios_last_error());
  return 1;
}

/* Boots the guest at `path` on vCPU 0 and waits up to a minute for the VM
 * to end: NULL, or the step that failed. */
static const char *run(hyperv_bios_vm *vm, const char *path,
                       hyperv_bios_vm_exit *exit_info) {
  hyperv_bios_vcpu *vcpu = NULL;
  if (hyperv_bios_load_guest(vm, path) != HYPERV_BIOS_OK) return "load guest";
  if (hyperv_bios_create_vcpu(vm, 0, &vcpu) != HYPERV_BIOS_OK) {
    return "create vCPU 0";
  }
  if (hyperv_bios_start_vcpu(vcpu) != HYPERV_BIOS_OK) return "start vCPU 0";
  if (hyperv_bios_wait_vm(vm, 60 * 1000, exit_info) != HYPERV_BIOS_OK) {
    return "wait";
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: vendor_service GUEST.elf [KEY=VALUE ...]\n");
    return 2;
  }
  static struct store store = {.mu = PTHREAD_MUTEX_INITIALIZER};
  for (int i = 2; i < argc; ++i) {
    const char *eq = strchr(argv[i], '=');
    const size_t key_length = eq ? (size_t)(eq - argv[i]) : 0;
    if (key_length == 0 || key_length > KV_MAX_KEY ||
        strlen(eq + 1) > KV_MAX_VALUE ||
        put(&store, argv[i], key_length, eq + 1, strlen(eq + 1)) != HVB_OK) {
      fprintf(stderr, "vendor_service: bad KEY=VALUE: %s\n", argv[i]);
      return 2;
    }
  }

  const hyperv_bios_service kv = {.struct_size = sizeof(kv),
                                  .id = KV_SERVICE,
                                  .name = "kv",
                                  .function_count = KV_FUNCTION_COUNT,
                                  .handler = serve,
                                  .context = &store};
  hyperv_bios_vm_config config;
  hyperv_bios_init_vm_config(&config);
  config.memory_bytes = 32u << 20;
  config.console_output = print_console;
  config.services = &kv;
  config.service_count = 1;

  hyperv_bios_vm *vm = NULL;
  if (hyperv_bios_create_vm(&config, &vm) != HYPERV_BIOS_OK) {
    return fail("create VM");
  }
  int rc = 1;
  hyperv_bios_vm_exit exit_info = {.struct_size = sizeof(exit_info)};
  const char *failed = run(vm, argv[1], &exit_info);
  if (failed != NULL) {
    fail(failed);
  } else if (exit_info.reason == HYPERV_BIOS_EXIT_SHUTDOWN) {
    rc = exit_info.exit_code;
  } else {
    printf("vendor_service: guest stopped (reason %d): %s\n", exit_info.reason,
           exit_info.message);
  }
  hyperv_bios_destroy_vm(vm);
  /* Only now, with every vCPU thread gone, is the store ours alone. */
  printf("vendor_service: the store holds %zu key(s)\n", store.count);
  for (size_t i = 0; i < store.count; ++i) {
    const struct entry *e = &store.entries[i];
    printf("  ");
    print_untrusted(e->key, e->key_length);
    printf("=");
    print_untrusted(e->value, e->value_length);
    printf("\n");
  }
  return rc;
}
