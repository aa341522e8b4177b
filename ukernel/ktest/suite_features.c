/* SPDX-License-Identifier: MIT */
/* suite features: the virtualization features the emulator offers are detected. */
#include "../arch/x86_64/cpu_features.h"
#include "../lib/kstring.h"
#include "ktest.h"

KTEST_SUITE(features)
{
    const struct cpu_features *f = cpu_features();
    char expect[16] = "";
    bool have = bootinfo_cmdline_get(bi, "expect_virt", expect, sizeof(expect));
    ktest_check(have && (strcmp(expect, "svm") == 0 || strcmp(expect, "vmx") == 0),
                "harness_gave_expected_virt", "expect_virt='%s'", expect);
    ktest_check(f->nx && f->apic, "nx_and_apic", "nx=%d apic=%d", f->nx, f->apic);

    if (strcmp(expect, "svm") == 0) {
        ktest_check(strcmp(f->vendor, "AuthenticAMD") == 0, "vendor_amd", "vendor %s", f->vendor);
        ktest_check(f->svm.supported && !f->svm.disabled_by_bios, "svm_usable",
                    "supported=%d disabled=%d", f->svm.supported, f->svm.disabled_by_bios);
        ktest_check(f->svm.npt, "svm_nested_paging", "NPT not reported");
        ktest_check(f->svm.asids >= 2, "svm_asids", "%u ASIDs", f->svm.asids);
        ktest_check(!f->vmx.supported, "no_vmx_on_amd", "VMX reported on an SVM CPU");
    } else if (strcmp(expect, "vmx") == 0) {
        ktest_check(strcmp(f->vendor, "GenuineIntel") == 0, "vendor_intel", "vendor %s",
                    f->vendor);
        ktest_check(f->vmx.supported && !f->vmx.locked_off, "vmx_usable",
                    "supported=%d locked_off=%d", f->vmx.supported, f->vmx.locked_off);
        ktest_check(f->vmx.secondary_controls && f->vmx.ept && f->vmx.ept_4level, "vmx_ept",
                    "secondary=%d ept=%d 4level=%d", f->vmx.secondary_controls, f->vmx.ept,
                    f->vmx.ept_4level);
        ktest_check(f->vmx.unrestricted_guest, "vmx_unrestricted_guest", "not reported");
        ktest_check(f->vmx.vmcs_size > 0 && f->vmx.vmcs_size <= 4096, "vmcs_size",
                    "VMCS size %u", f->vmx.vmcs_size);
        ktest_check(!f->svm.supported, "no_svm_on_intel", "SVM reported on a VMX CPU");
    }
}
