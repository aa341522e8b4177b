/* SPDX-License-Identifier: MIT */
/* quitter: init's restart-policy test server: exits at once with QUIT_CODE (0: a clean exit). */
#include <stdio.h>
#include <stdlib.h>

#ifndef QUIT_CODE
#define QUIT_CODE 0
#endif

int main(void)
{
    printf("quitter: exiting with code %d\n", QUIT_CODE);
    fflush(stdout);
    exit(QUIT_CODE);
}
