/* Attacks on the mount helper from a container's root (issue 11, items 1 and 8), for
 * tests/hostile/test_mount_helper.py. Prints one line of figures.
 *
 *   mount_helper_probe steal DIR ROUNDS
 *     4 threads mount a procfs on DIR/0..3 and unmount it, ROUNDS times each, naming
 *     their pid namespace (pidns=/proc/self/ns/pid): for such a call (as for every
 *     procfs before Linux 6.18) the helper forks a child into our pid namespace to make
 *     it. Meanwhile a thread tries on every process it did not start (those that
 *     appear: the helpers' children) PTRACE_ATTACH, pidfd_getfd of fds 0..15 and opening
 *     /proc/PID/fd and /proc/PID/root, and counts what succeeds. A child of ours (same
 *     credentials, dumpable) gets the same attacks first: they must work on it.
 *
 *   mount_helper_probe race DIR ROUNDS
 *     One thread mounts a procfs on DIR ROUNDS times (never unmounting: they stack) while
 *     another flips the process's effective uid between 0 and 1000 (glibc's seteuid
 *     changes every thread's, signalling each out of a blocked call, which the kernel
 *     then restarts), for at most FLIP_SECONDS: a call restarted faster than a helper
 *     acts never ends while the flipping goes on (its process's own doing). Then counts
 *     the procfs mounts on DIR: each must be one the mounting thread saw succeed. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MOUNTERS 4
#define MAX_KNOWN 4096

static const char* dir;
static long rounds;
static atomic_int mounting;
static atomic_long mounts_ok, mounts_failed, seen, nobody_owned, ptrace_ok, getfd_ok, procfs_ok;
static pid_t known[MAX_KNOWN];
static int known_count;

static int is_known(pid_t pid) {
    for (int i = 0; i < known_count; ++i)
        if (known[i] == pid) return 1;
    return 0;
}

static void each_pid(void (*fn)(pid_t)) {
    DIR* d = opendir("/proc");
    if (!d) return;
    for (struct dirent* e; (e = readdir(d));) {
        char* end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end == 0 && pid > 0) fn((pid_t)pid);
    }
    closedir(d);
}

static void remember(pid_t pid) {
    if (known_count < MAX_KNOWN) known[known_count++] = pid;
}

/* Every attack on one process; the number that worked. */
static long attack(pid_t pid) {
    long worked = 0;
    char path[64];
    struct stat st;
    /* A non-dumpable process's /proc files (not its directory) belong to the root of
     * the user namespace it was exec'd in: the host's for a helper, unmapped here. */
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    if (stat(path, &st) == 0 && st.st_uid != 0) atomic_fetch_add(&nobody_owned, 1);
    if (ptrace(PTRACE_ATTACH, pid, 0, 0) == 0) {
        atomic_fetch_add(&ptrace_ok, 1), ++worked;
        waitpid(pid, NULL, __WALL);
        ptrace(PTRACE_DETACH, pid, 0, 0);
    }
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    for (int fd = 0; pidfd >= 0 && fd < 16; ++fd) {
        int taken = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
        if (taken >= 0) atomic_fetch_add(&getfd_ok, 1), ++worked, close(taken);
    }
    if (pidfd >= 0) close(pidfd);
    const char* entries[] = {"fd", "root", "cwd"};
    for (int i = 0; i < 3; ++i) {
        snprintf(path, sizeof path, "/proc/%d/%s", pid, entries[i]);
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0) atomic_fetch_add(&procfs_ok, 1), ++worked, close(fd);
    }
    return worked;
}

static void attack_if_new(pid_t pid) {
    if (is_known(pid)) return;
    remember(pid);  /* once each */
    atomic_fetch_add(&seen, 1);
    attack(pid);
}

static void* watcher(void* unused) {
    (void)unused;
    while (atomic_load(&mounting) > 0) each_pid(attack_if_new);
    return NULL;
}

static void* mounter(void* arg) {
    char target[4096];
    snprintf(target, sizeof target, "%s/%ld", dir, (long)arg);
    mkdir(target, 0755);
    for (long i = 0; i < rounds; ++i) {
        if (mount("proc", target, "proc", 0, "pidns=/proc/self/ns/pid") == 0) {
            atomic_fetch_add(&mounts_ok, 1);
            umount2(target, MNT_DETACH);
        } else {
            atomic_fetch_add(&mounts_failed, 1);
        }
    }
    atomic_fetch_sub(&mounting, 1);
    return NULL;
}

/* The attacks must work on a process they are allowed on: a child of ours. */
static long control(void) {
    pid_t child = fork();
    if (child == 0) {
        pause();
        _exit(0);
    }
    long worked = attack(child);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    atomic_store(&ptrace_ok, 0), atomic_store(&getfd_ok, 0), atomic_store(&procfs_ok, 0);
    atomic_store(&nobody_owned, 0);
    return worked;
}

static int steal(void) {
    long control_worked = control();
    mkdir(dir, 0755);
    each_pid(remember);
    pthread_t threads[MOUNTERS + 1];
    atomic_store(&mounting, MOUNTERS);
    for (long i = 0; i < MOUNTERS; ++i) pthread_create(&threads[i], NULL, mounter, (void*)i);
    pthread_create(&threads[MOUNTERS], NULL, watcher, NULL);
    for (int i = 0; i <= MOUNTERS; ++i) pthread_join(threads[i], NULL);
    printf("control=%ld mounts_ok=%ld mounts_failed=%ld helpers_seen=%ld nobody_owned=%ld ptrace_ok=%ld "
           "getfd_ok=%ld procfs_ok=%ld\n",
           control_worked, atomic_load(&mounts_ok), atomic_load(&mounts_failed), atomic_load(&seen),
           atomic_load(&nobody_owned), atomic_load(&ptrace_ok), atomic_load(&getfd_ok), atomic_load(&procfs_ok));
    return 0;
}

#define FLIP_SECONDS 5

static atomic_long flips, refused, other, other_errno;

static void* flipper(void* unused) {
    (void)unused;
    time_t end = time(NULL) + FLIP_SECONDS;
    while (atomic_load(&mounting) > 0 && time(NULL) < end) {
        if (seteuid(1000) == 0 && seteuid(0) == 0) atomic_fetch_add(&flips, 1);
    }
    return NULL;
}

/* Procfs mounts whose mount point is DIR, in our mountinfo. */
static long procfs_on(const char* path) {
    FILE* f = fopen("/proc/self/mountinfo", "r");
    long count = 0;
    char line[8192];
    while (f && fgets(line, sizeof line, f)) {
        char point[4096];
        if (sscanf(line, "%*s %*s %*s %*s %4095s", point) != 1) continue;
        const char* type = strstr(line, " - ");
        if (strcmp(point, path) == 0 && type && strncmp(type + 3, "proc ", 5) == 0) ++count;
    }
    if (f) fclose(f);
    return count;
}

static int race(void) {
    mkdir(dir, 0755);
    atomic_store(&mounting, 1);
    pthread_t flip;
    pthread_create(&flip, NULL, flipper, NULL);
    for (long i = 0; i < rounds; ++i) {
        int r = mount("proc", dir, "proc", 0, NULL);
        if (r == 0) atomic_fetch_add(&mounts_ok, 1);
        else if (errno == EPERM) atomic_fetch_add(&refused, 1);
        else {
            atomic_fetch_add(&other, 1);
            atomic_store(&other_errno, errno);
        }
    }
    atomic_store(&mounting, 0);
    pthread_join(flip, NULL);
    long found = procfs_on(dir);
    printf("attempts=%ld ok=%ld refused=%ld other=%ld other_errno=%ld flips=%ld found=%ld\n", rounds,
           atomic_load(&mounts_ok), atomic_load(&refused), atomic_load(&other), atomic_load(&other_errno),
           atomic_load(&flips), found);
    while (umount2(dir, MNT_DETACH) == 0) {
    }
    return 0;
}

int main(int argc, char** argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: mount_helper_probe steal|race DIR ROUNDS\n");
        return 2;
    }
    dir = argv[2];
    rounds = strtol(argv[3], NULL, 10);
    if (strcmp(argv[1], "steal") == 0) return steal();
    if (strcmp(argv[1], "race") == 0) return race();
    return 2;
}
