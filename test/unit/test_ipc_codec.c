/* SPDX-License-Identifier: MIT */
/* test_ipc_codec.c: libipc's message codec (ipc_codec.c): round trips, bounds, and malformed input that must never crash. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <inttypes.h>
#include <string.h>
#include <cmocka.h>

#include <pb_encode.h>

#include "hv/ipc_codec.h"
#include "ipc_test.pb.h"
#include "../common/xorshift.h"

typedef hv_ipc_test_Probe Probe;
typedef hv_ipc_test_ProbeWide ProbeWide;
typedef hv_ipc_test_Other Other;

HV_IPC_ASSERT_FITS(hv_ipc_test_Other);
_Static_assert(HV_IPC_MAX_WORDS == 64 && HV_IPC_MAX_BYTES == 504, "one message is 64 words");

#define POISON_BYTE 0xa5
#define POISON_WORD 0xa5a5a5a5a5a5a5a5ull

/* ---- helpers ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

/* xorshift64*: deterministic, so a failure reproduces. */
static uint64_t rng(void)
{
    return xorshift64s(&rng_state);
}

static unsigned rng_below(unsigned n)
{
    return xorshift64s_below(&rng_state, n);
}

static void poison(uint64_t *words)
{
    memset(words, POISON_BYTE, HV_IPC_MAX_WORDS * sizeof(uint64_t));
}

static Probe sample_probe(void)
{
    Probe p = hv_ipc_test_Probe_init_zero;
    p.id = 0xdeadbeef;
    p.delta = -1234567890123LL;
    p.flag = true;
    p.color = hv_ipc_test_Color_COLOR_GREEN;
    strcpy(p.name, "blk-0");
    p.values_count = 5;
    p.values[0] = 0;
    p.values[1] = 1;
    p.values[2] = 300;
    p.values[3] = 1ull << 40;
    p.values[4] = UINT64_MAX;
    return p;
}

static void assert_probe_equal(const Probe *a, const Probe *b)
{
    assert_int_equal(a->id, b->id);
    assert_int_equal(a->delta, b->delta);
    assert_int_equal(a->flag, b->flag);
    assert_int_equal(a->color, b->color);
    assert_string_equal(a->name, b->name);
    assert_int_equal(a->values_count, b->values_count);
    for (pb_size_t i = 0; i < a->values_count; i++)
        assert_int_equal(a->values[i], b->values[i]);
}

/* The message nanopb's decoder would produce from nothing: every field at its default. */
static void assert_probe_empty(const Probe *p)
{
    assert_int_equal(p->id, 0);
    assert_int_equal(p->delta, 0);
    assert_false(p->flag);
    assert_int_equal(p->color, 0);
    assert_string_equal(p->name, "");
    assert_int_equal(p->values_count, 0);
}

/* A decoded Probe is always within its bounds. */
static void assert_probe_bounded(const Probe *p)
{
    assert_non_null(memchr(p->name, '\0', sizeof(p->name)));
    assert_true(p->values_count <= sizeof(p->values) / sizeof(p->values[0]));
}

static Probe junk_probe(void)
{
    Probe p;
    memset(&p, 0x7b, sizeof(p));
    p.name[sizeof(p.name) - 1] = '\0';
    p.values_count = 3;
    return p;
}

static size_t encoded_len(const uint64_t *words)
{
    return (size_t)(words[0] & HV_IPC_LEN_MASK);
}

/* ---- round trips ---- */

static void test_round_trip(void **state)
{
    (void)state;
    uint64_t words[HV_IPC_MAX_WORDS];
    poison(words);
    Probe in = sample_probe();
    size_t nwords = 0;
    const char *detail = "unset";
    assert_int_equal(HV_IPC_ENCODE(words, &nwords, hv_ipc_test_Probe, &in, &detail), HV_IPC_OK);
    assert_null(detail);

    size_t len = encoded_len(words);
    assert_true(len > 0 && len <= HV_IPC_MAX_BYTES);
    assert_int_equal(nwords, 1 + (len + 7) / 8);
    assert_int_equal(hv_ipc_type_of(words[0]), hv_ipc_test_Probe_msgid);
    /* The bytes are exactly nanopb's encoding. */
    uint8_t direct[HV_IPC_MAX_BYTES];
    pb_ostream_t os = pb_ostream_from_buffer(direct, sizeof(direct));
    assert_true(pb_encode(&os, hv_ipc_test_Probe_fields, &in));
    assert_int_equal(os.bytes_written, len);
    assert_memory_equal(&words[1], direct, len);

    Probe out = junk_probe();
    assert_int_equal(HV_IPC_DECODE(words, nwords, hv_ipc_test_Probe, &out, &detail), HV_IPC_OK);
    assert_null(detail);
    assert_probe_equal(&in, &out);
}

static void test_round_trip_empty_message(void **state)
{
    (void)state;
    uint64_t words[HV_IPC_MAX_WORDS];
    poison(words);
    Probe in = hv_ipc_test_Probe_init_zero;
    size_t nwords = 0;
    assert_int_equal(HV_IPC_ENCODE(words, &nwords, hv_ipc_test_Probe, &in, NULL), HV_IPC_OK);
    assert_int_equal(nwords, 1);
    assert_int_equal(words[0], (uint64_t)hv_ipc_test_Probe_msgid << 32);
    assert_int_equal(words[1], POISON_WORD);     /* nothing past the words sent */

    Probe out = junk_probe();
    assert_int_equal(HV_IPC_DECODE(words, 1, hv_ipc_test_Probe, &out, NULL), HV_IPC_OK);
    assert_probe_empty(&out);
}

/* The padding of the last word is zero (no stale bytes cross to the receiver); words
 * past the message are not written. */
static void test_padding_zeroed_tail_untouched(void **state)
{
    (void)state;
    for (unsigned name_len = 0; name_len < 31; name_len++) {
        uint64_t words[HV_IPC_MAX_WORDS];
        poison(words);
        Probe in = hv_ipc_test_Probe_init_zero;
        memset(in.name, 'n', name_len);
        in.name[name_len] = '\0';
        in.id = 7;
        size_t nwords = 0;
        assert_int_equal(HV_IPC_ENCODE(words, &nwords, hv_ipc_test_Probe, &in, NULL), HV_IPC_OK);
        size_t len = encoded_len(words);
        const uint8_t *bytes = (const uint8_t *)&words[1];
        for (size_t b = len; b < (nwords - 1) * 8; b++)
            assert_int_equal(bytes[b], 0);
        for (size_t w = nwords; w < HV_IPC_MAX_WORDS; w++)
            assert_int_equal(words[w], POISON_WORD);
        Probe out;
        assert_int_equal(HV_IPC_DECODE(words, nwords, hv_ipc_test_Probe, &out, NULL), HV_IPC_OK);
        assert_probe_equal(&in, &out);
    }
}

/* 29 name bytes + 47 ten-byte varints encode to exactly 504 bytes: the largest message. */
static Probe probe_of_size(unsigned name_len, unsigned nvalues)
{
    Probe p = hv_ipc_test_Probe_init_zero;
    memset(p.name, 'x', name_len);
    p.name[name_len] = '\0';
    p.values_count = (pb_size_t)nvalues;
    for (unsigned i = 0; i < nvalues; i++)
        p.values[i] = UINT64_MAX;
    return p;
}

static void test_exactly_full_and_one_byte_over(void **state)
{
    (void)state;
    uint64_t words[HV_IPC_MAX_WORDS];
    poison(words);
    Probe full = probe_of_size(29, 47);
    size_t nwords = 0;
    assert_int_equal(HV_IPC_ENCODE(words, &nwords, hv_ipc_test_Probe, &full, NULL), HV_IPC_OK);
    assert_int_equal(encoded_len(words), HV_IPC_MAX_BYTES);
    assert_int_equal(nwords, HV_IPC_MAX_WORDS);
    Probe out;
    assert_int_equal(HV_IPC_DECODE(words, nwords, hv_ipc_test_Probe, &out, NULL), HV_IPC_OK);
    assert_probe_equal(&full, &out);

    Probe over = probe_of_size(30, 47);
    const char *detail = "unset";
    assert_int_equal(HV_IPC_ENCODE(words, &nwords, hv_ipc_test_Probe, &over, &detail),
                     HV_IPC_E_TOO_LARGE);
    assert_null(detail);
}

static void test_too_large(void **state)
{
    (void)state;
    uint64_t words[HV_IPC_MAX_WORDS];
    /* Growing the message one value at a time: every size up to the limit round-trips,
     * every size past it is refused as too large, and nothing in between. */
    bool seen_too_large = false;
    for (unsigned n = 0; n <= 64; n++) {
        Probe in = probe_of_size(31, n);
        size_t nwords = 0;
        enum hv_ipc_status st = HV_IPC_ENCODE(words, &nwords, hv_ipc_test_Probe, &in, NULL);
        size_t need = 0;
        assert_true(pb_get_encoded_size(&need, hv_ipc_test_Probe_fields, &in));
        if (need <= HV_IPC_MAX_BYTES) {
            assert_false(seen_too_large);
            assert_int_equal(st, HV_IPC_OK);
            Probe out;
            assert_int_equal(HV_IPC_DECODE(words, nwords, hv_ipc_test_Probe, &out, NULL),
                             HV_IPC_OK);
            assert_probe_equal(&in, &out);
        } else {
            seen_too_large = true;
            assert_int_equal(st, HV_IPC_E_TOO_LARGE);
        }
    }
    assert_true(seen_too_large);
}

/* A struct nanopb cannot encode is an encode error (not "too large"), with nanopb's reason. */
static void test_encode_invalid_struct(void **state)
{
    (void)state;
    uint64_t words[HV_IPC_MAX_WORDS];
    Probe in = sample_probe();
    in.values_count = 65;
    const char *detail = NULL;
    assert_int_equal(HV_IPC_ENCODE(words, NULL, hv_ipc_test_Probe, &in, &detail), HV_IPC_E_ENCODE);
    assert_non_null(detail);
    assert_string_equal(detail, "array max size exceeded");

    in = sample_probe();
    memset(in.name, 'u', sizeof(in.name));     /* no terminator within the bound */
    detail = NULL;
    assert_int_equal(HV_IPC_ENCODE(words, NULL, hv_ipc_test_Probe, &in, &detail), HV_IPC_E_ENCODE);
    assert_non_null(detail);
    assert_string_equal(detail, "unterminated string");
}

/* ---- the length word ---- */

static void test_length_word_exceeds_buffer(void **state)
{
    (void)state;
    uint64_t words[HV_IPC_MAX_WORDS];
    poison(words);
    Probe in = sample_probe();
    size_t nwords = 0;
    assert_int_equal(HV_IPC_ENCODE(words, &nwords, hv_ipc_test_Probe, &in, NULL), HV_IPC_OK);
    Probe out = junk_probe();

    /* Fewer words received than the length says. */
    assert_int_equal(HV_IPC_DECODE(words, nwords - 1, hv_ipc_test_Probe, &out, NULL),
                     HV_IPC_E_LENGTH);
    assert_probe_empty(&out);
    /* No words at all, or more than a message can have. */
    assert_int_equal(HV_IPC_DECODE(words, 0, hv_ipc_test_Probe, &out, NULL), HV_IPC_E_LENGTH);
    assert_int_equal(HV_IPC_DECODE(words, HV_IPC_MAX_WORDS + 1, hv_ipc_test_Probe, &out, NULL),
                     HV_IPC_E_LENGTH);

    /* A length beyond the whole buffer, however many words arrived. */
    uint64_t type = words[0] & ~(uint64_t)HV_IPC_LEN_MASK;
    const uint64_t bad_lengths[] = { HV_IPC_MAX_BYTES + 1, 0x10000, HV_IPC_LEN_MASK };
    for (size_t i = 0; i < sizeof(bad_lengths) / sizeof(bad_lengths[0]); i++) {
        words[0] = type | bad_lengths[i];
        const char *detail = "unset";
        out = junk_probe();
        assert_int_equal(HV_IPC_DECODE(words, HV_IPC_MAX_WORDS, hv_ipc_test_Probe, &out, &detail),
                         HV_IPC_E_LENGTH);
        assert_null(detail);
        assert_probe_empty(&out);
    }
    /* The exact bound is fine as far as the length goes (the bytes then decide). */
    words[0] = type | HV_IPC_MAX_BYTES;
    assert_int_not_equal(HV_IPC_DECODE(words, HV_IPC_MAX_WORDS, hv_ipc_test_Probe, &out, NULL),
                         HV_IPC_E_LENGTH);
}

/* ---- the type id ---- */

static void test_wrong_type_id(void **state)
{
    (void)state;
    uint64_t words[HV_IPC_MAX_WORDS];
    Probe in = sample_probe();
    size_t nwords = 0;
    assert_int_equal(HV_IPC_ENCODE(words, &nwords, hv_ipc_test_Probe, &in, NULL), HV_IPC_OK);

    Other other;
    const char *detail = "unset";
    assert_int_equal(HV_IPC_DECODE(words, nwords, hv_ipc_test_Other, &other, &detail), HV_IPC_E_TYPE);
    assert_null(detail);
    assert_int_equal(other.id, 0);

    /* Any single flipped bit of the type id is caught. */
    for (unsigned bit = 32; bit < 64; bit++) {
        uint64_t saved = words[0];
        words[0] ^= 1ull << bit;
        Probe out = junk_probe();
        assert_int_equal(HV_IPC_DECODE(words, nwords, hv_ipc_test_Probe, &out, NULL),
                         HV_IPC_E_TYPE);
        assert_probe_empty(&out);
        words[0] = saved;
    }

    /* The ids are distinct and reach the words. */
    assert_int_not_equal(hv_ipc_test_Probe_msgid, hv_ipc_test_Other_msgid);
    Other o = { .id = 5 };
    assert_int_equal(HV_IPC_ENCODE(words, &nwords, hv_ipc_test_Other, &o, NULL), HV_IPC_OK);
    assert_int_equal(hv_ipc_type_of(words[0]), hv_ipc_test_Other_msgid);
    assert_int_equal(HV_IPC_DECODE(words, nwords, hv_ipc_test_Other, &other, NULL), HV_IPC_OK);
    assert_int_equal(other.id, 5);
}

/* ---- bytes nanopb rejects ---- */

/* Puts raw protobuf bytes in a message of Probe's type. */
static size_t raw_message(uint64_t *words, const uint8_t *bytes, size_t len)
{
    assert_true(len <= HV_IPC_MAX_BYTES);
    memset(words, 0, HV_IPC_MAX_WORDS * sizeof(uint64_t));
    memcpy(&words[1], bytes, len);
    words[0] = ((uint64_t)hv_ipc_test_Probe_msgid << 32) | len;
    return 1 + (len + 7) / 8;
}

static void test_decode_failure_detail(void **state)
{
    (void)state;
    uint64_t words[HV_IPC_MAX_WORDS];
    static const struct {
        uint8_t bytes[12];
        size_t len;
        const char *reason;
    } cases[] = {
        { { 0x08 }, 1, "end-of-stream" },                    /* varint cut off */
        { { 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 }, 12,
          "varint overflow" },
        { { 0x2a, 0x05, 'a' }, 3, "end-of-stream" },         /* string longer than the rest */
        { { 0x0d, 1, 2, 3, 4 }, 5, "wrong wire type" },      /* fixed32 for a varint field */
        { { 0x7f }, 1, "invalid wire_type" },                /* unknown field, wire type 7 */
        { { 0x00 }, 1, "zero tag" },
        { { 0x22, 0x01, 0x05 }, 3, "wrong wire type" },      /* bytes for an enum */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t nwords = raw_message(words, cases[i].bytes, cases[i].len);
        Probe out = junk_probe();
        const char *detail = NULL;
        assert_int_equal(HV_IPC_DECODE(words, nwords, hv_ipc_test_Probe, &out, &detail),
                         HV_IPC_E_DECODE);
        assert_non_null(detail);
        if (strcmp(detail, cases[i].reason) != 0)
            fail_msg("case %zu: nanopb said \"%s\", expected \"%s\"", i, detail, cases[i].reason);
        assert_probe_empty(&out);
    }
}

/* A string longer than Probe's bound (31 bytes) is an error, never an overflow. */
static void test_string_longer_than_bound(void **state)
{
    (void)state;
    uint64_t words[HV_IPC_MAX_WORDS];
    for (unsigned len = 28; len <= 120; len++) {
        ProbeWide wide = hv_ipc_test_ProbeWide_init_zero;
        memset(wide.name, 's', len);
        wide.name[len] = '\0';
        size_t nwords = 0;
        /* Encoded as ProbeWide, sent under Probe's type id: same wire format, wider bounds. */
        assert_int_equal(hv_ipc_encode(words, &nwords, hv_ipc_test_Probe_msgid,
                                       hv_ipc_test_ProbeWide_fields, &wide, NULL),
                         HV_IPC_OK);
        Probe out = junk_probe();
        const char *detail = NULL;
        enum hv_ipc_status st = HV_IPC_DECODE(words, nwords, hv_ipc_test_Probe, &out, &detail);
        if (len <= 31) {
            assert_int_equal(st, HV_IPC_OK);
            assert_int_equal(strlen(out.name), len);
        } else {
            assert_int_equal(st, HV_IPC_E_DECODE);
            assert_string_equal(detail, "string overflow");
            assert_probe_empty(&out);
        }
    }
}

/* More repeated values than Probe's bound (64), packed (nanopb's encoding) or not. */
static void test_repeated_beyond_bound(void **state)
{
    (void)state;
    uint64_t words[HV_IPC_MAX_WORDS];
    for (unsigned n = 60; n <= 128; n++) {
        ProbeWide wide = hv_ipc_test_ProbeWide_init_zero;
        wide.values_count = (pb_size_t)n;
        for (unsigned i = 0; i < n; i++)
            wide.values[i] = i;
        size_t nwords = 0;
        assert_int_equal(hv_ipc_encode(words, &nwords, hv_ipc_test_Probe_msgid,
                                       hv_ipc_test_ProbeWide_fields, &wide, NULL),
                         HV_IPC_OK);
        Probe out = junk_probe();
        const char *detail = NULL;
        enum hv_ipc_status st = HV_IPC_DECODE(words, nwords, hv_ipc_test_Probe, &out, &detail);
        if (n <= 64) {
            assert_int_equal(st, HV_IPC_OK);
            assert_int_equal(out.values_count, n);
        } else {
            assert_int_equal(st, HV_IPC_E_DECODE);
            assert_string_equal(detail, "array overflow");
            assert_probe_empty(&out);
        }
    }

    /* Unpacked (one tag per value), which a decoder must also accept: 65 values. nanopb
     * leaves values_count at 65 when it stops here; the codec hands back an empty message. */
    uint8_t bytes[2 * 65];
    for (size_t i = 0; i < 65; i++) {
        bytes[2 * i] = 0x30;            /* field 6, varint */
        bytes[2 * i + 1] = (uint8_t)i;
    }
    size_t nwords = raw_message(words, bytes, sizeof(bytes) - 2);
    Probe out = junk_probe();
    assert_int_equal(HV_IPC_DECODE(words, nwords, hv_ipc_test_Probe, &out, NULL), HV_IPC_OK);
    assert_int_equal(out.values_count, 64);
    nwords = raw_message(words, bytes, sizeof(bytes));
    const char *detail = NULL;
    assert_int_equal(HV_IPC_DECODE(words, nwords, hv_ipc_test_Probe, &out, &detail), HV_IPC_E_DECODE);
    assert_string_equal(detail, "array overflow");
    assert_probe_empty(&out);
}

/* ---- robustness: truncation and random corruption ---- */

/* Checks what a decode of arbitrary input may produce; returns the status. */
static enum hv_ipc_status decode_checked(const uint64_t *words, size_t nwords)
{
    Probe out = junk_probe();
    const char *detail = NULL;
    enum hv_ipc_status st = HV_IPC_DECODE(words, nwords, hv_ipc_test_Probe, &out, &detail);
    switch (st) {
    case HV_IPC_OK: {
        assert_null(detail);
        assert_probe_bounded(&out);
        /* Whatever decoded can be sent again. */
        uint64_t again[HV_IPC_MAX_WORDS];
        enum hv_ipc_status re = HV_IPC_ENCODE(again, NULL, hv_ipc_test_Probe, &out, NULL);
        assert_true(re == HV_IPC_OK || re == HV_IPC_E_TOO_LARGE);
        break;
    }
    case HV_IPC_E_DECODE:
        assert_non_null(detail);
        assert_probe_empty(&out);
        break;
    case HV_IPC_E_LENGTH:
    case HV_IPC_E_TYPE:
        assert_null(detail);
        assert_probe_empty(&out);
        break;
    default:
        fail_msg("decode returned %d", (int)st);
    }
    return st;
}

static void test_truncated(void **state)
{
    (void)state;
    uint64_t words[HV_IPC_MAX_WORDS];
    Probe in = probe_of_size(20, 47);
    in.id = 99;
    in.delta = -5;
    in.flag = true;
    size_t nwords = 0;
    assert_int_equal(HV_IPC_ENCODE(words, &nwords, hv_ipc_test_Probe, &in, NULL), HV_IPC_OK);
    size_t len = encoded_len(words);
    uint64_t type = words[0] & ~(uint64_t)HV_IPC_LEN_MASK;
    unsigned errors = 0;
    for (size_t cut = 0; cut < len; cut++) {
        words[0] = type | cut;
        if (decode_checked(words, nwords) != HV_IPC_OK)
            errors++;
        /* Words lost in transit while the length still claims them. */
        words[0] = type | len;
        size_t have = 1 + cut / 8;
        if (have < nwords)
            assert_int_equal(decode_checked(words, have), HV_IPC_E_LENGTH);
    }
    assert_true(errors > 0);
}

static void test_random_corruption(void **state)
{
    (void)state;
    enum { ITERATIONS = 200000 };
    unsigned ok = 0;
    unsigned failed = 0;
    Probe bases[3];
    bases[0] = sample_probe();
    bases[1] = probe_of_size(29, 47);
    bases[2] = probe_of_size(0, 0);
    bases[2].values_count = 64;
    for (unsigned i = 0; i < 64; i++)
        bases[2].values[i] = (uint64_t)i * 3;
    for (unsigned it = 0; it < ITERATIONS; it++) {
        uint64_t words[HV_IPC_MAX_WORDS];
        size_t nwords = 0;
        const Probe *base = &bases[it % 3];
        assert_int_equal(HV_IPC_ENCODE(words, &nwords, hv_ipc_test_Probe, base, NULL), HV_IPC_OK);
        uint8_t *bytes = (uint8_t *)&words[1];
        size_t len = encoded_len(words);
        unsigned flips = 1 + rng_below(8);
        for (unsigned f = 0; f < flips && len > 0; f++)
            bytes[rng_below((unsigned)len)] ^= (uint8_t)(1u + rng_below(255));
        /* Now and then the length word too (its low bits: the type check is separate). */
        if (rng_below(16) == 0)
            words[0] ^= 1ull << rng_below(12);
        if (decode_checked(words, nwords) == HV_IPC_OK)
            ok++;
        else
            failed++;
    }
    /* Entirely random payloads of random lengths. */
    for (unsigned it = 0; it < ITERATIONS / 4; it++) {
        uint64_t words[HV_IPC_MAX_WORDS];
        size_t len = rng_below((unsigned)HV_IPC_MAX_BYTES + 1);
        size_t nwords = 1 + (len + 7) / 8;
        for (size_t w = 1; w < nwords; w++)
            words[w] = rng();
        words[0] = ((uint64_t)hv_ipc_test_Probe_msgid << 32) | len;
        if (decode_checked(words, nwords) == HV_IPC_OK)
            ok++;
        else
            failed++;
    }
    /* Both outcomes happen: the corruption is neither always fatal nor always harmless. */
    assert_true(ok > 100);
    assert_true(failed > 100);
}

static void test_strerror(void **state)
{
    (void)state;
    const enum hv_ipc_status all[] = { HV_IPC_OK, HV_IPC_E_TOO_LARGE, HV_IPC_E_ENCODE,
                                       HV_IPC_E_LENGTH, HV_IPC_E_TYPE, HV_IPC_E_DECODE };
    const size_t n = sizeof(all) / sizeof(all[0]);
    for (size_t i = 0; i < n; i++) {
        const char *s = hv_ipc_strerror(all[i]);
        assert_non_null(s);
        assert_true(strlen(s) > 0);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(s, hv_ipc_strerror(all[j]));
    }
    assert_string_equal(hv_ipc_strerror((enum hv_ipc_status)99), "unknown IPC codec status");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_round_trip_empty_message),
        cmocka_unit_test(test_padding_zeroed_tail_untouched),
        cmocka_unit_test(test_exactly_full_and_one_byte_over),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_encode_invalid_struct),
        cmocka_unit_test(test_length_word_exceeds_buffer),
        cmocka_unit_test(test_wrong_type_id),
        cmocka_unit_test(test_decode_failure_detail),
        cmocka_unit_test(test_string_longer_than_bound),
        cmocka_unit_test(test_repeated_beyond_bound),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_random_corruption),
        cmocka_unit_test(test_strerror),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
