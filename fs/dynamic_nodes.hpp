#pragma once
// Inodes below a run-time subtree root (handlers::subtree_table(): proc/sys,
// proc/pressure and parts of /sys), one mount's worth. A path gets an inode the first
// time the kernel looks it up or lists it, and keeps it for the mount's life (forget
// does not drop it), so the same path is always the same inode; the set of paths is
// bounded by what the host's files under those roots show.
#include <fuse_lowlevel.h>

#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "fs/node_table.hpp"

namespace ecifs::fs {

struct DynamicNode {
    const Node* root;  // the static subtree root this path hangs from
    std::string path;  // relative to it
};

class DynamicNodes {
public:
    explicit DynamicNodes(fuse_ino_t first_ino) : first_(first_ino) {}

    fuse_ino_t intern(const Node& root, const std::string& path);
    std::optional<DynamicNode> find(fuse_ino_t ino) const;

private:
    const fuse_ino_t first_;
    mutable std::shared_mutex mutex_;
    std::unordered_map<std::string, fuse_ino_t> by_key_;  // "<root ino>/<path>"
    std::vector<DynamicNode> nodes_;                      // nodes_[ino - first_]
};

}  // namespace ecifs::fs
