# SPDX-License-Identifier: MIT
# nanopb.cmake: the protobuf pipeline: nanopb runtime libraries, hv_nanopb_generate() and hv_manifest().
#
# Tools come from Debian packages (protobuf-compiler: protoc; nanopb: nanopb_generator.py).
# The nanopb *runtime* (pb_common.c, pb_encode.c, pb_decode.c) is compiled from Debian's
# source package, which scripts/setup fetches into build/deps/src/nanopb-<version>/ (or
# $HV_DEPS_DIR/src): never copied into this tree.
#
# Provided here:
#   hv_nanopb_generate(<out-var> <file.proto>...)
#       Generates <name>.pb.c / <name>.pb.h for each .proto at build time into
#       ${HV_NANOPB_GEN_DIR} (${CMAKE_BINARY_DIR}/proto) and appends the .pb.c paths to
#       <out-var> (the .pb.h sit next to them; add HV_NANOPB_GEN_DIR to the include path, or
#       link a library that does). The bounds come from <name>.options next to each .proto.
#       The generated code is target-neutral: hand the same list to a host library and to
#       a musl library alike.
#   hv_nanopb_runtime_library(<name> [COMPILE_OPTIONS ...] [LINK_OPTIONS ...])
#       A static library of the nanopb runtime built with the given flags; anything that
#       uses nanopb (generated code included) links it and inherits its include path and
#       its configuration (PB_BUFFER_ONLY).
#   nanopb_host
#       That library for the host: tests and build tools, built with ASan + UBSan like the
#       unit tests (HV_HOST_SANITIZE), which every executable linking it inherits.
#   hv_manifest(<target> <manifest.txtpb> <out.bin> [CHECK])
#       Encodes a text-format hv.manifest.Manifest into binary at build time with protoc
#       (a malformed manifest fails the build with protoc's own message); with CHECK it
#       also runs manifest_check() over the result (tool hv_manifest_check, libipc/). The
#       custom target <target> is part of `all`.
#
# Adding the server (musl) target later: servers are built by this same project with the
# host gcc driven by Debian's musl specs, so a second runtime library is one call, e.g.
#   set(HV_MUSL_FLAGS -specs=/usr/lib/x86_64-linux-musl/musl-gcc.specs -static)
#   hv_nanopb_runtime_library(nanopb_musl COMPILE_OPTIONS ${HV_MUSL_FLAGS} -Os
#                             LINK_OPTIONS ${HV_MUSL_FLAGS})
# and the protocol code for servers is a library of the *same* generated sources:
#   add_library(hv_proto_musl STATIC ${HV_PROTO_SRCS})   # the list hv_nanopb_generate gave
#   target_link_libraries(hv_proto_musl PUBLIC nanopb_musl)
#   target_include_directories(hv_proto_musl PUBLIC ${HV_NANOPB_GEN_DIR})
# (generate once, compile per target; hv_nanopb_generate must not be called twice for
# one .proto, since a generated file has exactly one rule).
#
# Configuration invariants, for every target: PB_BUFFER_ONLY (streams are plain buffers,
# no callbacks), the generator runs with type:FT_STATIC (a string, bytes or repeated field
# without a bound in the .options file is a build error, never a callback field), and
# PB_ENABLE_MALLOC is never defined (libipc refuses to compile with it).

include_guard(GLOBAL)

# --- tools -------------------------------------------------------------------------------
find_program(HV_PROTOC protoc)
find_program(HV_NANOPB_GENERATOR nanopb_generator.py)
if(NOT HV_PROTOC OR NOT HV_NANOPB_GENERATOR)
  message(FATAL_ERROR
    "protoc or nanopb_generator.py not found (Debian packages protobuf-compiler, nanopb, "
    "python3-protobuf): run scripts/setup")
endif()

# --- the runtime sources from Debian's source package ------------------------------------
if(DEFINED ENV{HV_DEPS_DIR})
  set(_hv_deps_default "$ENV{HV_DEPS_DIR}")
else()
  set(_hv_deps_default "${CMAKE_SOURCE_DIR}/build/deps")
endif()
set(HV_DEPS_DIR "${_hv_deps_default}" CACHE PATH
  "Where scripts/setup fetched the third-party source packages")

file(GLOB _hv_nanopb_dirs LIST_DIRECTORIES true "${HV_DEPS_DIR}/src/nanopb-*")
set(HV_NANOPB_RUNTIME_DIR "")
foreach(_d IN LISTS _hv_nanopb_dirs)
  if(IS_DIRECTORY "${_d}" AND EXISTS "${_d}/pb.h" AND EXISTS "${_d}/pb_common.c"
     AND EXISTS "${_d}/pb_encode.c" AND EXISTS "${_d}/pb_decode.c")
    set(HV_NANOPB_RUNTIME_DIR "${_d}")   # glob results are sorted: the last is the newest
  endif()
endforeach()
if(NOT HV_NANOPB_RUNTIME_DIR)
  message(FATAL_ERROR
    "nanopb runtime sources not found in ${HV_DEPS_DIR}/src/nanopb-*/ "
    "(pb.h, pb_common.c, pb_encode.c, pb_decode.c). They come from Debian's nanopb "
    "source package: run scripts/setup (`make clean` removes them with build/).")
endif()

# Visible to every directory (servers build their own runtime variant).
set(HV_NANOPB_RUNTIME_DIR "${HV_NANOPB_RUNTIME_DIR}" CACHE INTERNAL "nanopb runtime sources")

# The generated code and the runtime must be the same nanopb version.
file(STRINGS "${HV_NANOPB_RUNTIME_DIR}/pb.h" _hv_pb_version REGEX "^#define NANOPB_VERSION ")
string(REGEX REPLACE ".*\"(.*)\".*" "\\1" _hv_pb_version "${_hv_pb_version}")
execute_process(COMMAND ${HV_NANOPB_GENERATOR} --version
  OUTPUT_VARIABLE _hv_gen_version ERROR_VARIABLE _hv_gen_version
  OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_STRIP_TRAILING_WHITESPACE)
if(NOT _hv_gen_version STREQUAL _hv_pb_version)
  message(FATAL_ERROR
    "nanopb version mismatch: generator ${HV_NANOPB_GENERATOR} is '${_hv_gen_version}', "
    "runtime ${HV_NANOPB_RUNTIME_DIR} is '${_hv_pb_version}'. Remove the stale "
    "${HV_DEPS_DIR}/src/nanopb-* and run scripts/setup.")
endif()
# If the fetched sources disappear (make clean), re-run CMake so the message above says why.
set_property(DIRECTORY "${CMAKE_SOURCE_DIR}" APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
  "${HV_NANOPB_RUNTIME_DIR}/pb.h")

set(HV_NANOPB_GEN_DIR "${CMAKE_BINARY_DIR}/proto" CACHE INTERNAL "nanopb generated sources")
file(MAKE_DIRECTORY "${HV_NANOPB_GEN_DIR}")

# Host builds of protocol code are checked like the unit tests that use them.
set(HV_HOST_SANITIZE -fsanitize=address,undefined -fno-sanitize-recover=all CACHE INTERNAL
  "compile options of host protocol code (tests, build tools)")

# --- runtime libraries -------------------------------------------------------------------
function(hv_nanopb_runtime_library name)
  cmake_parse_arguments(PARSE_ARGV 1 A "" "" "COMPILE_OPTIONS;LINK_OPTIONS")
  add_library(${name} STATIC
    ${HV_NANOPB_RUNTIME_DIR}/pb_common.c
    ${HV_NANOPB_RUNTIME_DIR}/pb_encode.c
    ${HV_NANOPB_RUNTIME_DIR}/pb_decode.c)
  # SYSTEM: third-party headers, outside our warnings policy and our linters.
  target_include_directories(${name} SYSTEM PUBLIC ${HV_NANOPB_RUNTIME_DIR})
  # Part of the ABI (pb_istream_t's layout): PUBLIC, so every user agrees.
  target_compile_definitions(${name} PUBLIC PB_BUFFER_ONLY)
  # nanopb 0.4.7 compiles cleanly with our full warning set (gcc 12, -O2); if a later
  # version does not, add the specific -Wno-<warning> here rather than dropping the set.
  target_compile_options(${name} PRIVATE ${HV_WARNINGS} ${A_COMPILE_OPTIONS})
  if(A_LINK_OPTIONS)
    target_link_options(${name} INTERFACE ${A_LINK_OPTIONS})
  endif()
endfunction()

hv_nanopb_runtime_library(nanopb_host
  COMPILE_OPTIONS ${HV_HOST_SANITIZE} -g
  LINK_OPTIONS -fsanitize=address,undefined)

# --- code generation ---------------------------------------------------------------------
function(hv_nanopb_generate out_var)
  set(protos "")
  foreach(p IN LISTS ARGN)
    get_filename_component(abs "${p}" ABSOLUTE)
    list(APPEND protos "${abs}")
  endforeach()
  # A .proto may import another of the same call: each output depends on all of them.
  set(all_inputs ${protos})
  foreach(abs IN LISTS protos)
    get_filename_component(dir "${abs}" DIRECTORY)
    get_filename_component(stem "${abs}" NAME_WE)
    if(EXISTS "${dir}/${stem}.options")
      list(APPEND all_inputs "${dir}/${stem}.options")
    endif()
  endforeach()

  set(srcs "")
  foreach(abs IN LISTS protos)
    get_filename_component(dir "${abs}" DIRECTORY)
    get_filename_component(stem "${abs}" NAME_WE)
    set(out_c "${HV_NANOPB_GEN_DIR}/${stem}.pb.c")
    set(out_h "${HV_NANOPB_GEN_DIR}/${stem}.pb.h")
    # -I: where protoc finds imports and the generator finds <stem>.options (it also makes
    # the output name <stem>.pb.*). The working directory is the output directory, so the
    # generator's own search of "." finds nothing stray.
    # type:FT_STATIC: an unbounded string/bytes/repeated field is an error, not a callback.
    # --error-on-unmatched: an .options line that names no field is an error (a typo).
    add_custom_command(
      OUTPUT "${out_c}" "${out_h}"
      COMMAND ${HV_NANOPB_GENERATOR} -q --error-on-unmatched -s type:FT_STATIC
              -I "${dir}" -D "${HV_NANOPB_GEN_DIR}" "${abs}"
      DEPENDS ${all_inputs} ${HV_NANOPB_GENERATOR}
      WORKING_DIRECTORY "${HV_NANOPB_GEN_DIR}"
      COMMENT "nanopb: ${stem}.proto -> ${stem}.pb.c, ${stem}.pb.h"
      VERBATIM)
    list(APPEND srcs "${out_c}")
  endforeach()
  set(${out_var} ${${out_var}} ${srcs} PARENT_SCOPE)
endfunction()

# --- the boot manifest -------------------------------------------------------------------
set(HV_MANIFEST_PROTO "${CMAKE_SOURCE_DIR}/proto/manifest.proto" CACHE INTERNAL "")

function(hv_manifest target txtpb out)
  cmake_parse_arguments(PARSE_ARGV 3 A "CHECK" "" "")
  get_filename_component(txtpb "${txtpb}" ABSOLUTE)
  get_filename_component(out "${out}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_BINARY_DIR}")
  get_filename_component(proto_dir "${HV_MANIFEST_PROTO}" DIRECTORY)
  set(check_cmd "")
  set(check_dep "")
  if(A_CHECK)
    set(check_cmd "$<TARGET_FILE:hv_manifest_check> \"$2.tmp\" \"$1\" &&")
    set(check_dep hv_manifest_check)
  endif()
  # protoc writes to a temporary file that is renamed only on success: a failed encode
  # (or check) leaves no output at all (not even the last good one), so nothing can ship a
  # stale or empty manifest and the next build fails again.
  add_custom_command(
    OUTPUT "${out}"
    # protoc reads the text from stdin and calls it "input" in its messages: name the file.
    COMMAND sh -c "${HV_PROTOC} --encode=hv.manifest.Manifest --proto_path=\"$3\" \"$4\" < \"$1\" > \"$2.tmp\" && ${check_cmd} mv -f \"$2.tmp\" \"$2\" || { rm -f \"$2.tmp\" \"$2\"; echo \"hv_manifest: $1 rejected (protoc's input:LINE:COLUMN is a position in it)\" >&2; exit 1; }"
            hv_manifest "${txtpb}" "${out}" "${proto_dir}" "${HV_MANIFEST_PROTO}"
    DEPENDS "${txtpb}" "${HV_MANIFEST_PROTO}" ${check_dep}
    COMMENT "manifest: ${txtpb} -> ${out}"
    VERBATIM)
  add_custom_target(${target} ALL DEPENDS "${out}")
endfunction()
