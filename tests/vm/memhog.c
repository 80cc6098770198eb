/* memhog MiB [ms]: allocate and touch MiB mebibytes in 16 MiB steps, sleeping ms
 * milliseconds after each step (so that a sampler sees memory rise), printing progress.
 * Inside a cgroup with a smaller memory.max and no swap it is OOM-killed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(int argc, char** argv) {
    long mib = argc > 1 ? atol(argv[1]) : 400, ms = argc > 2 ? atol(argv[2]) : 0, done = 0;
    struct timespec pause = {ms / 1000, (ms % 1000) * 1000000L};
    while (done < mib) {
        char* p = malloc(16 << 20);
        if (!p) {
            printf("memhog: malloc failed at %ld MiB\n", done);
            return 1;
        }
        memset(p, 0xa5, 16 << 20);
        done += 16;
        if (done % 64 == 0) {
            printf("memhog: touched %ld MiB\n", done);
            fflush(stdout);
        }
        if (ms > 0) nanosleep(&pause, NULL);
    }
    printf("memhog: survived %ld MiB\n", done);
    return 0;
}
