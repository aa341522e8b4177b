# emulator_test.cmake: one line registers an in-emulator test for QEMU (SVM) and Bochs (VMX).
#
#   hv_emulator_test(<name>
#       [SUITE <ktest suite>]        # boots with test=<suite>; default: <name>
#       [BOOT_DEFAULT]               # boot the default command line (no suite)
#       [INIT <target>]              # user program booted as the root task ("init" module)
#       [MODULES <target>...]        # more user programs, each a boot module named like its target
#       [DATA_MODULES <file>:<name>...]  # more boot modules from files (with INIT)
#       [EXPECT_LINE <regex>]        # pass once a serial line matches, then stop
#       [EXPECT_PANIC]               # pass only on the announced fatal fault
#       [GUEST_CHECKS <prefix>]      # a guest's own checks (PASS: <prefix>...) and SUMMARY come first
#       [EMULATORS qemu bochs]       # default: both
#       [LABELS <area labels>...]    # added to the emulator's own label
#       [CMDLINE <extra args>...]
#       [TIMEOUT <seconds>] [SMP <n>]
#       [MEM <MiB>]                  # the machine's RAM; default: HV_GUEST_MEM_MIB
#       [SERIAL_PORTS <n>]           # COM1..COMn (default 1); COMk's log: <emulator>.<name>.comk.log
#       [QEMU_CPU <model>]           # default: HV_QEMU_CPU
#       [BOCHS_IPS <n>]              # Bochs's instructions per emulated second; default 100000000
#       [COST <n>])                  # ctest's COST: a long test starts first
#
# Tests are named <emulator>.<name>; the serial log of each stays in
# build/test-logs/<emulator>.<name>.log.

set(HV_TEST_MODULE ${CMAKE_SOURCE_DIR}/test/data/testmod.txt)
set(HV_QEMU_TIMEOUT 120)
set(HV_BOCHS_TIMEOUT 300)

function(hv_emulator_test name)
  cmake_parse_arguments(T "BOOT_DEFAULT;EXPECT_PANIC" "SUITE;EXPECT_LINE;TIMEOUT;SMP;INIT;QEMU_CPU;GUEST_CHECKS;MEM;BOCHS_IPS;COST;SERIAL_PORTS"
                        "EMULATORS;LABELS;CMDLINE;MODULES;DATA_MODULES" ${ARGN})
  if(NOT T_EMULATORS)
    set(T_EMULATORS qemu bochs)
  endif()
  if(NOT T_SUITE)
    set(T_SUITE ${name})
  endif()
  if(NOT T_SMP)
    set(T_SMP 1)
  endif()
  if(NOT T_MEM)
    set(T_MEM ${HV_GUEST_MEM_MIB})
  endif()
  if(NOT T_QEMU_CPU)
    set(T_QEMU_CPU ${HV_QEMU_CPU})
  endif()
  if(NOT T_BOCHS_IPS)
    set(T_BOCHS_IPS 100000000)
  endif()

  foreach(emu IN LISTS T_EMULATORS)
    if(emu STREQUAL "qemu")
      set(virt svm)
      set(timeout ${HV_QEMU_TIMEOUT})
    elseif(emu STREQUAL "bochs")
      set(virt vmx)
      set(timeout ${HV_BOCHS_TIMEOUT})
    else()
      message(FATAL_ERROR "hv_emulator_test(${name}): unknown emulator '${emu}'")
    endif()
    if(T_TIMEOUT)
      set(timeout ${T_TIMEOUT})
    endif()

    set(cmdline "expect_mem_mib=${T_MEM} expect_virt=${virt}")
    set(init_module)
    if(T_INIT)
      set(init_module --module $<TARGET_FILE:${T_INIT}>:init)
      foreach(m IN LISTS T_MODULES)
        list(APPEND init_module --module $<TARGET_FILE:${m}>:${m})
      endforeach()
      foreach(m IN LISTS T_DATA_MODULES)
        list(APPEND init_module --module ${m})
      endforeach()
    elseif(NOT T_BOOT_DEFAULT)
      string(PREPEND cmdline "test=${T_SUITE} ")
    endif()
    if(T_CMDLINE)
      list(JOIN T_CMDLINE " " extra)
      string(APPEND cmdline " ${extra}")
    endif()

    set(mode)
    if(T_EXPECT_PANIC)
      list(APPEND mode --expect-panic)
    endif()
    if(T_EXPECT_LINE)
      list(APPEND mode --expect-line ${T_EXPECT_LINE})
    endif()
    if(T_GUEST_CHECKS)
      list(APPEND mode --guest-checks ${T_GUEST_CHECKS})
    endif()
    if(T_SERIAL_PORTS)
      list(APPEND mode --serial-ports ${T_SERIAL_PORTS})
    endif()

    add_test(NAME ${emu}.${name}
      COMMAND ${CMAKE_SOURCE_DIR}/test/run-emulator
        --emulator ${emu}
        --kernel $<TARGET_FILE:hv.elf>
        --cmdline ${cmdline}
        --module ${HV_TEST_MODULE}:testmod ${init_module}
        --mem ${T_MEM} --smp ${T_SMP}
        --qemu-cpu ${T_QEMU_CPU} --bochs-cpu ${HV_BOCHS_CPU} --bochs-ips ${T_BOCHS_IPS}
        --timeout ${timeout}
        --log ${CMAKE_BINARY_DIR}/test-logs/${emu}.${name}.log
        ${mode})
    # ctest's own limit sits above the harness's so the harness reports the hang.
    math(EXPR ctest_timeout "${timeout} + 60")
    set_tests_properties(${emu}.${name} PROPERTIES
      LABELS "${emu};${T_LABELS}"
      TIMEOUT ${ctest_timeout})
    if(T_COST)
      set_tests_properties(${emu}.${name} PROPERTIES COST ${T_COST})
    endif()
  endforeach()
endfunction()
