/* SPDX-License-Identifier: MIT */
/* pci: PCI configuration mechanism #1 (0xcf8/0xcfc) with an i440FX host bridge at 00:00.0 and a device registry. */
#include "pci.h"

#include <string.h>

static void put16(uint8_t *p, unsigned off, uint16_t v)
{
    p[off] = (uint8_t)v;
    p[off + 1u] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, unsigned off, uint32_t v)
{
    for (unsigned i = 0; i < 4; i++)
        p[off + i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p, unsigned off)
{
    return (uint32_t)p[off] | (uint32_t)p[off + 1u] << 8 | (uint32_t)p[off + 2u] << 16 |
           (uint32_t)p[off + 3u] << 24;
}

void vpci_dev_init(struct vpci_dev *dev, uint16_t vendor, uint16_t device, uint8_t revision,
                   uint32_t class_code, uint8_t int_pin)
{
    memset(dev, 0, sizeof(*dev));
    put16(dev->cfg, VPCI_VENDOR_ID, vendor);
    put16(dev->cfg, VPCI_DEVICE_ID, device);
    dev->cfg[VPCI_REVISION] = revision;
    dev->cfg[VPCI_CLASS_PROG] = (uint8_t)class_code;
    dev->cfg[VPCI_CLASS_PROG + 1u] = (uint8_t)(class_code >> 8);
    dev->cfg[VPCI_CLASS_PROG + 2u] = (uint8_t)(class_code >> 16);
    dev->cfg[VPCI_INTERRUPT_PIN] = int_pin;
    /* Command: I/O, memory, bus master, SERR#, INTx disable are the guest's. */
    put16(dev->wmask, VPCI_COMMAND, VPCI_CMD_IO | VPCI_CMD_MEM | VPCI_CMD_MASTER | 0x0100u |
                                     VPCI_CMD_INTX_DISABLE);
    put16(dev->w1cmask, VPCI_STATUS, 0xf900u);     /* error bits are write-1-to-clear */
    dev->wmask[VPCI_INTERRUPT_LINE] = 0xff;         /* scratch for the OS */
    dev->wmask[0x0c] = 0xff;                        /* cache line size */
    dev->wmask[0x0d] = 0xff;                        /* latency timer */
}

enum vpci_error vpci_dev_set_bar(struct vpci_dev *dev, unsigned idx, uint64_t size, uint32_t flags)
{
    bool io = (flags & VPCI_BAR_IO) != 0;
    bool wide = !io && (flags & VPCI_BAR_MEM64);
    if (idx >= VPCI_BARS || (wide && idx + 1u >= VPCI_BARS) || size == 0 || (size & (size - 1u)) ||
        size < (io ? 4u : 16u) || (!wide && size > 0x80000000ull) || (io && size > 0x10000u))
        return VPCI_ERR_BAR;
    unsigned off = VPCI_BAR0 + 4u * idx;
    uint32_t low_flags = io ? VPCI_BAR_IO : (flags & (VPCI_BAR_MEM64 | VPCI_BAR_PREFETCH));
    dev->bar_size[idx] = size;
    put32(dev->cfg, off, low_flags);
    put32(dev->wmask, off, (uint32_t)~(size - 1u) & (io ? ~3u : ~0xfu));
    if (wide) {
        put32(dev->cfg, off + 4u, 0);
        put32(dev->wmask, off + 4u, (uint32_t)(~(size - 1u) >> 32));
        dev->bar_size[idx + 1u] = 0;
    }
    return VPCI_OK;
}

uint64_t vpci_dev_bar_address(const struct vpci_dev *dev, unsigned idx)
{
    if (idx >= VPCI_BARS || dev->bar_size[idx] == 0)
        return 0;
    uint32_t lo = get32(dev->cfg, VPCI_BAR0 + 4u * idx);
    if (lo & VPCI_BAR_IO)
        return lo & ~3u;
    uint64_t a = lo & ~0xfu;
    if ((lo & VPCI_BAR_MEM64) && idx + 1u < VPCI_BARS)
        a |= (uint64_t)get32(dev->cfg, VPCI_BAR0 + 4u * (idx + 1u)) << 32;
    return a;
}

bool vpci_dev_decodes(const struct vpci_dev *dev, unsigned idx)
{
    if (idx >= VPCI_BARS || dev->bar_size[idx] == 0)
        return false;
    uint16_t cmd = (uint16_t)(dev->cfg[VPCI_COMMAND] | dev->cfg[VPCI_COMMAND + 1u] << 8);
    bool io = (dev->cfg[VPCI_BAR0 + 4u * idx] & VPCI_BAR_IO) != 0;
    return (cmd & (io ? VPCI_CMD_IO : VPCI_CMD_MEM)) != 0;
}

void vpci_init(struct vpci *pci, struct vdev_events events)
{
    memset(pci, 0, sizeof(*pci));
    pci->events = events;
    /* 82441FX: memory and bus-master decoding always on, no BARs, no interrupt. */
    vpci_dev_init(&pci->host, VPCI_HOST_VENDOR, VPCI_HOST_DEVICE, VPCI_HOST_REVISION,
                  VPCI_CLASS_HOST_BRIDGE, 0);
    put16(pci->host.cfg, VPCI_COMMAND, VPCI_CMD_MEM | VPCI_CMD_MASTER);
    put16(pci->host.wmask, VPCI_COMMAND, 0);
    pci->host.wmask[VPCI_INTERRUPT_LINE] = 0;
    pci->slot[0] = &pci->host;
}

enum vpci_error vpci_register(struct vpci *pci, unsigned slot, struct vpci_dev *dev)
{
    if (slot >= VPCI_SLOTS)
        return VPCI_ERR_SLOT;
    if (pci->slot[slot] != 0)
        return VPCI_ERR_BUSY;
    pci->slot[slot] = dev;
    return VPCI_OK;
}

static struct vpci_dev *lookup(struct vpci *pci, unsigned bus, unsigned devfn)
{
    if (bus != 0 || (devfn & 7u) != 0 || (devfn >> 3) >= VPCI_SLOTS)
        return 0;                   /* one bus, single-function devices */
    return pci->slot[devfn >> 3];
}

uint32_t vpci_config_read(struct vpci *pci, unsigned bus, unsigned devfn, unsigned off, unsigned size)
{
    const struct vpci_dev *d = lookup(pci, bus, devfn);
    if (d == 0 || off + size > 256u)
        return (uint32_t)vdev_size_mask(size);     /* master abort: all-ones */
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint32_t)d->cfg[off + i] << (8 * i);
    return v;
}

void vpci_config_write(struct vpci *pci, unsigned bus, unsigned devfn, unsigned off, unsigned size, uint32_t val)
{
    struct vpci_dev *d = lookup(pci, bus, devfn);
    if (d == 0 || off + size > 256u)
        return;
    for (unsigned i = 0; i < size; i++) {
        uint8_t b = (uint8_t)(val >> (8 * i));
        unsigned o = off + i;
        d->cfg[o] = (uint8_t)((d->cfg[o] & ~d->wmask[o]) | (b & d->wmask[o]));
        d->cfg[o] &= (uint8_t)~(b & d->w1cmask[o]);
    }
    if (d->config_written != 0)
        d->config_written(d, off, size);
}

/* CONFIG_ADDRESS: enable 31, bus 23:16, device 15:11, function 10:8, register 7:2. */
static bool decode(const struct vpci *pci, unsigned *bus, unsigned *devfn, unsigned *reg)
{
    uint32_t a = pci->address;
    *bus = (a >> 16) & 0xffu;
    *devfn = (a >> 8) & 0xffu;
    *reg = a & 0xfcu;
    return (a & VPCI_ADDR_ENABLE) != 0;
}

uint64_t vpci_bus_read(void *dev, unsigned cpu, uint64_t port, unsigned size)
{
    (void)cpu;
    struct vpci *pci = dev;
    if (port == VPCI_CONFIG_ADDRESS && size == 4)
        return pci->address;
    if (port == VPCI_RESET_CONTROL && size == 1)
        return pci->reset_control;
    if (port >= VPCI_CONFIG_DATA && port + size <= VPCI_CONFIG_DATA + 4u) {
        unsigned bus, devfn, reg;
        if (!decode(pci, &bus, &devfn, &reg))
            return vdev_size_mask(size);
        return vpci_config_read(pci, bus, devfn, reg + (unsigned)(port - VPCI_CONFIG_DATA), size);
    }
    return vdev_size_mask(size);
}

void vpci_bus_write(void *dev, unsigned cpu, uint64_t port, unsigned size, uint64_t val)
{
    (void)cpu;
    struct vpci *pci = dev;
    if (port == VPCI_CONFIG_ADDRESS && size == 4) {
        pci->address = (uint32_t)val & 0x80fffffcu;  /* reserved 30:24 and 1:0 read 0 */
        return;
    }
    if (port == VPCI_RESET_CONTROL && size == 1) {
        /* Bit 2 going 0 -> 1 starts the reset the other bits select (Linux writes 0x02, then 0x06). */
        if ((val & VPCI_RCR_RST_CPU) && !(pci->reset_control & VPCI_RCR_RST_CPU))
            vdev_event_raise(&pci->events, VDEV_EVENT_RESET_RCR);
        pci->reset_control = (uint8_t)(val & 0x0eu);
        return;
    }
    if (port >= VPCI_CONFIG_DATA && port + size <= VPCI_CONFIG_DATA + 4u) {
        unsigned bus, devfn, reg;
        if (decode(pci, &bus, &devfn, &reg))
            vpci_config_write(pci, bus, devfn, reg + (unsigned)(port - VPCI_CONFIG_DATA), size, (uint32_t)val);
    }
    /* Other byte/word accesses to 0xcf8-0xcfb are not configuration cycles: ignored. */
}
