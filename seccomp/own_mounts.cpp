#include "seccomp/own_mounts.hpp"

#include <sys/stat.h>

#include <set>
#include <string>

namespace ecifs::seccomp {

namespace {

ino_t inode_of(int fd) {
    struct stat st {};
    return ::fstat(fd, &st) == 0 ? st.st_ino : 0;
}

ino_t mount_namespace_of(pid_t tid) {
    struct stat st {};
    return ::stat(("/proc/" + std::to_string(tid) + "/ns/mnt").c_str(), &st) == 0 ? st.st_ino : 0;
}

}  // namespace

std::vector<seccomp::OwnMount> OwnMounts::in(int mnt_ns) const {
    std::vector<seccomp::OwnMount> out;
    const ino_t ino = inode_of(mnt_ns);
    std::lock_guard lock(mutex_);
    auto it = by_namespace_.find(ino);
    if (it == by_namespace_.end()) return out;
    for (const auto& [id, of] : it->second.dressing_of) out.push_back({id, of});
    return out;
}

void OwnMounts::add(sys::Fd mnt_ns, uint64_t made, std::span<const uint64_t> dressing) {
    const ino_t ino = inode_of(mnt_ns.get());
    if (!ino || !made) return;
    std::lock_guard lock(mutex_);
    Namespace& ns = by_namespace_[ino];
    if (!ns.pin) ns.pin = std::move(mnt_ns);
    ns.dressing_of[made] = 0;
    for (uint64_t id : dressing)
        if (id && id != made) ns.dressing_of[id] = made;
}

void OwnMounts::remove(int mnt_ns, std::span<const uint64_t> gone) {
    const ino_t ino = inode_of(mnt_ns);
    std::lock_guard lock(mutex_);
    auto it = by_namespace_.find(ino);
    if (it == by_namespace_.end()) return;
    auto& mounts = it->second.dressing_of;
    for (uint64_t id : gone) {
        mounts.erase(id);
        std::erase_if(mounts, [id](const auto& entry) { return entry.second == id; });
    }
}

void OwnMounts::prune(std::span<const pid_t> threads) {
    {
        std::lock_guard lock(mutex_);
        if (by_namespace_.empty()) return;
    }
    std::set<ino_t> live;
    for (pid_t tid : threads) live.insert(mount_namespace_of(tid));
    std::lock_guard lock(mutex_);
    std::erase_if(by_namespace_, [&](const auto& entry) { return !live.count(entry.first); });
}

std::size_t OwnMounts::namespaces() const {
    std::lock_guard lock(mutex_);
    return by_namespace_.size();
}

}  // namespace ecifs::seccomp
