/* SPDX-License-Identifier: MIT */
/* hv_manifest_check: build-time tool: decodes an encoded manifest and runs manifest_check() on it. */
#include <stdio.h>
#include <stdlib.h>

#include "hv/manifest_check.h"

/* Larger than any valid manifest can encode to, so a longer file is rejected as such. */
#define MANIFEST_FILE_MAX ((size_t)1 << 20)

int main(int argc, char **argv)
{
    if (argc != 2 && argc != 3) {
        fprintf(stderr, "usage: hv_manifest_check MANIFEST.bin [NAME-IN-MESSAGES]\n");
        return 2;
    }
    const char *path = argv[1];
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return 1;
    }
    if (argc == 3) {
        path = argv[2];     /* e.g. the text manifest the file was encoded from */
    }
    static uint8_t buf[MANIFEST_FILE_MAX + 1];
    size_t len = fread(buf, 1, sizeof(buf), f);
    int read_error = ferror(f);
    (void)fclose(f);
    if (read_error != 0) {
        fprintf(stderr, "%s: read error\n", path);
        return 1;
    }
    if (len > MANIFEST_FILE_MAX) {
        fprintf(stderr, "%s: larger than %zu bytes\n", path, MANIFEST_FILE_MAX);
        return 1;
    }

    static hv_manifest_Manifest m;
    const char *detail = NULL;
    if (!manifest_decode(buf, len, &m, &detail)) {
        fprintf(stderr, "%s: not a valid manifest within proto/manifest.options bounds: %s\n",
                path, detail);
        return 1;
    }
    char err[HV_MANIFEST_ERR_MAX];
    const char *problem = manifest_check(&m, err, sizeof(err));
    if (problem != NULL) {
        fprintf(stderr, "%s: %s\n", path, problem);
        return 1;
    }
    return 0;
}
