#include "fs/mount_figures.hpp"

namespace ecifs::fs {

namespace {

// "/proc/meminfo" for a node of the static tree: its names up to the mount's root.
std::string static_path(const NodeTable& nodes, fuse_ino_t ino) {
    std::string path;
    for (const Node* n = nodes.find(ino); n && n->ino != nodes.root().ino; n = nodes.find(n->parent))
        path = "/" + n->name + path;
    return path.empty() ? "/" : path;
}

}  // namespace

void MountState::record_request(fuse_ino_t ino, RequestKind kind, RequestStats::Clock::time_point started, int err) {
    // A run-time inode under its subtree's root and path: the kernel may forget it and
    // get a new number for the same file (docs in fs/request_stats.hpp).
    if (ino < NodeTable::first_dynamic_ino) return stats.record({ino, {}}, kind, started, err);
    auto dyn = dynamic.find(ino);  // gone already: counted with the others
    stats.record(dyn ? FileKey{dyn->root->ino, std::move(dyn->path)} : FileKey{}, kind, started, err);
}

MountFigures mount_figures(const MountState& state) {
    auto snapshot = state.stats.snapshot();
    MountFigures out;
    out.latency = snapshot.latency;
    for (auto& [file, counts] : snapshot.files) {
        std::string path = file.ino == 0 ? "(other files)" : static_path(state.nodes, file.ino);
        if (!file.path.empty()) path += "/" + file.path;
        out.files.emplace_back(std::move(path), counts);
    }
    return out;
}

}  // namespace ecifs::fs
