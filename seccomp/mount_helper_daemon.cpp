#include "seccomp/mount_helper.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <fmt/core.h>

#include "seccomp/notify.hpp"
#include "sys/helper_spawn.hpp"

// The daemon's side of the mount helper (mount_helper.hpp): what it reads and opens of
// the caller, and the helper's start.
namespace ecifs::seccomp::mount_helper {

using sys::Credentials;
using sys::Fd;

namespace {

// Whether an LSM label confines the caller (mount_helper.hpp: the helper cannot carry it).
bool lsm_confined(int caller_task_dir) {
    Fd attr(::openat(caller_task_dir, "attr/current", O_RDONLY | O_CLOEXEC));
    char label[4096];
    ssize_t n = attr ? ::read(attr.get(), label, sizeof label) : -1;
    return n > 0 && confined_by_lsm(std::string_view(label, static_cast<std::size_t>(n)));
}

}  // namespace

int read_caller_credentials(int caller_task_dir, Credentials& out) {
    Fd status(::openat(caller_task_dir, "status", O_RDONLY | O_CLOEXEC));
    if (!status) return errno == ENOENT ? ESRCH : errno;
    std::string text(8192, '\0');
    ssize_t n = ::read(status.get(), text.data(), text.size());
    if (n < 0) return errno;
    return sys::parse_credentials(std::string_view(text.data(), static_cast<std::size_t>(n)), out) ? 0 : EIO;
}

int open_caller(int caller_task_dir, Caller& out, Request& request) {
    static constexpr const char* paths[caller_fds] = {"root", "cwd", "ns/user", "ns/mnt", "ns/pid", "ns/net"};
    for (int i = 0; i < caller_fds; ++i) {
        // Not O_PATH for the namespaces: setns(2) wants an fd opened for reading.
        const int how = i <= cwd_fd ? O_PATH | O_DIRECTORY : O_RDONLY;
        out.fds[static_cast<std::size_t>(i)] = Fd(::openat(caller_task_dir, paths[i], how | O_CLOEXEC));
        if (!out.fds[static_cast<std::size_t>(i)]) return errno == ENOENT ? ESRCH : errno;
    }
    request.creds = Credentials{};
    if (int err = read_caller_credentials(caller_task_dir, request.creds)) return err;
    request.confined = lsm_confined(caller_task_dir);
    return 0;
}

Spawned spawn(const Request& request, const Caller& caller, const std::string& exe) {
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0)
        throw std::runtime_error(fmt::format("socketpair: {}", std::strerror(errno)));
    Fd ours(pair[0]), theirs(pair[1]);
    const std::string bytes = encode(request);
    int size = static_cast<int>(std::max<std::size_t>(bytes.size() + 4096, 65536));
    ::setsockopt(ours.get(), SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    ::setsockopt(theirs.get(), SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    if (::send(ours.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT) != static_cast<ssize_t>(bytes.size()))
        throw std::runtime_error(fmt::format("handing the mount helper its request: {}", std::strerror(errno)));
    std::array<int, 1 + caller_fds> fds{theirs.get()};
    for (int i = 0; i < caller_fds; ++i) fds[static_cast<std::size_t>(i) + 1] = caller.fds[static_cast<std::size_t>(i)].get();
    Spawned out;
    out.pid = sys::spawn_helper(exe, {"__mount-helper"}, fds);
    // Not yet waited for, so the pid is still the helper's.
    out.pidfd = Fd(seccomp::open_pidfd(out.pid));
    if (!out.pidfd) {
        int e = errno;
        ::kill(out.pid, SIGKILL);
        ::waitpid(out.pid, nullptr, 0);
        throw std::runtime_error(fmt::format("pidfd_open of the mount helper: {}", std::strerror(e)));
    }
    ::fcntl(out.pidfd.get(), F_SETFD, FD_CLOEXEC);
    out.socket = std::move(ours);
    return out;
}

}  // namespace ecifs::seccomp::mount_helper
