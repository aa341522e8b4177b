/* SPDX-License-Identifier: MIT */
/* test_vmm_uart.c: the 16550A (servers/vmm/devices/uart.c) against the TI/NS 16550A datasheet and Linux 8250 probing. */
#include "vmm_test.h"

#include "uart.h"

static struct vuart U;
static uint8_t out[64];
static unsigned nout;

static void output(void *ctx, uint8_t b)
{
    (void)ctx;
    if (nout < sizeof(out))
        out[nout] = b;
    nout++;
}

static int setup(void **state)
{
    (void)state;
    test_reset_common();
    nout = 0;
    vuart_init(&U, &test_clock, test_irq_line(4), output, 0);
    return 0;
}

static uint8_t rd(unsigned r) { return vuart_read(&U, r); }
static void wr(unsigned r, uint8_t v) { vuart_write(&U, r, v); }

static void test_reset_state(void **state)
{
    (void)state;
    assert_int_equal(rd(1), 0x00);                  /* IER */
    assert_int_equal(rd(2), 0x01);                  /* IIR: no interrupt, no FIFO */
    assert_int_equal(rd(5), 0x60);                  /* LSR: THRE + TEMT */
    assert_int_equal(rd(4), 0x00);
}

static void test_transmit_to_console(void **state)
{
    (void)state;
    wr(0, 'h');
    wr(0, 'v');
    assert_int_equal(nout, 2);
    assert_memory_equal(out, "hv", 2);
    assert_int_equal(rd(5) & 0x60, 0x60);           /* sent at once: THR and TSR empty */
}

static void test_dlab_divisor(void **state)
{
    (void)state;
    wr(3, 0x80);
    wr(0, 0x01);
    wr(1, 0x00);                                    /* 115200 baud */
    assert_int_equal(rd(0), 0x01);
    assert_int_equal(rd(1), 0x00);
    wr(3, 0x03);
    assert_int_equal(nout, 0);                      /* divisor writes are not data */
    assert_int_equal(rd(1), 0x00);                  /* IER untouched */
    assert_int_equal(rd(3), 0x03);
}

static void test_scratch(void **state)
{
    (void)state;
    wr(7, 0xa5);
    assert_int_equal(rd(7), 0xa5);
    wr(7, 0x5a);
    assert_int_equal(rd(7), 0x5a);
}

static void test_ier_only_low_four_bits(void **state)
{
    (void)state;
    wr(1, 0xff);                                    /* Linux's XScale/UUE probe writes bit 6 */
    assert_int_equal(rd(1), 0x0f);
}

static void test_loopback_probe(void **state)
{
    (void)state;
    /* Linux autoconfig: MCR = LOOP | OUT2 | RTS, MSR high nibble must be DCD | CTS. */
    wr(4, 0x1a);
    assert_int_equal(rd(6) & 0xf0, 0x90);
    wr(4, 0x1f);                                    /* all outputs: CTS DSR RI DCD */
    assert_int_equal(rd(6) & 0xf0, 0xf0);
    wr(0, 0x42);                                    /* loopback: back into the receiver */
    assert_int_equal(nout, 0);
    assert_true(rd(5) & 0x01);
    assert_int_equal(rd(0), 0x42);
    assert_false(rd(5) & 0x01);
    wr(4, 0x00);
}

static void test_msr_delta_bits(void **state)
{
    (void)state;
    wr(4, 0x10);                                    /* loopback, everything low */
    (void)rd(6);
    wr(4, 0x12);                                    /* RTS -> CTS rises */
    uint8_t m = rd(6);
    assert_int_equal(m & 0x11, 0x11);               /* CTS + DCTS */
    assert_int_equal(rd(6) & 0x0f, 0);              /* deltas clear on read */
}

static void test_fifo_identification(void **state)
{
    (void)state;
    wr(2, 0x01);                                    /* FCR: enable FIFO */
    assert_int_equal(rd(2) & 0xc0, 0xc0);           /* 16550A: both FIFO bits */
    assert_int_equal(rd(2) & 0x20, 0x00);           /* no 64-byte FIFO (not a 16750) */
    wr(3, 0xbf);                                    /* Linux's EFR probe reads IIR here */
    assert_int_not_equal(rd(2), 0);
    wr(3, 0x03);
    wr(2, 0x00);
    assert_int_equal(rd(2) & 0xc0, 0x00);
}

static void test_thre_interrupt_on_enable_and_iir_read_clears(void **state)
{
    (void)state;
    wr(4, 0x08);                                    /* OUT2: IRQ line connected */
    wr(1, 0x02);                                    /* ETBEI with THR empty */
    assert_true(test_irq.level[4]);
    assert_int_equal(rd(2), 0x02);                  /* THRE */
    assert_false(test_irq.level[4]);                /* reading IIR cleared it */
    assert_int_equal(rd(2), 0x01);
    wr(0, 'x');                                     /* each byte sent re-arms THRE */
    assert_true(test_irq.level[4]);
    /* Linux's UART_BUG_THRE check: IER 0, then THRI again -> THRE pending again. */
    (void)rd(2);
    wr(1, 0x00);
    wr(1, 0x02);
    assert_int_equal(rd(2) & 0x0f, 0x02);
}

static void test_out2_gates_irq(void **state)
{
    (void)state;
    wr(1, 0x02);
    assert_false(test_irq.level[4]);
    assert_int_equal(rd(2) & 0x0f, 0x02);           /* pending in IIR regardless */
}

static void test_receive_data_and_priorities(void **state)
{
    (void)state;
    wr(4, 0x08);
    wr(1, 0x03);                                    /* RX data + THRE */
    assert_int_equal(vuart_input(&U, (const uint8_t *)"ab", 2), 2);
    assert_int_equal(rd(2) & 0x0f, 0x04);           /* RX data beats THRE */
    assert_int_equal(rd(0), 'a');                   /* non-FIFO: one byte holding */
    assert_int_equal(rd(0), 'b');                   /* the next came from the queue */
    assert_int_equal(rd(2) & 0x0f, 0x02);           /* then THRE */
    assert_int_equal(rd(2) & 0x0f, 0x01);
    assert_false(test_irq.level[4]);
}

static void test_fifo_trigger_and_timeout(void **state)
{
    (void)state;
    wr(4, 0x08);
    wr(3, 0x80); wr(0, 1); wr(1, 0); wr(3, 0x03);   /* 115200 8N1 */
    wr(2, 0x81);                                    /* FIFO, trigger level 8 */
    wr(1, 0x01);
    vuart_input(&U, (const uint8_t *)"1234567", 7);
    assert_int_equal(rd(2) & 0x0f, 0x01);           /* below the trigger: nothing yet */
    uint64_t d = vuart_next_deadline(&U);
    /* 4 characters x 10 bits at 115200 baud = 347 us. */
    assert_true(d >= 347000 && d <= 348000);
    test_now = d;
    vuart_tick(&U);
    assert_int_equal(rd(2), 0xcc);                  /* FIFO bits + character timeout */
    assert_true(test_irq.level[4]);
    (void)rd(0);                                    /* reading RBR clears the timeout */
    assert_int_equal(rd(2) & 0x0f, 0x01);
    vuart_input(&U, (const uint8_t *)"89", 2);
    assert_int_equal(rd(2) & 0x0f, 0x04);           /* 8 bytes: trigger reached */
    for (int i = 0; i < 8; i++)
        (void)rd(0);
    assert_false(rd(5) & 0x01);
    wr(2, 0x83);                                    /* clear RX FIFO */
    assert_false(rd(5) & 0x01);
}

static void test_fifo_holds_sixteen(void **state)
{
    (void)state;
    wr(2, 0x01);
    uint8_t buf[20];
    for (int i = 0; i < 20; i++)
        buf[i] = (uint8_t)i;
    assert_int_equal(vuart_input(&U, buf, 20), 20);  /* queue takes all */
    for (int i = 0; i < 20; i++)
        assert_int_equal(rd(0), i);                  /* none lost */
    assert_int_equal(rd(5) & 0x02, 0);               /* no overrun */
}

static void test_loopback_overrun_and_line_status_irq(void **state)
{
    (void)state;
    wr(4, 0x18);                                    /* loopback */
    wr(1, 0x04);                                    /* ELSI */
    wr(0, 1);
    wr(0, 2);                                       /* non-FIFO: overruns */
    assert_int_equal(rd(2) & 0x0f, 0x06);           /* receiver line status */
    assert_int_equal(rd(5) & 0x03, 0x03);           /* OE + DR */
    assert_int_equal(rd(5) & 0x02, 0x00);           /* OE cleared by the LSR read */
    assert_int_equal(rd(2) & 0x0f, 0x01);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_reset_state, setup),
        cmocka_unit_test_setup(test_transmit_to_console, setup),
        cmocka_unit_test_setup(test_dlab_divisor, setup),
        cmocka_unit_test_setup(test_scratch, setup),
        cmocka_unit_test_setup(test_ier_only_low_four_bits, setup),
        cmocka_unit_test_setup(test_loopback_probe, setup),
        cmocka_unit_test_setup(test_msr_delta_bits, setup),
        cmocka_unit_test_setup(test_fifo_identification, setup),
        cmocka_unit_test_setup(test_thre_interrupt_on_enable_and_iir_read_clears, setup),
        cmocka_unit_test_setup(test_out2_gates_irq, setup),
        cmocka_unit_test_setup(test_receive_data_and_priorities, setup),
        cmocka_unit_test_setup(test_fifo_trigger_and_timeout, setup),
        cmocka_unit_test_setup(test_fifo_holds_sixteen, setup),
        cmocka_unit_test_setup(test_loopback_overrun_and_line_status_irq, setup),
    };
    return cmocka_run_group_tests(tests, 0, 0);
}
