/* The mailbox device of examples/vmm/mmio_device.c and its guest driver
 * (examples/guests/mailbox): the contract between them. Freestanding C.
 *
 * An MMIO window of 4 KiB (HVB_DEV_VENDOR, device id MAILBOX_DEVICE_ID)
 * with 64-bit registers, and a page of shared memory (HVB_MEM_SHARED in
 * the memory map) holding the messages:
 *   +0x00 MAGIC    read: MAILBOX_MAGIC
 *   +0x08 DOORBELL write anything: a message waits in the shared page
 *                  (an ioeventfd: the guest's write never leaves the
 *                  kernel; the VMM's I/O thread takes it)
 *   +0x10 VECTOR   write: the vector the reply interrupt should use
 *   +0x18 REPLIES  read: replies sent so far
 * The shared page: a NUL-terminated request at +0, the reply at +2048.
 * After its reply the device adds 2 MiB of RAM to the guest. */
#ifndef HVBIOS_EXAMPLES_MAILBOX_H_
#define HVBIOS_EXAMPLES_MAILBOX_H_

#define MAILBOX_DEVICE_ID 1u
#define MAILBOX_MAGIC 0x786f626c69616dull /* "mailbox" */
#define MAILBOX_REG_MAGIC 0x00u
#define MAILBOX_REG_DOORBELL 0x08u
#define MAILBOX_REG_VECTOR 0x10u
#define MAILBOX_REG_REPLIES 0x18u
#define MAILBOX_REPLY_OFFSET 2048u
#define MAILBOX_MAX_MESSAGE 2047u

#endif /* HVBIOS_EXAMPLES_MAILBOX_H_ */
