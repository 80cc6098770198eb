#pragma once
// Handing a container's cgroups to the container's root, as cgroup-v2.rst's
// "Delegation" defines it: the directory and the files that move processes and enable
// controllers below it change owner; the cgroup's own limits (memory.max, pids.max...)
// stay root's, so the container can make and limit cgroups below its own but never
// lift the limits the runtime set on it. A v1 hierarchy gets the same: the directory,
// tasks and cgroup.procs.
#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

#include "cgroup/cgroup.hpp"

namespace ecifs::cgroup {

struct DelegationFiles {
    // The kernel lists v2's in /sys/kernel/cgroup/delegate (Linux 6.0+); before that,
    // the three cgroup-v2.rst names.
    std::vector<std::string> v2, v1;
};
DelegationFiles delegation_files(const std::filesystem::path& kernel_list = "/sys/kernel/cgroup/delegate");

// Give `pid`'s cgroups to uid/gid: in every mounted hierarchy where the process is in a
// cgroup that is not the hierarchy's root and holds no other process (a runtime's cgroup
// for this container, never one it shares). Returns the directories given. Throws
// std::system_error when a chown fails.
std::vector<std::filesystem::path> delegate_cgroups(pid_t pid, uid_t uid, gid_t gid, const DelegationFiles& files,
                                                    const std::filesystem::path& proc_root = "/proc");

}  // namespace ecifs::cgroup
