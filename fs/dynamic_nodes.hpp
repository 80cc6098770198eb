#pragma once
// Inodes below a run-time subtree root (handlers::subtree_table(): proc/sys,
// proc/pressure and parts of /sys), one mount's worth. A path gets an inode when the
// kernel is handed it (a LOOKUP's entry) or a listing shows it, and keeps it while it
// is referenced: each entry reply counts one, as the kernel's lookup count does, and a
// FORGET takes back its nlookup; an open listing counts one for each name it shows,
// given back at its release (a readdir entry is not a lookup: the kernel does not count
// it). At zero the inode goes, so names that come and go (interfaces under
// /proc/sys/net/ipv4/conf) do not pile up. Inode numbers are never reused: one the
// kernel still knows (a mount may sit on it) keeps its path, and a path made again gets
// a new number, as procfs gives a new inode to a sysctl made again.
#include <fuse_lowlevel.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "fs/node_table.hpp"
#include "sys/fd.hpp"

namespace ecifs::fs {

struct DynamicNode {
    const Node* root;  // the static subtree root this path hangs from
    std::string path;  // relative to it
};

class DynamicNodes {
public:
    explicit DynamicNodes(fuse_ino_t first_ino) : first_(first_ino), next_(first_ino) {}

    // The inode of `path` below `root`, made if it has none, with one reference more.
    fuse_ino_t intern(const Node& root, const std::string& path);
    std::optional<DynamicNode> find(fuse_ino_t ino) const;
    // Take back `count` references (a FORGET's nlookup, a listing's one); the inode goes
    // at zero. An inode that is not here (a static one) is left alone. True if it went.
    bool release(fuse_ino_t ino, uint64_t count);
    // Inodes held now.
    size_t size() const;

    // Write every inode made and dropped to `file`, so that a daemon serving the mount
    // after a restart (docs/restart.md) answers the numbers the kernel holds. Inodes
    // the file already names are taken on first, each held for good (their counts
    // went with the old daemon), and the file is rewritten with only them. One line
    // per change: "+ INO ROOT PATH" or "- INO"; and "n INO", the highest number given
    // (numbers are never given twice). Throws std::runtime_error.
    void keep_journal(const std::filesystem::path& file, const NodeTable& table);

private:
    struct Entry {
        DynamicNode node;
        std::string key;
        uint64_t refs = 0;
    };

    void restore(const std::filesystem::path& file, const NodeTable& table);
    void journal(const std::string& line);
    void rewrite_journal();

    const fuse_ino_t first_;
    fuse_ino_t next_;
    mutable std::mutex mutex_;
    sys::Fd journal_;
    std::filesystem::path journal_file_;
    size_t journal_lines_ = 0;
    std::unordered_map<std::string, fuse_ino_t> by_key_;  // "<root ino>/<path>"
    std::unordered_map<fuse_ino_t, Entry> by_ino_;
};

}  // namespace ecifs::fs
