/* SPDX-License-Identifier: MIT */
/* trap: the interrupt/exception frame, the IDT, and routing of each vector to its handler. */
#ifndef HV_ARCH_TRAP_H
#define HV_ARCH_TRAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Vectors the core owns above the 32 architectural exceptions. */
#define VECTOR_LEGACY_PIC_BASE 0x20     /* 8259 remapped here and masked */
#define VECTOR_RESCHEDULE 0xed     /* another CPU made a thread runnable here */
#define VECTOR_LAPIC_TIMER 0xef
#define VECTOR_SPURIOUS 0xff

enum exception_vector {
    EXC_DE = 0, EXC_DB = 1, EXC_NMI = 2, EXC_BP = 3, EXC_OF = 4, EXC_BR = 5,
    EXC_UD = 6, EXC_NM = 7, EXC_DF = 8, EXC_TS = 10, EXC_NP = 11, EXC_SS = 12,
    EXC_GP = 13, EXC_PF = 14, EXC_MF = 16, EXC_AC = 17, EXC_MC = 18, EXC_XM = 19,
    EXC_VE = 20, EXC_CP = 21, EXC_HV = 28, EXC_VC = 29, EXC_SX = 30,
};

/* #PF error code bits (SDM 4.7). */
#define PF_ERR_PRESENT (1u << 0)
#define PF_ERR_WRITE (1u << 1)
#define PF_ERR_USER (1u << 2)
#define PF_ERR_RSVD (1u << 3)
#define PF_ERR_FETCH (1u << 4)

/* Saved by trap_entry.S; the layout below must match its push order. */
struct trap_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector;
    uint64_t error_code;    /* 0 for vectors that push none */
    /* pushed by the CPU */
    uint64_t rip, cs, rflags, rsp, ss;
};
_Static_assert(offsetof(struct trap_frame, vector) == (size_t)15 * 8, "trap_entry.S push order");
_Static_assert(sizeof(struct trap_frame) == (size_t)22 * 8, "trap_entry.S frame size");

/* What the last recovered fault looked like (see extable.h). */
struct fault_record {
    uint64_t vector;
    uint64_t error_code;
    uint64_t rip;
    uint64_t cr2;
    uint64_t count;         /* recovered faults so far */
};

typedef void (*irq_handler_fn)(struct trap_frame *frame);

void idt_init(void);        /* builds the shared IDT (once) */
void idt_load(void);        /* loads it on this CPU */
void trap_set_irq_handler(uint8_t vector, irq_handler_fn fn);
const char *exception_name(uint64_t vector);
const struct fault_record *trap_last_fault(void);

/* Called from trap_entry.S with interrupts disabled. */
void trap_dispatch(struct trap_frame *frame);
/* Runs the handler of an interrupt vector (>= 32), from kernel or user mode. */
void trap_handle_interrupt(struct trap_frame *frame);
/* Called on every timer interrupt once scheduling has started. */
extern void (*trap_timer_hook)(void);

/*
 * Host NMIs CPU `cpu` took so far: from the local APIC (lapic_send_nmi()), from
 * the platform, or arriving while the CPU ran a guest (the backends end the guest
 * and hand the NMI to this handler: SVM at STGI, VMX through int $2).
 */
uint64_t trap_nmi_count(unsigned cpu);
/* From now on every host NMI parks the CPU that takes it (smp_stop_others()). */
void trap_nmi_request_stop(void);
/* True once CPU `cpu` parked in its NMI handler. */
bool trap_nmi_parked(unsigned cpu);

/* Prints the frame and control registers the way every fatal report does. */
void trap_dump(const struct trap_frame *frame);

#endif
