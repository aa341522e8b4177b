/* SPDX-License-Identifier: MIT */
/* run_isolated: a host unit test's step run in a child process, so a sanitizer abort fails one test, not the binary. */
#ifndef HV_TEST_UNIT_RUN_ISOLATED_H
#define HV_TEST_UNIT_RUN_ISOLATED_H

#include <stdio.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* fn's exit status in a child; 128 + the signal that ended it; -1 if no child ran. */
static inline int run_isolated(int (*fn)(void))
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0)
        _exit(fn());
    int status = 0;
    if (waitpid(pid, &status, 0) != pid)
        return -1;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

#endif
