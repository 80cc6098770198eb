// Handing a container's cgroups to its root (delegate.hpp).
#include "cgroup/delegate.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "sys/fd.hpp"
#include "sys/files.hpp"
#include "sys/text.hpp"

namespace ecifs::cgroup {

namespace fs = std::filesystem;

namespace {

// Only this process in the cgroup: it is the container's own, made for it by the runtime.
bool holds_only(const fs::path& dir, pid_t pid) {
    const auto procs = sys::read_file_if_exists(dir / "cgroup.procs");
    if (!procs) return false;
    bool only = false, other = false;
    sys::for_each_line(*procs, [&](std::string_view line) {
        if (!sys::trim(line).empty()) (sys::whole_number<pid_t>(sys::trim(line)) == pid ? only : other) = true;
    });
    return only && !other;
}

void give(int dir_fd, const char* name, uid_t uid, gid_t gid, const fs::path& dir) {
    if (::fchownat(dir_fd, name, uid, gid, AT_SYMLINK_NOFOLLOW | (*name ? 0 : AT_EMPTY_PATH)) == 0) return;
    // A file the kernel lists but this cgroup lacks (memory.reclaim without the controller).
    if (errno == ENOENT && *name) return;
    throw std::system_error(errno, std::generic_category(), "chown " + (dir / name).string());
}

}  // namespace

DelegationFiles delegation_files(const fs::path& kernel_list) {
    DelegationFiles files{{}, {"tasks", "cgroup.procs"}};
    if (const auto text = sys::read_file_if_exists(kernel_list))
        sys::for_each_line(*text, [&](std::string_view line) {
            if (!sys::trim(line).empty()) files.v2.emplace_back(sys::trim(line));
        });
    if (files.v2.empty()) files.v2 = {"cgroup.procs", "cgroup.threads", "cgroup.subtree_control"};
    return files;
}

std::vector<fs::path> delegate_cgroups(pid_t pid, uid_t uid, gid_t gid, const DelegationFiles& files,
                                       const fs::path& proc_root) {
    std::vector<fs::path> given;
    for (const CgroupDir& cgroup : hierarchy_dirs(pid, proc_root)) {
        if (cgroup.relative.relative_path().empty()) continue;  // a hierarchy's root is the host's
        const fs::path dir = cgroup.dir();
        if (!holds_only(dir, pid)) continue;
        sys::Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!fd) throw std::system_error(errno, std::generic_category(), "open " + dir.string());
        give(fd.get(), "", uid, gid, dir);
        for (const std::string& name : cgroup.version == CgroupVersion::v2 ? files.v2 : files.v1)
            give(fd.get(), name.c_str(), uid, gid, dir);
        given.push_back(dir);
    }
    return given;
}

}  // namespace ecifs::cgroup
