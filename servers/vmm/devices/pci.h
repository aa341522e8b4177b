/* SPDX-License-Identifier: MIT */
/* pci: PCI configuration mechanism #1 (0xcf8/0xcfc) with an i440FX host bridge at 00:00.0 and a device registry. */
#ifndef VMM_PCI_H
#define VMM_PCI_H

#include <stdbool.h>
#include <stdint.h>

#include "vdev.h"

#define VPCI_CONFIG_ADDRESS 0xcf8u
#define VPCI_CONFIG_DATA 0xcfcu
#define VPCI_RESET_CONTROL 0xcf9u   /* PIIX reset control register (byte access) */
#define VPCI_RCR_SYS_RST 0x02u
#define VPCI_RCR_RST_CPU 0x04u
#define VPCI_ADDR_ENABLE 0x80000000u

/* The host bridge: Intel 82441FX (i440FX) PMC, as QEMU's default PC (see docs/architecture.md). */
#define VPCI_HOST_VENDOR 0x8086u
#define VPCI_HOST_DEVICE 0x1237u
#define VPCI_HOST_REVISION 0x02u
#define VPCI_CLASS_HOST_BRIDGE 0x060000u

/* Configuration header (type 0) offsets. */
#define VPCI_VENDOR_ID 0x00u
#define VPCI_DEVICE_ID 0x02u
#define VPCI_COMMAND 0x04u
#define VPCI_STATUS 0x06u
#define VPCI_REVISION 0x08u
#define VPCI_CLASS_PROG 0x09u
#define VPCI_HEADER_TYPE 0x0eu
#define VPCI_BAR0 0x10u
#define VPCI_SUBSYS_VENDOR 0x2cu
#define VPCI_SUBSYS_ID 0x2eu
#define VPCI_CAP_PTR 0x34u
#define VPCI_INTERRUPT_LINE 0x3cu
#define VPCI_INTERRUPT_PIN 0x3du

#define VPCI_CMD_IO 0x0001u
#define VPCI_CMD_MEM 0x0002u
#define VPCI_CMD_MASTER 0x0004u
#define VPCI_CMD_INTX_DISABLE 0x0400u
#define VPCI_STATUS_CAP_LIST 0x0010u

#define VPCI_BAR_IO 0x1u
#define VPCI_BAR_MEM64 0x4u
#define VPCI_BAR_PREFETCH 0x8u

#define VPCI_SLOTS 32u
#define VPCI_BARS 6u

/*
 * A device function's configuration space. Registration gives the bus a pointer: the
 * device (a later virtio model) owns the storage. wmask says which bits the guest may
 * write; BAR sizing works by the mask: writing all-ones reads back ~(size - 1) | flags.
 */
struct vpci_dev {
    uint8_t cfg[256];
    uint8_t wmask[256];
    uint8_t w1cmask[256];           /* write-1-to-clear bits (status) */
    uint64_t bar_size[VPCI_BARS];   /* 0: unused (or the upper half of a 64-bit BAR) */
    /* Called after a guest write (BAR moved, command changed...); may be 0. */
    void (*config_written)(struct vpci_dev *dev, unsigned offset, unsigned size);
    void *owner;
};

struct vpci {
    uint32_t address;               /* CONFIG_ADDRESS as last written */
    uint8_t reset_control;
    struct vpci_dev *slot[VPCI_SLOTS];   /* bus 0, function 0 of each device */
    struct vpci_dev host;
    struct vdev_events events;
};

enum vpci_error { VPCI_OK = 0, VPCI_ERR_SLOT, VPCI_ERR_BUSY, VPCI_ERR_BAR };

void vpci_init(struct vpci *pci, struct vdev_events events);
/* A type-0 header with IDs, class (base << 16 | sub << 8 | prog-if) and interrupt pin (0 none, 1 INTA#). */
void vpci_dev_init(struct vpci_dev *dev, uint16_t vendor, uint16_t device, uint8_t revision,
                   uint32_t class_code, uint8_t int_pin);
/* BAR `idx`: size a power of two (>= 16 for memory, >= 4 for I/O); 64-bit BARs take idx and idx + 1. */
enum vpci_error vpci_dev_set_bar(struct vpci_dev *dev, unsigned idx, uint64_t size, uint32_t flags);
/* Where the guest put BAR `idx` (0 if unassigned); whether decoding is enabled in the command register. */
uint64_t vpci_dev_bar_address(const struct vpci_dev *dev, unsigned idx);
bool vpci_dev_decodes(const struct vpci_dev *dev, unsigned idx);
enum vpci_error vpci_register(struct vpci *pci, unsigned slot, struct vpci_dev *dev);

/* Configuration access by bus/device/function/offset (absent functions read all-ones). */
uint32_t vpci_config_read(struct vpci *pci, unsigned bus, unsigned devfn, unsigned off, unsigned size);
void vpci_config_write(struct vpci *pci, unsigned bus, unsigned devfn, unsigned off, unsigned size, uint32_t val);

uint64_t vpci_bus_read(void *dev, unsigned cpu, uint64_t port, unsigned size);
void vpci_bus_write(void *dev, unsigned cpu, uint64_t port, unsigned size, uint64_t val);

#endif
