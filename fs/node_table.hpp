#pragma once
// The static shape of every mount: an immutable tree of directories, files and
// subtree roots built once from the handlers' tables, so a FORGET has nothing to
// release. A node's inode number is a hash of its path: it means the same file to every
// daemon, of this version or another, which a daemon serving a mount an earlier one
// made needs (the kernel keeps the numbers it was given: docs/restart.md). Numbers stay
// below 2^31 (a 32-bit program's stat(2) fails with EOVERFLOW on a larger one); a
// collision is found when the table is built. Below a subtree root, nodes are made at
// run time (fs/dynamic_nodes.hpp), numbered from first_dynamic_ino.
#include <fuse_lowlevel.h>

#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "handlers/handler.hpp"

namespace ecifs::fs {

struct Node {
    fuse_ino_t ino = 0;
    fuse_ino_t parent = 0;
    std::string name;
    const handlers::FileEntry* file = nullptr;  // null for a directory
    const handlers::Subtree* subtree = nullptr;  // set on a run-time subtree's root
    // Children sorted by name, as (name, ino); empty for a file.
    std::vector<std::pair<std::string, fuse_ino_t>> children;

    bool is_dir() const { return file == nullptr; }
};

class NodeTable {
public:
    NodeTable(std::span<const handlers::FileEntry> files, std::span<const handlers::SubtreeEntry> subtrees);

    // The node of `ino`, or null if no such inode exists.
    const Node* find(fuse_ino_t ino) const;
    const Node* child(const Node& dir, std::string_view name) const;
    const Node& root() const { return nodes_.front(); }
    size_t size() const { return nodes_.size(); }

    // The table built from handlers::file_table(), shared by every mount.
    static const NodeTable& instance();
    // Where run-time inode numbers begin: above every static one.
    static constexpr fuse_ino_t first_dynamic_ino = fuse_ino_t{1} << 31;

private:
    fuse_ino_t add_path(std::string_view path, const handlers::FileEntry* file);
    fuse_ino_t add_child(fuse_ino_t parent, fuse_ino_t ino, std::string name, const handlers::FileEntry* file);

    Node& at(fuse_ino_t ino) { return nodes_[index_.at(ino)]; }

    std::vector<Node> nodes_;                       // the root first
    std::unordered_map<fuse_ino_t, size_t> index_;  // ino -> its place in nodes_
};

}  // namespace ecifs::fs
