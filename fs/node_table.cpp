#include "fs/node_table.hpp"

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace ecifs::fs {

namespace {

// FNV-1a of the path, into [2, 2^31): 1 is the root's (FUSE_ROOT_ID).
fuse_ino_t ino_of_path(std::string_view path) {
    uint64_t hash = 14695981039346656037ull;
    for (unsigned char c : path) hash = (hash ^ c) * 1099511628211ull;
    return 2 + hash % (NodeTable::first_dynamic_ino - 2);
}

}  // namespace

NodeTable::NodeTable(std::span<const handlers::FileEntry> files, std::span<const handlers::SubtreeEntry> subtrees) {
    nodes_.push_back(Node{.ino = FUSE_ROOT_ID, .parent = FUSE_ROOT_ID, .name = "", .file = nullptr, .subtree = nullptr, .children = {}});
    index_.emplace(FUSE_ROOT_ID, 0);
    for (const auto& file : files) add_path(file.path, &file);
    for (const auto& entry : subtrees) {
        Node& node = at(add_path(entry.path, nullptr));
        if (!node.children.empty()) throw std::logic_error("path table: files inside a subtree");
        node.subtree = entry.subtree;
    }
    for (auto& node : nodes_) std::sort(node.children.begin(), node.children.end());
}

const NodeTable& NodeTable::instance() {
    static const NodeTable table(handlers::file_table(), handlers::subtree_table());
    return table;
}

const Node* NodeTable::find(fuse_ino_t ino) const {
    auto it = index_.find(ino);
    return it == index_.end() ? nullptr : &nodes_[it->second];
}

const Node* NodeTable::child(const Node& dir, std::string_view name) const {
    auto it = std::lower_bound(dir.children.begin(), dir.children.end(), name,
                               [](const auto& entry, std::string_view n) { return entry.first < n; });
    if (it == dir.children.end() || it->first != name) return nullptr;
    return find(it->second);
}

fuse_ino_t NodeTable::add_path(std::string_view path, const handlers::FileEntry* file) {
    fuse_ino_t dir = FUSE_ROOT_ID;
    const std::string_view whole = path;
    while (!path.empty()) {
        auto slash = path.find('/');
        std::string name(path.substr(0, slash));
        path = slash == std::string_view::npos ? std::string_view{} : path.substr(slash + 1);
        bool last = path.empty();
        const Node* existing = nullptr;
        for (const auto& [n, ino] : at(dir).children)
            if (n == name) existing = find(ino);
        if (existing) {
            if ((last && file) || !existing->is_dir())
                throw std::logic_error("path table: duplicate or file-as-directory: " + name);
            dir = existing->ino;
        } else {
            const auto prefix = whole.substr(0, path.empty() ? whole.size() : whole.size() - path.size() - 1);
            dir = add_child(dir, ino_of_path(prefix), std::move(name), last ? file : nullptr);
        }
    }
    return dir;
}

fuse_ino_t NodeTable::add_child(fuse_ino_t parent, fuse_ino_t ino, std::string name, const handlers::FileEntry* file) {
    if (!index_.emplace(ino, nodes_.size()).second)
        throw std::logic_error("path table: two paths hash to inode " + std::to_string(ino) + " (" + name + ")");
    at(parent).children.emplace_back(name, ino);
    nodes_.push_back(Node{.ino = ino, .parent = parent, .name = std::move(name), .file = file, .subtree = nullptr, .children = {}});
    return ino;
}

}  // namespace ecifs::fs
