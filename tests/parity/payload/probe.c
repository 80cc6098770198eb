/* probe: one syscall-level operation, done from the main thread or from other threads,
 * for the parity workloads (tests/parity; built with gcc -static by the harness and
 * bound read-only at /parity/probe in every container).
 *
 *   probe [WHERE] OP [ARGS...]
 *
 * WHERE:
 *   --main        (default) the main thread does OP
 *   --thread      a second thread does OP while the main thread waits for it
 *   --orphan      a second thread does OP after the main thread has exited
 *   --threads N   N threads do OP at once; prints each distinct outcome with its count
 * OP:
 *   sysinfo                  sysinfo(2); prints its fields
 *   mount-proc DIR           mount("proc", DIR, "proc", 0, NULL)
 *   mount-sysfs DIR          mount("sysfs", DIR, "sysfs", MS_RDONLY, NULL)
 *   bind SRC DST             mount(SRC, DST, NULL, MS_BIND, NULL)
 *   rbind SRC DST            mount(SRC, DST, NULL, MS_BIND|MS_REC, NULL)
 *   move SRC DST             mount(SRC, DST, NULL, MS_MOVE, NULL)
 *   umount DIR               umount2(DIR, 0)
 *   umount-lazy DIR          umount2(DIR, MNT_DETACH)
 *   read PATH                open + read(2) up to 64 KiB; prints the bytes
 *   write PATH TEXT          open O_WRONLY + write(2) of TEXT
 *   fsopen FSTYPE            fsopen(2) (the new mount API), the fd closed again
 *
 * Output: one line "OP: ok" or "OP: ERRNONAME" (then sysinfo's fields or the bytes
 * read). Exit status 0 if OP succeeded (every thread's, for --threads), 1 if not, 2 on
 * bad usage.
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

enum { MAX_THREADS = 64, MAX_READ = 65536 };

struct op {
    const char* name;
    char** args;
    int nargs;
};

/* What one execution of an op produced: its errno (0: ok) and its text. */
struct result {
    int err;
    char text[MAX_READ + 1024];
};

static const char* errname(int err) {
    const char* n = strerrorname_np(err);
    return n ? n : "E?";
}

static int do_sysinfo(struct result* r) {
    struct sysinfo s;
    memset(&s, 0, sizeof s);
    if (sysinfo(&s) != 0) return errno;
    snprintf(r->text, sizeof r->text,
             "uptime=%ld\nloads=%lu %lu %lu\ntotalram=%lu\nfreeram=%lu\nsharedram=%lu\nbufferram=%lu\n"
             "totalswap=%lu\nfreeswap=%lu\nprocs=%u\ntotalhigh=%lu\nfreehigh=%lu\nmem_unit=%u\n",
             s.uptime, s.loads[0], s.loads[1], s.loads[2], s.totalram, s.freeram, s.sharedram, s.bufferram,
             s.totalswap, s.freeswap, s.procs, s.totalhigh, s.freehigh, s.mem_unit);
    return 0;
}

static int do_read(const char* path, struct result* r) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    ssize_t n = read(fd, r->text, MAX_READ);
    int err = n < 0 ? errno : 0;
    close(fd);
    if (n >= 0) r->text[n] = '\0';
    return err;
}

static int do_write(const char* path, const char* text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    ssize_t n = write(fd, text, strlen(text));
    int err = n < 0 ? errno : 0;
    close(fd);
    return err;
}

static int check(int rc) { return rc == 0 ? 0 : errno; }

static int do_fsopen(const char* fstype) {
    long fd = syscall(SYS_fsopen, fstype, 0);
    if (fd < 0) return errno;
    close((int)fd);
    return 0;
}

/* The ops and how many arguments each takes. */
static const struct {
    const char* name;
    int nargs;
} ops[] = {{"sysinfo", 0}, {"mount-proc", 1}, {"mount-sysfs", 1}, {"bind", 2}, {"rbind", 2}, {"move", 2},
           {"umount", 1},  {"umount-lazy", 1}, {"read", 1},       {"write", 2},
           {"fsopen", 1}};

static int valid(const struct op* o) {
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (!strcmp(ops[i].name, o->name)) return ops[i].nargs == o->nargs;
    return 0;
}

/* Runs a valid op; returns its errno (0: ok). */
static int run(const struct op* o, struct result* r) {
    r->text[0] = '\0';
    const char* n = o->name;
    char** a = o->args;
    if (!strcmp(n, "sysinfo")) return do_sysinfo(r);
    if (!strcmp(n, "mount-proc")) return check(mount("proc", a[0], "proc", 0, NULL));
    if (!strcmp(n, "mount-sysfs")) return check(mount("sysfs", a[0], "sysfs", MS_RDONLY, NULL));
    if (!strcmp(n, "bind")) return check(mount(a[0], a[1], NULL, MS_BIND, NULL));
    if (!strcmp(n, "rbind")) return check(mount(a[0], a[1], NULL, MS_BIND | MS_REC, NULL));
    if (!strcmp(n, "move")) return check(mount(a[0], a[1], NULL, MS_MOVE, NULL));
    if (!strcmp(n, "umount")) return check(umount2(a[0], 0));
    if (!strcmp(n, "umount-lazy")) return check(umount2(a[0], MNT_DETACH));
    if (!strcmp(n, "read")) return do_read(a[0], r);
    if (!strcmp(n, "fsopen")) return do_fsopen(a[0]);
    return do_write(a[0], a[1]);
}

static void print_result(const struct op* o, const struct result* r) {
    printf("%s: %s\n", o->name, r->err ? errname(r->err) : "ok");
    if (!r->err) fputs(r->text, stdout);
}

/* ---- where the op runs ---------------------------------------------------------- */

struct job {
    const struct op* op;
    struct result result;
    pthread_t main_thread;
};

static void* thread_main(void* arg) {
    struct job* j = arg;
    j->result.err = run(j->op, &j->result);
    return NULL;
}

/* --orphan: wait until the main thread is gone, then act, print and exit. */
static void* orphan_main(void* arg) {
    struct job* j = arg;
    pthread_join(j->main_thread, NULL);
    j->result.err = run(j->op, &j->result);
    print_result(j->op, &j->result);
    fflush(stdout);
    exit(j->result.err == 0 ? 0 : 1);
}

static int usage(void) {
    fputs("usage: probe [--main|--thread|--orphan|--threads N] OP [ARGS...]\n", stderr);
    return 2;
}

static int in_threads(const struct op* o, int count) {
    static struct job jobs[MAX_THREADS];
    pthread_t threads[MAX_THREADS];
    for (int i = 0; i < count; i++) {
        jobs[i].op = o;
        if (pthread_create(&threads[i], NULL, thread_main, &jobs[i]) != 0) return perror("pthread_create"), 2;
    }
    for (int i = 0; i < count; i++) pthread_join(threads[i], NULL);
    /* Each distinct outcome once with its count: ok first, then the errnos in order. */
    int failed = 0;
    for (int err = 0; err < 4096; err++) {
        int same = 0;
        for (int k = 0; k < count; k++) same += jobs[k].result.err == err;
        if (!same) continue;
        printf("%s: %d of %d threads: %s\n", o->name, same, count, err ? errname(err) : "ok");
        failed |= err != 0;
    }
    return failed;
}

int main(int argc, char** argv) {
    setvbuf(stdout, NULL, _IOFBF, 1 << 17);
    int i = 1;
    const char* where = "--main";
    int count = 1;
    if (i < argc && !strncmp(argv[i], "--", 2)) {
        where = argv[i++];
        if (!strcmp(where, "--threads")) {
            if (i >= argc) return usage();
            count = atoi(argv[i++]);
            if (count < 1 || count > MAX_THREADS) return usage();
        }
    }
    if (i >= argc) return usage();
    struct op o = {argv[i], argv + i + 1, argc - i - 1};
    if (!valid(&o)) return usage();
    static struct job job;
    job.op = &o;
    if (!strcmp(where, "--main")) {
        job.result.err = run(&o, &job.result);
    } else if (!strcmp(where, "--thread")) {
        pthread_t t;
        if (pthread_create(&t, NULL, thread_main, &job) != 0) return perror("pthread_create"), 2;
        pthread_join(t, NULL);
    } else if (!strcmp(where, "--orphan")) {
        pthread_t t;
        job.main_thread = pthread_self();
        if (pthread_create(&t, NULL, orphan_main, &job) != 0) return perror("pthread_create"), 2;
        fflush(stdout);
        pthread_exit(NULL);
    } else if (!strcmp(where, "--threads")) {
        return in_threads(&o, count);
    } else {
        return usage();
    }
    print_result(&o, &job.result);
    return job.result.err == 0 ? 0 : 1;
}
