/* sysinfo_probe: what sysinfo(2) tells a process, for the trapper's tests (built with
 * gcc -static by tests/integration/test_trapper.py and run inside containers and on the
 * host).
 *
 *   sysinfo_probe                   one call; prints key=value lines (error=ERRNO on failure)
 *   sysinfo_probe handoff SOCK ID   trap its own sysinfo with a seccomp filter whose
 *                                   listener it hands to SOCK (the OCI listenerPath
 *                                   protocol, naming container ID), then call it once
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/un.h>
#include <unistd.h>

static int probe(void) {
    struct sysinfo s;
    memset(&s, 0xff, sizeof s);
    if (sysinfo(&s) != 0) {
        printf("error=%d %s\n", errno, strerror(errno));
        return 1;
    }
    printf("uptime=%ld\n", s.uptime);
    printf("loads=%lu %lu %lu\n", s.loads[0], s.loads[1], s.loads[2]);
    printf("totalram=%lu\nfreeram=%lu\nsharedram=%lu\nbufferram=%lu\n", s.totalram, s.freeram, s.sharedram,
           s.bufferram);
    printf("totalswap=%lu\nfreeswap=%lu\n", s.totalswap, s.freeswap);
    printf("procs=%u\ntotalhigh=%lu\nfreehigh=%lu\nmem_unit=%u\n", s.procs, s.totalhigh, s.freehigh, s.mem_unit);
    return 0;
}

static int handoff(const char* path, const char* id) {
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_sysinfo, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof code / sizeof code[0], code};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return perror("no_new_privs"), 2;
    int fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
    if (fd < 0) return perror("seccomp"), 2;
    int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path);
    if (connect(sock, (struct sockaddr*)&addr, sizeof addr) != 0) return perror("connect"), 2;
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
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
    if (sendmsg(sock, &msg, 0) != n) return perror("sendmsg"), 2;
    close(fd);  /* the listener is the daemon's now, or nobody's */
    int rc = probe();
    close(sock);
    return rc;
}

int main(int argc, char** argv) {
    if (argc == 4 && strcmp(argv[1], "handoff") == 0) return handoff(argv[2], argv[3]);
    if (argc == 1) return probe();
    fprintf(stderr, "usage: sysinfo_probe [handoff SOCKET ID]\n");
    return 2;
}
