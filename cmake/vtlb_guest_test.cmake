# vtlb_guest_test.cmake: one call registers a long-mode paging guest run bare and in VMs, and the tests that compare their result tables.
#
#   hv_vtlb_guest_test(<short>                 # tests vtlb_<short>_*; the guest is test/guests/<GUEST>
#       GUEST <name>                           # <name>.mb booted bare, <name>.bin the boot module <name>
#       [QEMU_CPU <model>]                     # default: HV_QEMU_CPU
#       [BOCHS_BARE]                           # also bare in Bochs (GRUB loads the multiboot image)
#       [LABELS <area labels>...])             # added after each test's own (vtlb; vcpu [npt] on VM runs)
#
# Registers qemu.vtlb_<short>_bare (QEMU -kernel, no hypervisor), {qemu,bochs}.vtlb_<short>_{nested,shadow}
# (test/user/pagingtest runs the same binary in a nested- and a shadow-paging VM, the boot
# module vmmode picks), [bochs.vtlb_<short>_bare], and two test/compare-table checks on their logs:
# vtlb_<short>_table_bare_vs_vm (QEMU: bare, nested, shadow) and vtlb_<short>_table_bochs
# (QEMU bare's table against every Bochs run). Fixtures order them: <short>_bare,
# <short>_{nested,shadow}, bochs_<short>_{bare,nested,shadow}.

function(hv_vtlb_guest_test short)
  cmake_parse_arguments(V "BOCHS_BARE" "GUEST;QEMU_CPU" "LABELS" ${ARGN})
  if(NOT V_QEMU_CPU)
    set(V_QEMU_CPU ${HV_QEMU_CPU})
  endif()
  set(logs ${CMAKE_BINARY_DIR}/test-logs)
  set(name vtlb_${short})
  set(qemu_labels qemu vtlb ${V_LABELS})
  set(bochs_labels bochs vtlb ${V_LABELS})

  add_test(NAME qemu.${name}_bare
    COMMAND ${CMAKE_SOURCE_DIR}/test/run-emulator --emulator qemu --bare-multiboot
            --kernel ${HV_GUEST_DIR}/${V_GUEST}.mb --qemu-cpu ${V_QEMU_CPU} --mem ${HV_GUEST_MEM_MIB}
            --timeout 60 --log ${logs}/qemu.${name}_bare.log)
  set_tests_properties(qemu.${name}_bare PROPERTIES LABELS "${qemu_labels}" TIMEOUT 120
                       FIXTURES_SETUP ${short}_bare)
  set(bochs_logs)
  set(bochs_fixtures)
  if(V_BOCHS_BARE)
    add_test(NAME bochs.${name}_bare
      COMMAND ${CMAKE_SOURCE_DIR}/test/run-emulator --emulator bochs --bare-multiboot
              --kernel ${HV_GUEST_DIR}/${V_GUEST}.mb --bochs-cpu ${HV_BOCHS_CPU} --mem ${HV_GUEST_MEM_MIB}
              --timeout 120 --log ${logs}/bochs.${name}_bare.log)
    set_tests_properties(bochs.${name}_bare PROPERTIES LABELS "${bochs_labels}" TIMEOUT 180
                         FIXTURES_SETUP bochs_${short}_bare)
    list(APPEND bochs_logs ${logs}/bochs.${name}_bare.log)
    list(APPEND bochs_fixtures bochs_${short}_bare)
  endif()

  foreach(mode nested shadow)
    set(npt)
    if(mode STREQUAL "nested")
      set(npt npt)
    endif()
    hv_emulator_test(${name}_${mode} INIT pagingtest
                     DATA_MODULES ${HV_GUEST_DIR}/${V_GUEST}.bin:${V_GUEST}
                                  ${CMAKE_SOURCE_DIR}/test/data/vmmode_${mode}.txt:vmmode
                     QEMU_CPU ${V_QEMU_CPU} LABELS vcpu vtlb ${npt} ${V_LABELS})
    set_tests_properties(qemu.${name}_${mode} PROPERTIES FIXTURES_SETUP ${short}_${mode})
    set_tests_properties(bochs.${name}_${mode} PROPERTIES FIXTURES_SETUP bochs_${short}_${mode})
    list(APPEND bochs_logs ${logs}/bochs.${name}_${mode}.log)
    list(APPEND bochs_fixtures bochs_${short}_${mode})
  endforeach()

  add_test(NAME ${name}_table_bare_vs_vm
    COMMAND ${CMAKE_SOURCE_DIR}/test/compare-table ${logs}/qemu.${name}_bare.log
            ${logs}/qemu.${name}_nested.log ${logs}/qemu.${name}_shadow.log)
  set_tests_properties(${name}_table_bare_vs_vm PROPERTIES LABELS "${qemu_labels}"
                       FIXTURES_REQUIRED "${short}_bare;${short}_nested;${short}_shadow")
  add_test(NAME ${name}_table_bochs
    COMMAND ${CMAKE_SOURCE_DIR}/test/compare-table ${logs}/qemu.${name}_bare.log ${bochs_logs})
  set_tests_properties(${name}_table_bochs PROPERTIES LABELS "${bochs_labels}"
                       FIXTURES_REQUIRED "${short}_bare;${bochs_fixtures}")
endfunction()
