#include "seccomp/own_mounts.hpp"

#include <sys/stat.h>

#include <set>
#include <string>

namespace ecifs::seccomp {

namespace {

ino_t mount_namespace_of(pid_t tid) {
    struct stat st {};
    return ::stat(("/proc/" + std::to_string(tid) + "/ns/mnt").c_str(), &st) == 0 ? st.st_ino : 0;
}

}  // namespace

ino_t OwnMounts::inode_of(int mnt_ns) {
    struct stat st {};
    return ::fstat(mnt_ns, &st) == 0 ? st.st_ino : 0;
}

void OwnMounts::keep_with(Keeper keeper) {
    std::lock_guard lock(mutex_);
    keeper_ = std::move(keeper);
}

void OwnMounts::restore(sys::Fd mnt_ns, Table mounts) {
    const ino_t ino = inode_of(mnt_ns.get());
    if (!ino || mounts.empty()) return;
    std::lock_guard lock(mutex_);
    by_namespace_[ino] = Namespace{std::move(mnt_ns), std::move(mounts)};
}

// The whole table after each change: a handful of mounts per container, written when a
// container mounts or unmounts, never on a read.
void OwnMounts::changed_locked() const {
    if (!keeper_.save) return;
    Snapshot all;
    for (const auto& [ino, ns] : by_namespace_) all[ino] = ns.dressing_of;
    keeper_.save(all);
}

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
    if (!ns.pin) {
        ns.pin = std::move(mnt_ns);
        if (keeper_.pin) keeper_.pin(ino, ns.pin.get());
    }
    ns.dressing_of[made] = 0;
    for (uint64_t id : dressing)
        if (id && id != made) ns.dressing_of[id] = made;
    changed_locked();
}

void OwnMounts::remove(int mnt_ns, std::span<const uint64_t> gone) { remove(inode_of(mnt_ns), gone); }

void OwnMounts::remove(ino_t mnt_ns, std::span<const uint64_t> gone) {
    std::lock_guard lock(mutex_);
    auto it = by_namespace_.find(mnt_ns);
    if (it == by_namespace_.end()) return;
    auto& mounts = it->second.dressing_of;
    for (uint64_t id : gone) {
        mounts.erase(id);
        std::erase_if(mounts, [id](const auto& entry) { return entry.second == id; });
    }
    changed_locked();
}

void OwnMounts::prune(std::span<const pid_t> threads) {
    {
        std::lock_guard lock(mutex_);
        if (by_namespace_.empty()) return;
    }
    std::set<ino_t> live;
    for (pid_t tid : threads) live.insert(mount_namespace_of(tid));
    std::lock_guard lock(mutex_);
    const std::size_t before = by_namespace_.size();
    std::erase_if(by_namespace_, [&](const auto& entry) {
        if (live.count(entry.first)) return false;
        if (keeper_.unpin) keeper_.unpin(entry.first);
        return true;
    });
    if (by_namespace_.size() != before) changed_locked();
}

std::size_t OwnMounts::namespaces() const {
    std::lock_guard lock(mutex_);
    return by_namespace_.size();
}

std::vector<ino_t> OwnMounts::held() const {
    std::lock_guard lock(mutex_);
    std::vector<ino_t> out;
    for (const auto& [ino, ns] : by_namespace_) out.push_back(ino);
    return out;
}

}  // namespace ecifs::seccomp
