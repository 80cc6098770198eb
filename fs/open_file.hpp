#pragma once
// What a FUSE file handle (fuse_file_info::fh) stands for (fs/handles.hpp): an open
// file or an open directory of fs/operations.cpp.
#include <sys/stat.h>

#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <fuse_lowlevel.h>

#include "fs/event_sources.hpp"
#include "fs/page_cache.hpp"

namespace ecifs::fs {

// One open file. Its content is rendered at open and again by a read at offset 0 once
// the last rendering has been served, like the kernel's seq_file: a reader that seeks
// back to 0 (top, vmstat, free -s) sees fresh figures, while the reads of one pass at
// later offsets see one consistent snapshot. The kernel may send READs of one handle
// concurrently, hence the lock; a READ replies from its own reference to the content,
// outside the lock: once the reply is written the reader may close, and the RELEASE,
// on another thread, deletes the OpenFile.
//
// A rendering that fails fails the READs, not the open: the kernel's sysfs and procfs
// files fail read(2) with their show()'s errno.
//
// Snapshots are shared and capped per mount (fs/snapshots.hpp). A handle opened past the
// cap holds none (`content` null, no `error`): each of its READs renders the file and
// answers from that rendering, dropped after the reply. Its reads still succeed, so
// cat, less and read loops behave as under runc (an ENOMEM open would stop them where
// the kernel would not be short of memory); only a file longer than one READ that
// changes between READs may then show a seam, which a seq_file does not.
struct OpenFile {
    OpenFile(Content c, int e) : content(std::move(c)), error(e) {}
    std::mutex lock;
    Content content;  // null while `error`, or when past the cap
    int error = 0;
    bool served = false;          // a READ has been answered from `content`
    bool read_by_read = false;    // its first READ was a read(2), not the page cache's (see PageCache)
    bool read_any = false;        // it had a READ
    EventSources::Id event = 0;  // its event source (a PSI trigger a write made), if any
};

struct DirEntry {
    std::string name;
    fuse_ino_t ino;
    struct stat attr;
};

// One open directory: its listing taken at opendir, and the dynamic inodes it holds
// (one reference each, given back at releasedir: see DynamicNodes).
struct OpenDir {
    std::vector<DirEntry> entries;
    std::vector<fuse_ino_t> held;
};

}  // namespace ecifs::fs
