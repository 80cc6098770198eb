#include "sys/caller_task.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace ecifs::sys {

namespace {

constexpr const char* ns_link[] = {"ns/user", "ns/mnt", "ns/pid", "ns/net", "ns/uts", "ns/ipc"};
constexpr int ns_flag[] = {CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWUTS, CLONE_NEWIPC};

ino_t inode_of(int fd) {
    struct stat st {};
    return ::fstat(fd, &st) == 0 ? st.st_ino : 0;
}

}  // namespace

Fd open_task_dir(pid_t tid) {
    if (tid <= 0) {
        errno = ESRCH;
        return Fd();
    }
    return Fd(::open(("/proc/" + std::to_string(tid)).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
}

Namespaces::Namespaces(int task_dir, std::span<const Ns> kinds) {
    if (task_dir < 0) {
        error_ = ESRCH;
        return;
    }
    for (Ns kind : kinds) {
        // Not O_PATH: setns(2) wants an fd opened for reading.
        fds_[index(kind)] = Fd(::openat(task_dir, ns_link[index(kind)], O_RDONLY | O_CLOEXEC));
        if (!fds_[index(kind)]) {
            error_ = errno;
            return;
        }
    }
}

Namespaces::Namespaces(std::array<int, 6> fds) {
    for (std::size_t i = 0; i < fds.size(); ++i) fds_[i] = Fd(fds[i]);
}

ino_t Namespaces::inode(Ns kind) const {
    const Fd& fd = fds_[index(kind)];
    return fd ? inode_of(fd.get()) : 0;
}

int Namespaces::join() const {
    const ino_t own_user = own_namespace(Ns::user);  // before /proc is another's
    for (std::size_t i = 0; i < fds_.size(); ++i)
        if (i != index(Ns::user) && fds_[i] && ::setns(fds_[i].get(), ns_flag[i]) != 0) return errno;
    const Fd& user = fds_[index(Ns::user)];
    if (user && inode_of(user.get()) != own_user && ::setns(user.get(), CLONE_NEWUSER) != 0)
        return errno;
    return 0;
}

void Namespaces::close() {
    for (Fd& fd : fds_) fd.reset();
}

ino_t own_namespace(Ns kind) {
    struct stat st {};
    const std::string path = std::string("/proc/self/") + ns_link[static_cast<std::size_t>(kind)];
    return ::stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

}  // namespace ecifs::sys
