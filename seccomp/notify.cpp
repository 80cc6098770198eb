#include "seccomp/notify.hpp"

#include <seccomp.h>
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

// libseccomp's buffers, sized by the kernel (SECCOMP_GET_NOTIF_SIZES), one pair per
// thread: every trapper thread receives and answers on its own. Allocating them also
// makes libseccomp probe the kernel's API level, without which its notify calls refuse.
struct NotifyBuffers {
    seccomp_notif* request = nullptr;
    seccomp_notif_resp* response = nullptr;
    int error = 0;

    NotifyBuffers() { error = -seccomp_notify_alloc(&request, &response); }
    ~NotifyBuffers() { seccomp_notify_free(request, response); }
    NotifyBuffers(const NotifyBuffers&) = delete;
    NotifyBuffers& operator=(const NotifyBuffers&) = delete;
};

NotifyBuffers& buffers() {
    thread_local NotifyBuffers mine;
    return mine;
}

// libseccomp answers every failed ioctl with -ECANCELED and leaves the kernel's reason
// in errno (seccomp_notify_receive(3)): the caller needs it (ENOENT: the caller is gone).
template <typename Call>
int notify_errno(Call call) {
    for (;;) {
        errno = 0;
        int rc = call();
        if (rc == 0) return 0;
        int err = rc == -ECANCELED && errno != 0 ? errno : -rc;
        if (err != EINTR) return err;
    }
}

int send(int notify_fd, uint64_t id, int error, int64_t value, uint32_t flags) {
    NotifyBuffers& b = buffers();
    if (b.error) return b.error;
    std::memset(b.response, 0, sizeof *b.response);
    b.response->id = id;
    b.response->error = error ? -error : 0;
    b.response->val = error ? 0 : value;
    b.response->flags = flags;
    return notify_errno([&] { return seccomp_notify_respond(notify_fd, b.response); });
}

}  // namespace

static_assert(sizeof(seccomp_notif) == notification_size);

Notification notification_in(const void* slot) {
    const auto& n = *static_cast<const seccomp_notif*>(slot);
    Notification out;
    out.id = n.id;
    out.pid = static_cast<pid_t>(n.pid);
    out.arch = n.data.arch;
    out.nr = n.data.nr;
    std::copy(std::begin(n.data.args), std::end(n.data.args), std::begin(out.args));
    return out;
}

int receive_into(int notify_fd, void* slot, Notification& out) {
    if (int err = buffers().error) return err;  // libseccomp knows the kernel's API level from then on
    auto* request = static_cast<seccomp_notif*>(slot);
    int err = notify_errno([&] {
        std::memset(request, 0, sizeof *request);  // the kernel refuses a buffer that is not zeroed
        return seccomp_notify_receive(notify_fd, request);
    });
    if (err) {
        std::memset(request, 0, sizeof *request);  // the slot stays free
        return err;
    }
    out = notification_in(request);
    return 0;
}

int receive(int notify_fd, Notification& out) {
    NotifyBuffers& b = buffers();
    if (b.error) return b.error;
    return receive_into(notify_fd, b.request, out);
}

int respond(int notify_fd, uint64_t id, int error, int64_t value) { return send(notify_fd, id, error, value, 0); }

int respond_continue(int notify_fd, uint64_t id) {
    return send(notify_fd, id, 0, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE);
}

bool id_valid(int notify_fd, uint64_t id) { return seccomp_notify_id_valid(notify_fd, id) == 0; }

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
