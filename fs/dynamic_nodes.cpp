#include "fs/dynamic_nodes.hpp"

namespace ecifs::fs {

fuse_ino_t DynamicNodes::intern(const Node& root, const std::string& path) {
    std::string key = std::to_string(root.ino) + '/' + path;
    std::lock_guard lock(mutex_);
    auto [it, inserted] = by_key_.emplace(key, next_);
    if (inserted) by_ino_.emplace(next_++, Entry{DynamicNode{&root, path}, std::move(key), 0});
    ++by_ino_.at(it->second).refs;
    return it->second;
}

std::optional<DynamicNode> DynamicNodes::find(fuse_ino_t ino) const {
    std::lock_guard lock(mutex_);
    auto it = by_ino_.find(ino);
    if (it == by_ino_.end()) return std::nullopt;
    return it->second.node;
}

bool DynamicNodes::release(fuse_ino_t ino, uint64_t count) {
    std::lock_guard lock(mutex_);
    auto it = by_ino_.find(ino);
    if (it == by_ino_.end()) return false;
    Entry& entry = it->second;
    entry.refs -= std::min(entry.refs, count);
    if (entry.refs > 0) return false;
    by_key_.erase(entry.key);
    by_ino_.erase(it);
    return true;
}

size_t DynamicNodes::size() const {
    std::lock_guard lock(mutex_);
    return by_ino_.size();
}

}  // namespace ecifs::fs
