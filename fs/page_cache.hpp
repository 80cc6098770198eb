#pragma once
// What splice and sendfile read of a view: the kernel's page cache and size (i_size) of
// each file, which ecifs must manage although stat(2) never shows them.
//
// Files show st_size 0, as procfs does, and are opened direct_io, so read(2) is always
// asked of ecifs, per open handle, from that handle's snapshot. But since Linux 6.5 splice
// and sendfile (busybox cat, Python's shutil, cp) read a FUSE file through its page cache
// and stop at i_size. So for them each inode has one shared snapshot, the cache content:
//  - it is the rendering of an open, taken when no other handle may read the page cache
//    (one splicing, or one not read yet: every handle splicing at once reads the same
//    text, and no store lands in a page a reader is taking), and page-cache READs (those
//    without a lock owner) are answered from it;
//  - i_size must then be at least its length: an open whose cache content may be longer
//    stores its last byte (a store notification extends i_size), on the blocking thread
//    (a store waits for page locks); a shorter one is cut where its first page-cache READ
//    ends short (fuse_short_read);
//  - attributes sent while a file is open (or a store is under way) would set i_size to
//    0: the reply goes out stale. An empty store past the end first bumps the inode's
//    attribute version; the kernel then gives the reply to stat(2) but keeps i_size
//    (fuse_change_attributes drops attributes older than the inode).
// The kernel applies attributes and short reads in the requester's context after it
// wakes, guarded by the attribute version it saw when sending the request; every store
// is preceded by a bump, so nothing sent before it can shrink i_size after it.
//
// Limits, the kernel's: a bump between a short page-cache READ's sending and its answer
// keeps i_size above the content, so a splice of a cache content shorter than the one
// before it, racing a stat of the same file, may read NUL bytes up to the old length;
// and a handle that reads with read(2) and then splices may meet a store.
// sysfs shows a page as an attribute's size; a view cannot (the same NULs, always).
// Before 6.5 splice reads through read_iter like read(2): nothing needs managing.
#include <fuse_lowlevel.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace ecifs::fs {

// A rendering of a file, shared by whoever reads it.
using Content = std::shared_ptr<const std::string>;

class PageCache {
public:
    explicit PageCache(bool managed) : managed_(managed) {}

    // What an open must do before it is answered: store `cache`'s last byte if `extend`.
    struct Opened {
        bool extend = false;
        uint64_t shrinks_seen = 0;
        Content cache;
    };
    // An open of `ino` whose snapshot is `rendered` (null: not opened for reading);
    // `truncating`: O_TRUNC, after which the kernel sets i_size to 0. Every open that is
    // answered is released().
    Opened opened(fuse_ino_t ino, const Content& rendered, bool truncating);
    // `settled`: the handle read with read(2) only.
    void released(fuse_ino_t ino, bool settled);
    // The store an Opened asked for is done (`ok`: the kernel took it).
    void extended(fuse_ino_t ino, uint64_t length, uint64_t shrinks_seen, bool ok);

    // A page-cache READ: the content to answer it from (null if the inode has none).
    Content splice_read(fuse_ino_t ino);
    // A handle's first READ is a read(2): it will not read the page cache (or so it is
    // taken: a handle that reads, then splices, may meet a store).
    void settled(fuse_ino_t ino);
    // Before a short page-cache READ ending at `end` is answered.
    void short_read(fuse_ino_t ino, uint64_t end);

    // Before attributes (size 0) of a file go out: true if they must go out stale.
    bool keep_on_attributes(fuse_ino_t ino);
    // A reply the kernel applies whatever the attribute version (SETATTR) sets i_size.
    void sized(fuse_ino_t ino);
    // The kernel forgot the inode: a new one starts from the attributes it gets.
    void forgotten(fuse_ino_t ino);

private:
    struct Inode {
        Content cache;
        uint64_t floor = 0;      // i_size is at least this
        uint64_t shrinks = 0;    // times i_size may have been lowered
        uint32_t open = 0;       // handles
        uint32_t unsettled = 0;  // handles that did not read yet, or read the page cache
        uint32_t extending = 0;  // stores under way
    };
    static void zero_size(Inode& inode);

    const bool managed_;
    std::mutex mutex_;
    std::unordered_map<fuse_ino_t, Inode> inodes_;
};

// Whether this kernel's splice reads FUSE files through the page cache (Linux 6.5+).
bool splice_reads_page_cache();

}  // namespace ecifs::fs
