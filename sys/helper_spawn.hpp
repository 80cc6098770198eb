#pragma once
// Starting the daemon's helper processes (`ecifs __ns-executor`, `ecifs __mount-helper`),
// which inherit exactly the fds they are given and nothing else of the daemon.
#include <sys/types.h>

#include <span>
#include <string>
#include <vector>

namespace ecifs::sys {

// posix_spawn `exe` with `args` (argv[1..]) and the daemon's environment; fds[i] becomes
// fd 3 + i in the child (whatever their numbers in the daemon, even where one's number is
// another's target), and the child has no other fd but 0, 1 and 2. Returns the child's
// pid. Throws std::runtime_error.
pid_t spawn_helper(const std::string& exe, const std::vector<std::string>& args, std::span<const int> fds);

}  // namespace ecifs::sys
