#include "fs/dynamic_nodes.hpp"

#include <mutex>

namespace ecifs::fs {

fuse_ino_t DynamicNodes::intern(const Node& root, const std::string& path) {
    std::string key = std::to_string(root.ino) + '/' + path;
    {
        std::shared_lock lock(mutex_);
        if (auto it = by_key_.find(key); it != by_key_.end()) return it->second;
    }
    std::unique_lock lock(mutex_);
    auto [it, inserted] = by_key_.emplace(std::move(key), first_ + nodes_.size());
    if (inserted) nodes_.push_back(DynamicNode{&root, path});
    return it->second;
}

std::optional<DynamicNode> DynamicNodes::find(fuse_ino_t ino) const {
    std::shared_lock lock(mutex_);
    if (ino < first_ || ino - first_ >= nodes_.size()) return std::nullopt;
    return nodes_[ino - first_];
}

}  // namespace ecifs::fs
