/* A reader's latency, and a flood of readers, for tests/hostile.
 *   read_latency measure FILE COUNT         COUNT reads of FILE (open, read to the end,
 *                                           close), one at a time: prints the median and
 *                                           90th percentile in microseconds
 *   read_latency flood STOP THREADS FILE...  THREADS threads read the FILEs (thread i the
 *                                           (i mod n)th) in a loop until the file STOP
 *                                           exists (at most a minute), having made
 *                                           STOP.ready once they run: prints the reads
 *                                           done and the failures */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

/* 0, or -1 when the open or a read failed. */
static int read_whole(const char* path) {
    char buf[65536];
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
    }
    close(fd);
    return n < 0 ? -1 : 0;
}

static int by_value(const void* a, const void* b) {
    double x = *(const double*)a, y = *(const double*)b;
    return (x > y) - (x < y);
}

static int measure(const char* path, long count) {
    double* took = calloc((size_t)count, sizeof *took);
    long failed = 0;
    for (long i = 0; i < count; ++i) {
        double start = now_us();
        if (read_whole(path) != 0) ++failed;
        took[i] = now_us() - start;
    }
    qsort(took, (size_t)count, sizeof *took, by_value);
    printf("median_us=%.1f p90_us=%.1f failed=%ld\n", took[count / 2], took[count * 9 / 10], failed);
    free(took);
    return failed ? 1 : 0;
}

struct flood_arg {
    const char* path;
    const char* stop;
    double until;
    long reads, failed;
};

static void* flood_thread(void* p) {
    struct flood_arg* a = p;
    for (;;) {
        if (a->reads % 64 == 0 && (access(a->stop, F_OK) == 0 || now_us() >= a->until)) break;
        if (read_whole(a->path) != 0) ++a->failed;
        ++a->reads;
    }
    return NULL;
}

static int flood(const char* stop, int threads, char** files, int nfiles) {
    pthread_t ids[256];
    struct flood_arg args[256];
    if (threads < 1 || threads > 256) return 2;
    double until = now_us() + 60e6;
    for (int i = 0; i < threads; ++i) {
        args[i] = (struct flood_arg){files[i % nfiles], stop, until, 0, 0};
        if (pthread_create(&ids[i], NULL, flood_thread, &args[i]) != 0) return 2;
    }
    char ready[4096];
    snprintf(ready, sizeof ready, "%s.ready", stop);
    int fd = open(ready, O_CREAT | O_WRONLY, 0644);
    if (fd >= 0) close(fd);
    long reads = 0, failed = 0;
    for (int i = 0; i < threads; ++i) {
        pthread_join(ids[i], NULL);
        reads += args[i].reads;
        failed += args[i].failed;
    }
    printf("reads=%ld failed=%ld\n", reads, failed);
    return 0;
}

int main(int argc, char** argv) {
    if (argc == 4 && strcmp(argv[1], "measure") == 0) return measure(argv[2], strtol(argv[3], NULL, 10));
    if (argc >= 5 && strcmp(argv[1], "flood") == 0)
        return flood(argv[2], (int)strtol(argv[3], NULL, 10), argv + 4, argc - 4);
    fprintf(stderr, "usage: read_latency measure FILE COUNT | flood STOP THREADS FILE...\n");
    return 2;
}
