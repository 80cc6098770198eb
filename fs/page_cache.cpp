#include "fs/page_cache.hpp"

#include <sys/utsname.h>

#include <algorithm>
#include <cstdio>

namespace ecifs::fs {

PageCache::Opened PageCache::opened(fuse_ino_t ino, const Content& rendered, bool truncating) {
    std::lock_guard lock(mutex_);
    Inode& inode = inodes_[ino];
    if (truncating) zero_size(inode);  // the kernel sets i_size to 0 once the open is answered
    if (rendered && (inode.unsettled == 0 || !inode.cache)) inode.cache = rendered;
    ++inode.open;
    ++inode.unsettled;
    const bool may_read = rendered && !truncating;
    Opened out{managed_ && may_read && inode.cache->size() > inode.floor, inode.shrinks, inode.cache};
    if (out.extend) ++inode.extending;
    return out;
}

void PageCache::released(fuse_ino_t ino, bool settled) {
    std::lock_guard lock(mutex_);
    Inode& inode = inodes_[ino];
    if (inode.open > 0) --inode.open;
    if (!settled && inode.unsettled > 0) --inode.unsettled;
    // No READ comes without an open handle, and the next open sets the content again:
    // the snapshot need not be held (fs/snapshots.hpp counts it) until the FORGET.
    if (inode.open == 0) inode.cache.reset();
}

// Raise the bound only if i_size cannot have been lowered since the need was computed.
void PageCache::extended(fuse_ino_t ino, uint64_t length, uint64_t shrinks_seen, bool ok) {
    std::lock_guard lock(mutex_);
    Inode& inode = inodes_[ino];
    if (inode.extending > 0) --inode.extending;
    if (ok && inode.shrinks == shrinks_seen) inode.floor = std::max(inode.floor, length);
}

Content PageCache::splice_read(fuse_ino_t ino) {
    std::lock_guard lock(mutex_);
    return inodes_[ino].cache;
}

void PageCache::settled(fuse_ino_t ino) {
    std::lock_guard lock(mutex_);
    Inode& inode = inodes_[ino];
    if (inode.unsettled > 0) --inode.unsettled;
}

void PageCache::short_read(fuse_ino_t ino, uint64_t end) {
    std::lock_guard lock(mutex_);
    Inode& inode = inodes_[ino];
    inode.floor = std::min(inode.floor, end);
    ++inode.shrinks;
}

bool PageCache::keep_on_attributes(fuse_ino_t ino) {
    std::lock_guard lock(mutex_);
    Inode& inode = inodes_[ino];
    if (managed_ && inode.open > 0 && (inode.floor > 0 || inode.extending > 0)) return true;
    zero_size(inode);
    return false;
}

void PageCache::sized(fuse_ino_t ino) {
    std::lock_guard lock(mutex_);
    zero_size(inodes_[ino]);
}

// i_size becomes 0; a store under way must not raise the bound on its return.
void PageCache::zero_size(Inode& inode) {
    ++inode.shrinks;
    inode.floor = 0;
}

void PageCache::forgotten(fuse_ino_t ino) {
    std::lock_guard lock(mutex_);
    auto it = inodes_.find(ino);
    if (it == inodes_.end()) return;
    if (it->second.open == 0)
        inodes_.erase(it);
    else
        it->second.floor = 0;
}

bool splice_reads_page_cache() {
    static const bool yes = [] {
        utsname u{};
        unsigned major = 0, minor = 0;
        return ::uname(&u) == 0 && std::sscanf(u.release, "%u.%u", &major, &minor) == 2 &&
               (major > 6 || (major == 6 && minor >= 5));
    }();
    return yes;
}

}  // namespace ecifs::fs
