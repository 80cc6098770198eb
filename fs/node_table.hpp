#pragma once
// The static shape of every mount: an immutable tree of directories, files and
// subtree roots built once from the handlers' tables. Inode numbers are indexes into
// it, so a lookup is a checked array access and a FORGET has nothing to release.
// Below a subtree root, nodes are made at run time (fs/dynamic_nodes.hpp).
#include <fuse_lowlevel.h>

#include <optional>
#include <span>
#include <string>
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

private:
    fuse_ino_t add_path(std::string_view path, const handlers::FileEntry* file);
    fuse_ino_t add_child(fuse_ino_t parent, std::string name, const handlers::FileEntry* file);

    std::vector<Node> nodes_;  // nodes_[ino - 1]
};

}  // namespace ecifs::fs
