/* SPDX-License-Identifier: Apache-2.0 */
/* Replays files (or every file of directories) through a fuzz target without libFuzzer, so
 * that make check runs each seed corpus under any compiler (and under the sanitizer build).
 *   rts_fuzz_replay TARGET FILE|DIR...   */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "fuzz_common.h"

static const struct {
    const char *name;
    int (*fn)(const uint8_t *, size_t);
} targets[] = {
    {"jws", rts_fuzz_jws},
    {"jwks", rts_fuzz_jwks},
    {"token_response", rts_fuzz_token_response},
    {"session", rts_fuzz_session},
    {"cookie", rts_fuzz_cookie},
    {"return_url", rts_fuzz_return_url},
    {"form", rts_fuzz_form},
    {"provider_meta", rts_fuzz_provider_meta},
    {"logout", rts_fuzz_logout},
};

static int (*target)(const uint8_t *, size_t);

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    long n;

    if (!f) {
        perror(path);
        return 1;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return 1;
    }
    buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        fclose(f);
        return 1;
    }
    fclose(f);
    target(buf, (size_t)n);
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    int i, files = 0, failed = 0;
    size_t t;

    for (t = 0; argc > 1 && t < sizeof(targets) / sizeof(targets[0]); t++) {
        if (!strcmp(argv[1], targets[t].name)) {
            target = targets[t].fn;
        }
    }
    if (!target) {
        fprintf(stderr, "usage: %s TARGET FILE|DIR...\n", argv[0]);
        return 2;
    }
    for (i = 2; i < argc; i++) {
        struct stat st;
        DIR *d;
        struct dirent *e;

        if (stat(argv[i], &st) != 0) {
            perror(argv[i]);
            return 1;
        }
        if (!S_ISDIR(st.st_mode)) {
            failed += replay_file(argv[i]);
            files++;
            continue;
        }
        if (!(d = opendir(argv[i]))) {
            perror(argv[i]);
            return 1;
        }
        while ((e = readdir(d)) != NULL) {
            char path[4096];

            if (e->d_name[0] == '.') {
                continue;
            }
            snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
            failed += replay_file(path);
            files++;
        }
        closedir(d);
    }
    printf("%s: replayed %d inputs\n", argv[1], files);
    /* An empty corpus is a broken setup, not a pass. */
    return failed || files == 0 ? 1 : 0;
}
