/* The seccomp trapper's mount work on an older kernel (Debian 12's 6.1 under qemu:
 * scripts/vm-trapper-test.sh). Before Linux 6.15 nothing can be mounted on, or cloned
 * from, a detached mount, and before 6.9 pidfd_open takes no thread id: the mount
 * helper's fallbacks and its reach of a caller thread run here, as a container's
 * process sees them.
 *
 * Run as root in the guest with the daemon up (control socket /tmp/ecifs.sock, seccomp
 * listener /tmp/seccomp.sock): it prepares container "vm61" with masks, starts it with
 * itself as the init, binds four views over /proc and /sys in a private mount namespace,
 * traps its own mount(2) and umount2(2) with a listener handed to the daemon, then
 * mounts and unmounts as a container would, from the main thread, a second thread and a
 * thread whose main thread has exited, and a procfs from inside a new pid namespace
 * (6.1 has no procfs pidns=: the helper's fallback). Prints CHECK ok|FAIL lines and
 * PROBE PASS|FAIL. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static int fails;
static void check(int ok, const char* what) {
    printf("CHECK %s %s\n", ok ? "ok" : "FAIL", what);
    if (!ok) fails++;
    fflush(stdout);
}

static int connect_to(const char* path) {
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    if (connect(s, (struct sockaddr*)&a, sizeof a) != 0) { perror("connect"); exit(2); }
    return s;
}
static void request(const char* json, char* reply, size_t size) {
    int s = connect_to("/tmp/ecifs.sock");
    write(s, json, strlen(json));
    ssize_t n = 0, r;
    while ((r = read(s, reply + n, size - 1 - (size_t)n)) > 0) { n += r; if (memchr(reply, '\n', (size_t)n)) break; }
    reply[n > 0 ? n : 0] = 0;
    close(s);
}
static char* mountinfo(void) {
    static char buf[1 << 16];
    int fd = open("/proc/thread-self/mountinfo", O_RDONLY);
    ssize_t n = 0, r;
    while ((r = read(fd, buf + n, sizeof buf - 1 - (size_t)n)) > 0) n += r;
    buf[n] = 0;
    close(fd);
    return buf;
}
static int mounted(const char* point, const char* fstype) {
    char needle[256];
    snprintf(needle, sizeof needle, " %s ", point);
    for (char* line = strtok(strdup(mountinfo()), "\n"); line; line = strtok(NULL, "\n"))
        if (strstr(line, needle) && (!fstype || strstr(line, fstype))) return 1;
    return 0;
}
static void handoff(const char* id) {
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_mount, 1, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_umount2, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof code / sizeof code[0], code};
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    int fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
    if (fd < 0) { perror("seccomp"); exit(2); }
    int sock = connect_to("/tmp/seccomp.sock");
    char json[1024];
    int n = snprintf(json, sizeof json,
                     "{\"ociVersion\":\"1.0.2\",\"fds\":[\"seccompFd\"],\"pid\":%d,"
                     "\"state\":{\"ociVersion\":\"1.0.2\",\"id\":\"%s\",\"status\":\"running\",\"pid\":%d}}",
                     getpid(), id, getpid());
    struct iovec iov = {json, (size_t)n};
    char control[CMSG_SPACE(sizeof(int))];
    memset(control, 0, sizeof control);
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET; c->cmsg_type = SCM_RIGHTS; c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
    if (sendmsg(sock, &msg, 0) != n) { perror("sendmsg"); exit(2); }
    close(fd);
    sleep(1);
}
static char leader_state(void) {
    char path[64], text[512];
    snprintf(path, sizeof path, "/proc/%d/stat", getpid());
    int fd = open(path, O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, text, sizeof text - 1) : -1;
    if (fd >= 0) close(fd);
    if (n <= 0) return '?';
    text[n] = 0;
    char* p = strrchr(text, ')');
    return p ? p[2] : '?';
}
static void* orphan(void* arg) {
    (void)arg;
    for (int i = 0; i < 5000 && leader_state() != 'Z'; ++i) usleep(1000);
    check(leader_state() == 'Z', "orphan: the main thread has exited");
    int fd = open("/proc/sys/kernel/hostname", O_RDONLY);
    char b[128] = {0};
    check(fd >= 0 && read(fd, b, sizeof b - 1) > 0, "orphan: namespaced sysctl read");
    printf("hostname: %s", b);
    mkdir("/tmp/o", 0755);
    check(mount("proc", "/tmp/o", "proc", 0, NULL) == 0, "orphan: mount -t proc");
    check(mounted("/tmp/o/meminfo", "fuse.ecifs"), "orphan: views on it");
    check(umount2("/tmp/o", 0) == 0, "orphan: umount it");
    printf("PROBE %s (%d failed)\n", fails ? "FAIL" : "PASS", fails);
    fflush(stdout);
    exit(fails != 0);
}
/* A procfs mounted in a new pid namespace is that namespace's. 6.1's procfs has no
 * pidns= (Linux 6.18), which it refuses as an unknown key (EINVAL): the helper forks into
 * the namespace to mount it, as before, and that child takes pid 2 there. */
static void new_pid_namespace(void) {
    int fs = (int)syscall(SYS_fsopen, "proc", 0);
    int ns = open("/proc/self/ns/pid", O_RDONLY);
    errno = 0;
    int rc = (int)syscall(SYS_fsconfig, fs, 5 /* FSCONFIG_SET_FD */, "pidns", NULL, ns);
    printf("fsconfig(proc, pidns=fd): %d %s\n", rc, strerror(errno));
    check(rc != 0 && errno == EINVAL, "no pidns= on this kernel: EINVAL");
    close(ns);
    close(fs);
    /* Not in this process: a process with another pid_for_children makes no threads. */
    pid_t outer = fork();
    if (outer == 0) {
        if (unshare(CLONE_NEWPID) != 0) _exit(10);
        pid_t init = fork();
        if (init == 0) {
            mkdir("/tmp/n", 0755);
            if (mount("proc", "/tmp/n", "proc", 0, NULL) != 0) _exit(11);
            char self[16] = {0};
            if (readlink("/tmp/n/self", self, sizeof self - 1) <= 0 || strcmp(self, "1") != 0) _exit(12);
            if (!mounted("/tmp/n/meminfo", "fuse.ecifs")) _exit(13);
            pid_t next = fork();
            if (next == 0) _exit(0);
            waitpid(next, NULL, 0);
            printf("new pid namespace: the next process is %d\n", (int)next);
            if (next != 3) _exit(14);
            _exit(umount2("/tmp/n", 0) == 0 ? 0 : 15);
        }
        int status = 0;
        waitpid(init, &status, 0);
        _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 16);
    }
    int status = 0;
    waitpid(outer, &status, 0);
    printf("new pid namespace: exit %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    check(WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "new pid namespace: its own procfs with views; the helper's child took pid 2");
}
static void* in_thread(void* arg) {
    (void)arg;
    mkdir("/tmp/t", 0755);
    check(mount("proc", "/tmp/t", "proc", 0, NULL) == 0, "thread: mount -t proc");
    check(mounted("/tmp/t/meminfo", "fuse.ecifs"), "thread: views on it");
    check(umount2("/tmp/t", 0) == 0, "thread: umount it");
    return NULL;
}
int main(void) {
    char reply[65536];
    request("{\"op\":\"prepare\",\"id\":\"vm61\",\"masked_paths\":[\"/proc/timer_list\",\"/proc/acpi\",\"/sys/firmware\"],"
            "\"readonly_paths\":[\"/proc/bus\",\"/proc/sys\"]}\n", reply, sizeof reply);
    printf("prepare: %.200s\n", reply);
    char* m = strstr(reply, "\"mount\":\"");
    if (!m) { printf("CHECK FAIL prepare\n"); return 1; }
    m += 9;
    *strchr(m, '"') = 0;
    char mount_dir[512];
    snprintf(mount_dir, sizeof mount_dir, "%s", m);
    char start[256];
    snprintf(start, sizeof start, "{\"op\":\"start\",\"id\":\"vm61\",\"pid\":%d}\n", getpid());
    request(start, reply, sizeof reply);
    printf("start: %s", reply);
    if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) { perror("unshare"); return 2; }
    const char* views[][2] = {{"proc/meminfo", "/proc/meminfo"}, {"proc/uptime", "/proc/uptime"},
                              {"proc/sys", "/proc/sys"}, {"sys/kernel", "/sys/kernel"}};
    for (size_t i = 0; i < 4; ++i) {
        char src[1024];
        snprintf(src, sizeof src, "%s/%s", mount_dir, views[i][0]);
        if (mount(src, views[i][1], NULL, MS_BIND, NULL) != 0) { printf("bind %s: %s\n", src, strerror(errno)); return 2; }
    }
    handoff("vm61");

    mkdir("/tmp/p", 0755);
    check(mount("proc", "/tmp/p", "proc", 0, NULL) == 0, "mount -t proc");
    check(mounted("/tmp/p/meminfo", "fuse.ecifs") && mounted("/tmp/p/sys", "fuse.ecifs"), "new procfs: views");
    check(mounted("/tmp/p/timer_list", NULL), "new procfs: masked timer_list");
    check(mounted("/tmp/p/bus", NULL), "new procfs: read-only bus");
    check(!mounted("/tmp/p/sys", "- proc "), "new procfs: no read-only bind over the /proc/sys view");
    check(mounted("/tmp/p/sys/kernel/ns_last_pid", "- proc "), "new procfs: the kernel's ns_last_pid over the view");
    int fd = open("/tmp/p/timer_list", O_RDONLY);
    char b[16];
    check(fd >= 0 && read(fd, b, sizeof b) == 0, "masked timer_list reads empty");
    close(fd);
    errno = 0;
    check(umount2("/proc/meminfo", 0) != 0 && errno == EBUSY, "a runtime view is busy");
    mkdir("/tmp/b", 0755);
    check(mount("/proc", "/tmp/b", NULL, MS_BIND, NULL) == 0, "mount --bind /proc");
    check(mounted("/tmp/b/meminfo", "fuse.ecifs") && mounted("/tmp/b/timer_list", NULL), "bind: views and masks");
    check(chdir("/tmp/p/self") == 0, "chdir into the new procfs");
    errno = 0;
    check(umount2("/tmp/p", 0) != 0 && errno == EBUSY, "busy procfs: EBUSY");
    check(mounted("/tmp/p/meminfo", "fuse.ecifs") && mounted("/tmp/p/timer_list", NULL), "busy procfs keeps views and masks");
    chdir("/");
    check(umount2("/tmp/p", 0) == 0, "umount of the procfs it mounted");
    check(umount2("/tmp/b", 0) == 0, "umount of the bind it made");
    check(!mounted("/tmp/p", NULL) && !mounted("/tmp/b", NULL) && !mounted("/tmp/p/meminfo", NULL), "nothing left");
    mkdir("/tmp/r", 0755);
    check(mount("/proc", "/tmp/r", NULL, MS_BIND | MS_REC, NULL) == 0, "mount --rbind /proc");
    check(umount2("/tmp/r", MNT_DETACH) == 0, "umount -l of the rbind");
    mkdir("/tmp/s", 0755);
    check(mount("sysfs", "/tmp/s", "sysfs", 0, NULL) == 0, "mount -t sysfs");
    check(mounted("/tmp/s/kernel", "fuse.ecifs") && mounted("/tmp/s/firmware", "tmpfs"), "sysfs: view and mask");
    check(umount2("/tmp/s", 0) == 0, "umount sysfs");
    new_pid_namespace();
    pthread_t t;
    pthread_create(&t, NULL, in_thread, NULL);
    pthread_join(t, NULL);
    pthread_create(&t, NULL, orphan, NULL);
    pthread_exit(NULL);
}
