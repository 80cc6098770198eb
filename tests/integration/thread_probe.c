/* thread_probe: one trapped or namespaced call made from a chosen thread, for the tests of
 * calls from threads other than the main one (built with gcc -static -pthread by
 * tests/integration/test_threads.py and run inside containers).
 *
 *   thread_probe WHERE sysinfo               prints key=value lines as sysinfo_probe does
 *   thread_probe WHERE read PATH             prints the file's content
 *   thread_probe WHERE mount FSTYPE TARGET   mount(FSTYPE, TARGET, FSTYPE, 0, NULL)
 *   thread_probe WHERE bind SOURCE TARGET    mount(SOURCE, TARGET, NULL, MS_BIND, NULL)
 *   thread_probe WHERE umount TARGET         umount2(TARGET, 0)
 *
 * WHERE: "main" (the main thread), "thread" (a second thread, the main one waiting for
 * it) or "orphan" (a second thread, after the main thread called pthread_exit: the
 * thread group's leader is a zombie then, and /proc/PID/ns/ of the process is gone).
 * A failed call prints "error=ERRNO text"; the exit status is 0 unless the usage is wrong.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <unistd.h>

static int argc_;
static char** argv_;

static void print_error(void) { printf("error=%d %s\n", errno, strerror(errno)); }

static void do_sysinfo(void) {
    struct sysinfo s;
    memset(&s, 0xff, sizeof s);
    if (sysinfo(&s) != 0) return print_error();
    printf("uptime=%ld\nloads=%lu %lu %lu\n", s.uptime, s.loads[0], s.loads[1], s.loads[2]);
    printf("totalram=%lu\nfreeram=%lu\ntotalswap=%lu\nprocs=%u\nmem_unit=%u\n", s.totalram, s.freeram,
           s.totalswap, s.procs, s.mem_unit);
}

static void do_read(const char* path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return print_error();
    char buf[65536];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) print_error();
    else fwrite(buf, 1, (size_t)n, stdout);
    close(fd);
}

static void print_result(int rc) {
    if (rc != 0) print_error();
    else printf("ok\n");
}

static int run(void) {
    const char* op = argv_[2];
    if (strcmp(op, "sysinfo") == 0 && argc_ == 3) do_sysinfo();
    else if (strcmp(op, "read") == 0 && argc_ == 4) do_read(argv_[3]);
    else if (strcmp(op, "mount") == 0 && argc_ == 5) print_result(mount(argv_[3], argv_[4], argv_[3], 0, NULL));
    else if (strcmp(op, "bind") == 0 && argc_ == 5) print_result(mount(argv_[3], argv_[4], NULL, MS_BIND, NULL));
    else if (strcmp(op, "umount") == 0 && argc_ == 4) print_result(umount2(argv_[3], 0));
    else return 2;
    fflush(stdout);
    return 0;
}

/* The leader's state letter in /proc/PID/stat ('Z' once it called pthread_exit). */
static char leader_state(void) {
    char path[64], text[512];
    snprintf(path, sizeof path, "/proc/%d/stat", getpid());
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return '?';
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0) return '?';
    text[n] = '\0';
    char* paren = strrchr(text, ')');
    return paren && paren[1] == ' ' ? paren[2] : '?';
}

static void* worker(void* orphan) {
    if (orphan) {
        for (int i = 0; i < 5000 && leader_state() != 'Z'; ++i) usleep(1000);
        if (leader_state() != 'Z') {
            printf("error=0 the main thread did not exit\n");
            exit(0);
        }
    }
    if (syscall(SYS_gettid) == getpid()) {
        printf("error=0 not a second thread\n");
        exit(0);
    }
    exit(run());
}

int main(int argc, char** argv) {
    argc_ = argc, argv_ = argv;
    if (argc < 3) {
        fprintf(stderr, "usage: thread_probe main|thread|orphan sysinfo|read|mount|bind|umount ARGS...\n");
        return 2;
    }
    const char* where = argv[1];
    if (strcmp(where, "main") == 0) return run();
    int orphan = strcmp(where, "orphan") == 0;
    if (!orphan && strcmp(where, "thread") != 0) return 2;
    pthread_t t;
    if (pthread_create(&t, NULL, worker, orphan ? (void*)1 : NULL) != 0) return perror("pthread_create"), 2;
    if (orphan) pthread_exit(NULL);
    pthread_join(t, NULL);
    return 0;
}
