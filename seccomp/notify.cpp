#include "seccomp/notify.hpp"

#include <linux/seccomp.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>

namespace ecifs::seccomp {

namespace {

constexpr std::size_t page = 4096;

int ioctl_errno(int fd, unsigned long request, void* arg) {
    for (;;) {
        if (::ioctl(fd, request, arg) == 0) return 0;
        if (errno != EINTR) return errno;
    }
}

}  // namespace

int receive(int notify_fd, Notification& out) {
    seccomp_notif n;
    std::memset(&n, 0, sizeof n);  // the kernel refuses a buffer that is not zeroed
    if (int err = ioctl_errno(notify_fd, SECCOMP_IOCTL_NOTIF_RECV, &n)) return err;
    out.id = n.id;
    out.pid = static_cast<pid_t>(n.pid);
    out.arch = n.data.arch;
    out.nr = n.data.nr;
    std::copy(std::begin(n.data.args), std::end(n.data.args), std::begin(out.args));
    return 0;
}

int respond(int notify_fd, uint64_t id, int error, int64_t value) {
    seccomp_notif_resp r;
    std::memset(&r, 0, sizeof r);
    r.id = id;
    r.error = error ? -error : 0;
    r.val = error ? 0 : value;
    return ioctl_errno(notify_fd, SECCOMP_IOCTL_NOTIF_SEND, &r);
}

int respond_continue(int notify_fd, uint64_t id) {
    seccomp_notif_resp r;
    std::memset(&r, 0, sizeof r);
    r.id = id;
    r.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    return ioctl_errno(notify_fd, SECCOMP_IOCTL_NOTIF_SEND, &r);
}

bool id_valid(int notify_fd, uint64_t id) { return ioctl_errno(notify_fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0; }

bool is_notify_fd(int fd) {
    char link[64];
    std::string path = "/proc/self/fd/" + std::to_string(fd);
    ssize_t n = ::readlink(path.c_str(), link, sizeof link);
    return n > 0 && std::string_view(link, static_cast<std::size_t>(n)) == "anon_inode:seccomp notify";
}

int open_pidfd(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

int read_string(pid_t pid, uint64_t address, std::size_t max, std::string& out) {
    out.clear();
    if (address == 0) return EFAULT;
    char buf[page];
    while (out.size() <= max) {
        // Up to the end of the page `address` is in: the next page may not be mapped.
        std::size_t want = page - (address % page);
        iovec local{buf, want};
        iovec remote{reinterpret_cast<void*>(address), want};
        ssize_t n = ::process_vm_readv(pid, &local, 1, &remote, 1, 0);
        if (n <= 0) return n < 0 && errno == ESRCH ? ESRCH : EFAULT;
        std::string_view chunk(buf, static_cast<std::size_t>(n));
        std::size_t nul = chunk.find('\0');
        out.append(chunk.substr(0, nul));
        if (nul != std::string_view::npos) return out.size() <= max ? 0 : ENAMETOOLONG;
        address += static_cast<uint64_t>(n);
    }
    return ENAMETOOLONG;
}

int write_memory(pid_t pid, uint64_t address, std::span<const std::byte> bytes) {
    iovec local{const_cast<std::byte*>(bytes.data()), bytes.size()};
    iovec remote{reinterpret_cast<void*>(address), bytes.size()};
    ssize_t n = ::process_vm_writev(pid, &local, 1, &remote, 1, 0);
    if (n < 0) return errno == ESRCH ? ESRCH : EFAULT;
    return static_cast<std::size_t>(n) == bytes.size() ? 0 : EFAULT;
}

}  // namespace ecifs::seccomp
