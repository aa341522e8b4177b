/* SPDX-License-Identifier: MIT */
/* ipc_codec: a nanopb message in and out of one IPC message's words (length/type word + bytes). */
#ifndef HV_LIBIPC_IPC_CODEC_H
#define HV_LIBIPC_IPC_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include <pb.h>

/*
 * Layout of an encoded message, as it crosses the core (HV_IPC_MAX_WORDS words, the
 * core's HV_MSG_MAX_WORDS):
 *
 *   words[0]      bits 0..31  length of the encoded protobuf, in bytes
 *                 bits 32..63 the message's type id
 *   words[1..]    the protobuf bytes, packed in memory order (little endian), the unused
 *                 tail of the last word zeroed
 *
 * So an encoded message is 1 + ceil(length / 8) words, and at most HV_IPC_MAX_BYTES bytes
 * of protobuf fit. Nothing past those words is read or written.
 *
 * Type ids are 32-bit, assigned by hand with nanopb's `msgid` option in each .options file
 * (the generator then defines <Msg>_msgid); see proto/README.md for the blocks in use.
 * The HV_IPC_ENCODE / HV_IPC_DECODE macros take the type id and the field descriptor from
 * the message type's name, and refuse (at compile time) a message without a msgid or a
 * pointer of another type.
 *
 * This file is pure: no system calls, no allocation; the same code runs in servers (musl)
 * and in the host tests.
 */

#define HV_IPC_MAX_WORDS 64
#define HV_IPC_MAX_BYTES ((size_t)(HV_IPC_MAX_WORDS - 1) * sizeof(uint64_t))   /* 504 */

#define HV_IPC_LEN_MASK 0xffffffffu
#define HV_IPC_TYPE_SHIFT 32

enum hv_ipc_status {
    HV_IPC_OK = 0,
    HV_IPC_E_TOO_LARGE,     /* encode: the message needs more than HV_IPC_MAX_BYTES */
    HV_IPC_E_ENCODE,        /* encode: nanopb refused the struct (a count above its bound,
                               an unterminated string); detail has nanopb's reason */
    HV_IPC_E_LENGTH,        /* decode: no length word, or its length exceeds the words received */
    HV_IPC_E_TYPE,          /* decode: the type id is not the one expected */
    HV_IPC_E_DECODE,        /* decode: nanopb rejected the bytes; detail has nanopb's reason */
};

/*
 * Encodes `msg` (described by `fields`) with type id `type` into words[], which must have
 * room for HV_IPC_MAX_WORDS words. On success *nwords (if not NULL) is the number of words
 * to send. On HV_IPC_E_ENCODE, *detail (if not NULL) is nanopb's error text (static
 * storage); otherwise it is set to NULL. On error the words are unspecified.
 */
enum hv_ipc_status hv_ipc_encode(uint64_t *words, size_t *nwords, uint32_t type,
                                 const pb_msgdesc_t *fields, const void *msg,
                                 const char **detail);

/*
 * Decodes the first `nwords` words of words[] (the words received; 1..HV_IPC_MAX_WORDS)
 * into `msg`, which must be of type `type` described by `fields`. Checks, in order: the
 * length word (HV_IPC_E_LENGTH), the type id (HV_IPC_E_TYPE), the protobuf itself
 * (HV_IPC_E_DECODE, *detail = nanopb's error text). On any error `msg` holds the empty
 * (default) message, never a half-decoded one: nanopb can stop in the middle of a field,
 * leaving a repeated field's count one past its bound.
 */
enum hv_ipc_status hv_ipc_decode(const uint64_t *words, size_t nwords, uint32_t type,
                                 const pb_msgdesc_t *fields, void *msg, const char **detail);

/* Sets `msg` to the empty (default) message of its type. */
void hv_ipc_reset(const pb_msgdesc_t *fields, void *msg);

/* The type id in an encoded message's first word (to dispatch on before decoding). */
static inline uint32_t hv_ipc_type_of(uint64_t word0)
{
    return (uint32_t)(word0 >> HV_IPC_TYPE_SHIFT);
}

/* A short name for a status ("ok", "message too large", ...). */
const char *hv_ipc_strerror(enum hv_ipc_status status);

/* Type-checked pointer: a compile error (-Werror) if `ptr` does not point to `Type`. */
#define HV_IPC_TYPED_PTR_(Type, ptr) (1 ? (ptr) : (Type *)0)

/*
 * HV_IPC_ENCODE(words, &nwords, hv_blk_ReadRequest, &req, &detail)
 * HV_IPC_DECODE(words, nwords, hv_blk_ReadRequest, &req, &detail)
 */
#define HV_IPC_ENCODE(words, nwords, MsgType, msg, detail)                          \
    hv_ipc_encode((words), (nwords), (uint32_t)(MsgType##_msgid), MsgType##_fields, \
                  HV_IPC_TYPED_PTR_(const MsgType, msg), (detail))
#define HV_IPC_DECODE(words, nwords, MsgType, msg, detail)                          \
    hv_ipc_decode((words), (nwords), (uint32_t)(MsgType##_msgid), MsgType##_fields, \
                  HV_IPC_TYPED_PTR_(MsgType, msg), (detail))

/* A compile-time proof that every instance of MsgType fits in one IPC message. */
#define HV_IPC_ASSERT_FITS(MsgType) \
    _Static_assert(MsgType##_size <= HV_IPC_MAX_BYTES, #MsgType " can exceed one IPC message")

#endif
