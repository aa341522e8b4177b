/* SPDX-License-Identifier: MIT */
/* ipc_codec: nanopb encode/decode into the bounded word buffer of one IPC message. */
#include "hv/ipc_codec.h"

#include <string.h>

#include <pb_decode.h>
#include <pb_encode.h>

#ifdef PB_ENABLE_MALLOC
#error "libipc decodes into fixed-size structs: build nanopb without PB_ENABLE_MALLOC"
#endif
#ifndef PB_BUFFER_ONLY
// cppcheck-suppress preprocessorErrorDirective ; cppcheck does not see the build's defines
#error "libipc expects nanopb built with PB_BUFFER_ONLY (link a nanopb runtime library)"
#endif

_Static_assert(HV_IPC_MAX_BYTES <= HV_IPC_LEN_MASK, "length fits the length word");

static void set_detail(const char **detail, const char *text)
{
    if (detail != NULL) {
        *detail = text;
    }
}

enum hv_ipc_status hv_ipc_encode(uint64_t *words, size_t *nwords, uint32_t type,
                                 const pb_msgdesc_t *fields, const void *msg,
                                 const char **detail)
{
    set_detail(detail, NULL);

    /* Size first, so "does not fit" is told apart from "nanopb refuses the struct". */
    size_t size = 0;
    pb_ostream_t sizing = PB_OSTREAM_SIZING;
    if (!pb_encode(&sizing, fields, msg)) {
        set_detail(detail, PB_GET_ERROR(&sizing));
        return HV_IPC_E_ENCODE;
    }
    size = sizing.bytes_written;
    if (size > HV_IPC_MAX_BYTES) {
        return HV_IPC_E_TOO_LARGE;
    }

    size_t used = 1 + (size + sizeof(uint64_t) - 1) / sizeof(uint64_t);
    /* Zero the words sent, so the padding of the last one carries no stale bytes. */
    memset(words, 0, used * sizeof(uint64_t));
    pb_ostream_t out = pb_ostream_from_buffer((pb_byte_t *)&words[1], size);
    if (!pb_encode(&out, fields, msg) || out.bytes_written != size) {
        /* Only if the struct changed between the two passes. */
        set_detail(detail, PB_GET_ERROR(&out));
        return HV_IPC_E_ENCODE;
    }
    words[0] = ((uint64_t)type << HV_IPC_TYPE_SHIFT) | (uint64_t)size;
    if (nwords != NULL) {
        *nwords = used;
    }
    return HV_IPC_OK;
}

enum hv_ipc_status hv_ipc_decode(const uint64_t *words, size_t nwords, uint32_t type,
                                 const pb_msgdesc_t *fields, void *msg, const char **detail)
{
    set_detail(detail, NULL);

    if (nwords < 1 || nwords > HV_IPC_MAX_WORDS) {
        hv_ipc_reset(fields, msg);
        return HV_IPC_E_LENGTH;
    }
    uint64_t size = words[0] & HV_IPC_LEN_MASK;
    if (size > (uint64_t)(nwords - 1) * sizeof(uint64_t)) {
        hv_ipc_reset(fields, msg);
        return HV_IPC_E_LENGTH;
    }
    if (hv_ipc_type_of(words[0]) != type) {
        hv_ipc_reset(fields, msg);
        return HV_IPC_E_TYPE;
    }
    pb_istream_t in = pb_istream_from_buffer((const pb_byte_t *)&words[1], (size_t)size);
    if (!pb_decode(&in, fields, msg)) {
        set_detail(detail, PB_GET_ERROR(&in));
        hv_ipc_reset(fields, msg);
        return HV_IPC_E_DECODE;
    }
    return HV_IPC_OK;
}

void hv_ipc_reset(const pb_msgdesc_t *fields, void *msg)
{
    /* Decoding nothing sets every field to its default: counts 0, strings "", no oneof. */
    static const pb_byte_t nothing[1];
    pb_istream_t empty = pb_istream_from_buffer(nothing, 0);
    (void)pb_decode(&empty, fields, msg);
}

const char *hv_ipc_strerror(enum hv_ipc_status status)
{
    switch (status) {
    case HV_IPC_OK:
        return "ok";
    case HV_IPC_E_TOO_LARGE:
        return "message too large for one IPC message";
    case HV_IPC_E_ENCODE:
        return "message cannot be encoded";
    case HV_IPC_E_LENGTH:
        return "length word exceeds the message";
    case HV_IPC_E_TYPE:
        return "unexpected message type";
    case HV_IPC_E_DECODE:
        return "malformed message";
    }
    return "unknown IPC codec status";
}
