#include "sys/helper_spawn.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <fmt/core.h>

#include "sys/fd.hpp"

extern char** environ;

namespace ecifs::sys {

namespace {

// Copies of `fds` numbered `lowest` or above (close-on-exec): placing one at its target
// then never overwrites another still to be placed (the daemon's fd 4 may be the one
// meant for 3 while its fd 3 is meant for 4).
std::vector<Fd> copies_from(std::span<const int> fds, int lowest) {
    std::vector<Fd> copies;
    for (int fd : fds) {
        copies.emplace_back(::fcntl(fd, F_DUPFD_CLOEXEC, lowest));
        if (!copies.back()) throw std::runtime_error(fmt::format("dup of fd {}: {}", fd, std::strerror(errno)));
    }
    return copies;
}

// The child's fd table: copies[i] at 3 + i (dup2 clears close-on-exec on the new number),
// then nothing from `first_unused` up. glibc does the latter with
// close_range(first_unused, ~0U, 0), so that a descriptor some library of the daemon
// opened without O_CLOEXEC (or a race with another thread's open before its fcntl)
// does not reach a helper that runs in a container's namespaces.
class FileActions {
public:
    FileActions(const std::vector<Fd>& copies, int first_unused) {
        ::posix_spawn_file_actions_init(&actions_);
        for (std::size_t i = 0; i < copies.size(); ++i)
            ::posix_spawn_file_actions_adddup2(&actions_, copies[i].get(), 3 + static_cast<int>(i));
        ::posix_spawn_file_actions_addclosefrom_np(&actions_, first_unused);
    }
    ~FileActions() { ::posix_spawn_file_actions_destroy(&actions_); }
    FileActions(const FileActions&) = delete;
    FileActions& operator=(const FileActions&) = delete;
    const posix_spawn_file_actions_t* get() const { return &actions_; }

private:
    posix_spawn_file_actions_t actions_;
};

}  // namespace

pid_t spawn_helper(const std::string& exe, const std::vector<std::string>& args, std::span<const int> fds) {
    const int first_unused = 3 + static_cast<int>(fds.size());
    const std::vector<Fd> copies = copies_from(fds, first_unused);
    const FileActions actions(copies, first_unused);
    std::vector<char*> argv{const_cast<char*>(exe.c_str())};
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    pid_t pid = -1;
    const int err = ::posix_spawn(&pid, exe.c_str(), actions.get(), nullptr, argv.data(), environ);
    if (err != 0) throw std::runtime_error(fmt::format("spawning {}: {}", exe, std::strerror(err)));
    return pid;
}

}  // namespace ecifs::sys
