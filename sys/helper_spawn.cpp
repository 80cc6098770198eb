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

pid_t spawn_helper(const std::string& exe, const std::vector<std::string>& args, std::span<const int> fds) {
    // First move every fd above the range 3..3+n, so that placing one never overwrites
    // another still to be placed.
    const int above = 3 + static_cast<int>(fds.size());
    std::vector<Fd> high;
    for (int fd : fds) {
        high.emplace_back(::fcntl(fd, F_DUPFD_CLOEXEC, above));
        if (!high.back()) throw std::runtime_error(fmt::format("dup: {}", std::strerror(errno)));
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    for (std::size_t i = 0; i < high.size(); ++i)
        posix_spawn_file_actions_adddup2(&actions, high[i].get(), 3 + static_cast<int>(i));
    std::vector<char*> argv{const_cast<char*>(exe.c_str())};
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    pid_t pid = -1;
    const int err = ::posix_spawn(&pid, exe.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (err != 0) throw std::runtime_error(fmt::format("spawning {}: {}", exe, std::strerror(err)));
    return pid;
}

}  // namespace ecifs::sys
