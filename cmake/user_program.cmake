# SPDX-License-Identifier: MIT
# user_program.cmake: flags and hv_user_program() for freestanding root tasks linked with hvu (test/user).

set(HV_USER_CFLAGS
  -ffreestanding -fno-pic -fno-pie -mno-red-zone -mgeneral-regs-only
  -fno-stack-protector -fno-asynchronous-unwind-tables -fcf-protection=none
  -fno-tree-loop-distribute-patterns -fno-common -O2 -g)

# hv_user_program(<name> <sources...>): a static ELF at 4 MiB linked with hvu (test/user/).
function(hv_user_program name)
  add_executable(${name} ${ARGN})
  target_compile_options(${name} PRIVATE ${HV_WARNINGS} ${HV_USER_CFLAGS})
  target_link_libraries(${name} PRIVATE hvu gcc)
  target_link_options(${name} PRIVATE -nostdlib -static -no-pie
    -Wl,-T,${CMAKE_SOURCE_DIR}/test/user/user.ld -Wl,--build-id=none -Wl,-z,max-page-size=0x1000)
endfunction()
