#include "fs/node_table.hpp"

#include <algorithm>
#include <stdexcept>

namespace ecifs::fs {

NodeTable::NodeTable(std::span<const handlers::FileEntry> files, std::span<const handlers::SubtreeEntry> subtrees) {
    nodes_.push_back(Node{.ino = FUSE_ROOT_ID, .parent = FUSE_ROOT_ID, .name = "", .file = nullptr, .subtree = nullptr, .children = {}});
    for (const auto& file : files) add_path(file.path, &file);
    for (const auto& entry : subtrees) {
        fuse_ino_t ino = add_path(entry.path, nullptr);
        if (!nodes_[ino - 1].children.empty()) throw std::logic_error("path table: files inside a subtree");
        nodes_[ino - 1].subtree = entry.subtree;
    }
    for (auto& node : nodes_) std::sort(node.children.begin(), node.children.end());
}

const NodeTable& NodeTable::instance() {
    static const NodeTable table(handlers::file_table(), handlers::subtree_table());
    return table;
}

const Node* NodeTable::find(fuse_ino_t ino) const {
    if (ino < FUSE_ROOT_ID || ino > nodes_.size()) return nullptr;
    return &nodes_[ino - 1];
}

const Node* NodeTable::child(const Node& dir, std::string_view name) const {
    auto it = std::lower_bound(dir.children.begin(), dir.children.end(), name,
                               [](const auto& entry, std::string_view n) { return entry.first < n; });
    if (it == dir.children.end() || it->first != name) return nullptr;
    return find(it->second);
}

fuse_ino_t NodeTable::add_path(std::string_view path, const handlers::FileEntry* file) {
    fuse_ino_t dir = FUSE_ROOT_ID;
    while (!path.empty()) {
        auto slash = path.find('/');
        std::string name(path.substr(0, slash));
        path = slash == std::string_view::npos ? std::string_view{} : path.substr(slash + 1);
        bool last = path.empty();
        const Node* existing = nullptr;
        for (const auto& [n, ino] : nodes_[dir - 1].children)
            if (n == name) existing = find(ino);
        if (existing) {
            if ((last && file) || !existing->is_dir())
                throw std::logic_error("path table: duplicate or file-as-directory: " + name);
            dir = existing->ino;
        } else {
            dir = add_child(dir, std::move(name), last ? file : nullptr);
        }
    }
    return dir;
}

fuse_ino_t NodeTable::add_child(fuse_ino_t parent, std::string name, const handlers::FileEntry* file) {
    fuse_ino_t ino = nodes_.size() + 1;
    nodes_[parent - 1].children.emplace_back(name, ino);
    nodes_.push_back(Node{.ino = ino, .parent = parent, .name = std::move(name), .file = file, .subtree = nullptr, .children = {}});
    return ino;
}

}  // namespace ecifs::fs
