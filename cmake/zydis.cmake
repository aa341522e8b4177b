# zydis.cmake: the Zydis x86 decoder, built from Debian's source package (fetched by
# scripts/setup into build/deps/src/zydis-*/), never copied into this tree. Only the decoder
# (no formatter, no encoder): the vmm decodes the instructions that trap and emulates them.
# Zydis's support library Zycore is header-only for this use; its headers come from
# Debian's libzycore-dev.
#
#   hv_zydis_library(<name> HOST|MUSL): a static library for host tests (sanitized like
#   them) or for servers linked with musl (hv_musl_program).

file(GLOB _hv_zydis_dirs LIST_DIRECTORIES true "${HV_DEPS_DIR}/src/zydis-*")
set(HV_ZYDIS_DIR "")
foreach(_d IN LISTS _hv_zydis_dirs)
  if(IS_DIRECTORY "${_d}" AND EXISTS "${_d}/src/Decoder.c" AND EXISTS "${_d}/include/Zydis/Zydis.h")
    set(HV_ZYDIS_DIR "${_d}")
  endif()
endforeach()
if(NOT HV_ZYDIS_DIR)
  message(FATAL_ERROR "Zydis sources not found in ${HV_DEPS_DIR}/src/zydis-*/: they come from "
    "Debian's zydis source package: run scripts/setup")
endif()
set(HV_ZYCORE_INCLUDE /usr/include CACHE PATH "where Debian's libzycore-dev put Zycore/")
if(NOT EXISTS "${HV_ZYCORE_INCLUDE}/Zycore/LibC.h")
  message(FATAL_ERROR "Zycore headers missing (${HV_ZYCORE_INCLUDE}/Zycore): run scripts/setup "
    "(package libzycore-dev)")
endif()
# musl programs must not see glibc's /usr/include: give them Zycore alone through a link dir.
set(_hv_zycore_only "${CMAKE_BINARY_DIR}/deps-include/zycore")
file(MAKE_DIRECTORY "${_hv_zycore_only}")
file(CREATE_LINK "${HV_ZYCORE_INCLUDE}/Zycore" "${_hv_zycore_only}/Zycore" SYMBOLIC)

set(HV_ZYDIS_SOURCES
  ${HV_ZYDIS_DIR}/src/Decoder.c
  ${HV_ZYDIS_DIR}/src/DecoderData.c
  ${HV_ZYDIS_DIR}/src/MetaInfo.c
  ${HV_ZYDIS_DIR}/src/Mnemonic.c
  ${HV_ZYDIS_DIR}/src/Register.c
  ${HV_ZYDIS_DIR}/src/Segment.c
  ${HV_ZYDIS_DIR}/src/SharedData.c
  ${HV_ZYDIS_DIR}/src/Utils.c
  ${HV_ZYDIS_DIR}/src/Zydis.c)

function(hv_zydis_library name variant)
  add_library(${name} STATIC ${HV_ZYDIS_SOURCES})
  # PUBLIC: the library's ABI (which features exist) must match every user's view.
  target_compile_definitions(${name} PUBLIC ZYDIS_STATIC_BUILD ZYCORE_STATIC_BUILD
    ZYDIS_DISABLE_FORMATTER ZYDIS_DISABLE_ENCODER)
  # SYSTEM: third-party headers, outside our warnings policy and our linters.
  target_include_directories(${name} SYSTEM PUBLIC ${HV_ZYDIS_DIR}/include ${_hv_zycore_only})
  target_include_directories(${name} PRIVATE ${HV_ZYDIS_DIR}/src)
  target_compile_options(${name} PRIVATE -O2 -w)
  if(variant STREQUAL "HOST")
    target_compile_options(${name} PRIVATE ${HV_HOST_SANITIZE})
  elseif(variant STREQUAL "MUSL")
    target_compile_options(${name} PRIVATE ${HV_MUSL_CFLAGS})
  else()
    message(FATAL_ERROR "hv_zydis_library(${name}): HOST or MUSL, not '${variant}'")
  endif()
endfunction()
