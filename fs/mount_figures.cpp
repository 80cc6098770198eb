#include "fs/mount_figures.hpp"

#include <fmt/format.h>

namespace ecifs::fs {

namespace {

// "/proc/meminfo" for a node of the static tree: its names up to the mount's root.
std::string static_path(const NodeTable& nodes, const Node& node) {
    std::string path;
    for (const Node* n = &node; n && n->ino != nodes.root().ino; n = nodes.find(n->parent)) path = "/" + n->name + path;
    return path.empty() ? "/" : path;
}

std::string path_of(const MountState& state, fuse_ino_t ino) {
    if (ino == RequestStats::others) return "(other files)";
    if (const Node* node = state.nodes.find(ino)) return static_path(state.nodes, *node);
    if (auto dyn = state.dynamic.find(ino)) return static_path(state.nodes, *dyn->root) + "/" + dyn->path;
    return fmt::format("(inode {})", ino);
}

}  // namespace

std::vector<ViewFigures> view_figures(const MountState& state) {
    std::vector<ViewFigures> out;
    for (auto& row : state.stats.rows()) out.push_back({path_of(state, row.ino), row.kind, std::move(row.figures)});
    return out;
}

}  // namespace ecifs::fs
