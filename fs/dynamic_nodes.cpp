#include "fs/dynamic_nodes.hpp"

#include <fcntl.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <stdexcept>

#include <fmt/core.h>

namespace ecifs::fs {

namespace {

// An inode taken on from an earlier daemon: the kernel's count of it is unknown.
constexpr uint64_t held_for_good = std::numeric_limits<uint64_t>::max() / 2;

}  // namespace

fuse_ino_t DynamicNodes::intern(const Node& root, const std::string& path) {
    std::string key = std::to_string(root.ino) + '/' + path;
    std::lock_guard lock(mutex_);
    auto [it, inserted] = by_key_.emplace(key, next_);
    if (inserted) {
        journal(fmt::format("+ {} {} {}\n", next_, root.ino, path));
        by_ino_.emplace(next_++, Entry{DynamicNode{&root, path}, std::move(key), 0});
    }
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
    journal(fmt::format("- {}\n", ino));
    return true;
}

size_t DynamicNodes::size() const {
    std::lock_guard lock(mutex_);
    return by_ino_.size();
}

// Called with mutex_ held. A line that cannot be written costs a restart that inode
// only (the kernel then gets ENOENT for it), never the request.
// Names that come and go (a container making and deleting interfaces in a loop) would
// grow the journal for ever: past a few lines per inode held, it is written anew.
void DynamicNodes::journal(const std::string& line) {
    if (!journal_) return;
    if (::write(journal_.get(), line.data(), line.size()) < 0) return journal_.reset();
    if (++journal_lines_ <= 1024 + 4 * by_ino_.size()) return;
    try {
        rewrite_journal();
    } catch (const std::exception&) {
        journal_.reset();
    }
}

// Called with mutex_ held: the journal holds what is held now, and the highest number.
void DynamicNodes::rewrite_journal() {
    const auto fresh = std::filesystem::path(journal_file_) += ".new";
    {
        std::ofstream out(fresh, std::ios::trunc);
        out << "n " << next_ - 1 << '\n';
        for (const auto& [ino, entry] : by_ino_) out << "+ " << ino << ' ' << entry.node.root->ino << ' ' << entry.node.path << '\n';
        if (!out.flush()) throw std::runtime_error(fmt::format("cannot write {}", fresh.string()));
    }
    std::filesystem::rename(fresh, journal_file_);
    journal_.reset(::open(journal_file_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
    if (!journal_) throw std::runtime_error(fmt::format("cannot open {}: {}", journal_file_.string(), std::strerror(errno)));
    journal_lines_ = by_ino_.size() + 1;
}

void DynamicNodes::restore(const std::filesystem::path& file, const NodeTable& table) {
    std::ifstream in(file);
    std::string sign, path;
    fuse_ino_t ino = 0, root = 0;
    while (in >> sign >> ino) {
        next_ = std::max(next_, ino + 1);  // never given again, dropped or not
        if (sign == "n") continue;
        if (sign == "-") {
            if (auto it = by_ino_.find(ino); it != by_ino_.end()) by_key_.erase(it->second.key), by_ino_.erase(it);
            continue;
        }
        in >> root;
        in.get();
        std::getline(in, path);
        const Node* node = table.find(root);
        if (sign != "+" || !node || !node->subtree || ino < first_) continue;  // not ours to take on
        std::string key = std::to_string(root) + '/' + path;
        by_key_[key] = ino;
        by_ino_[ino] = Entry{DynamicNode{node, path}, std::move(key), held_for_good};
    }
}

void DynamicNodes::keep_journal(const std::filesystem::path& file, const NodeTable& table) {
    std::lock_guard lock(mutex_);
    restore(file, table);
    journal_file_ = file;
    rewrite_journal();
}

}  // namespace ecifs::fs
