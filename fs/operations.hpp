#pragma once
// The FUSE low-level operations: thin functions over the node tables and the
// handlers. The session's userdata is a MountState.
//
// Each operation takes a Request and answers through the mount's Kernel, never through
// libfuse itself: the table given to libfuse (operations()) only turns libfuse's request
// into a Request, so a unit test calls the operations with its own (see fs/kernel.hpp).
#include <fuse_lowlevel.h>

#include <ctime>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "emulation/container.hpp"
#include "fs/dynamic_nodes.hpp"
#include "fs/event_sources.hpp"
#include "fs/handles.hpp"
#include "fs/kernel.hpp"
#include "fs/node_table.hpp"
#include "fs/open_file.hpp"
#include "fs/page_cache.hpp"
#include "fs/request_stats.hpp"
#include "fs/snapshots.hpp"
#include "handlers/handler.hpp"

namespace ecifs::fs {

struct MountState {
    // `splice_reads_cache`: whether the page cache must be managed (see PageCache); a
    // test chooses, whatever kernel runs it.
    MountState(std::shared_ptr<const emulation::Container> c, const NodeTable& table, boost::asio::io_context& io,
               bool splice_reads_cache = splice_reads_page_cache())
        : container(std::move(c)), nodes(table), dynamic(NodeTable::first_dynamic_ino), page_cache(splice_reads_cache), events(io) {
        clock_gettime(CLOCK_REALTIME, &mounted_at);
    }

    std::shared_ptr<const emulation::Container> container;
    const NodeTable& nodes;
    DynamicNodes dynamic;
    timespec mounted_at{};
    std::unique_ptr<Kernel> kernel;  // the session's replies and notifications
    PageCache page_cache;
    Snapshots snapshots;  // the open files' renderings, shared and capped
    EventSources events;  // of the open files (PSI triggers); stopped before the session goes
    Handles<OpenFile> files;
    Handles<OpenDir> dirs;
    RequestStats stats;  // what its requests did (ecifsctl stats)
    // Run work that may block on the kernel's page locks off the pool threads, which
    // must stay free to answer the READs holding those locks.
    std::function<void(std::function<void()>)> run_blocking;

    // Inodes the mount knows now: the static tree's and the dynamic ones held.
    size_t node_count() const { return nodes.size() + dynamic.size(); }
    // Counts a request answered in `stats`, under its file (fs/mount_figures.cpp).
    void record_request(fuse_ino_t ino, RequestKind kind, RequestStats::Clock::time_point started, int err);
};

// One request: libfuse's handle, which its reply is sent with, the mount it came on,
// and the calling process; and, for `ecifsctl stats`, the inode and kind it is counted
// under and when it began (each reply records it once: a kind of `count` is not counted).
struct Request {
    fuse_req_t id;
    MountState& state;
    pid_t caller;
    fuse_ino_t ino = 0;
    RequestKind kind = RequestKind::count;
    RequestStats::Clock::time_point started{};

    handlers::Context context() const { return {*state.container, caller}; }

    int reply_err(int err) const { return counted(state.kernel->reply_err(id, err), err); }
    void reply_none() const { state.kernel->reply_none(id); }
    int reply_entry(const fuse_entry_param& entry) const { return counted(state.kernel->reply_entry(id, entry)); }
    int reply_attr(const struct stat& st, double timeout) const {
        return counted(state.kernel->reply_attr(id, st, timeout));
    }
    int reply_open(const fuse_file_info& fi) const { return counted(state.kernel->reply_open(id, fi)); }
    int reply_buf(const char* data, size_t size) const { return counted(state.kernel->reply_buf(id, data, size)); }
    int reply_write(size_t count) const { return counted(state.kernel->reply_write(id, count)); }
    int reply_poll(unsigned revents) const { return counted(state.kernel->reply_poll(id, revents)); }
    int reply_readlink(const char* link) const { return counted(state.kernel->reply_readlink(id, link)); }

private:
    int counted(int sent, int err = 0) const {
        if (kind != RequestKind::count) state.record_request(ino, kind, started, err);
        return sent;
    }
};

// The operations, with fuse_lowlevel_ops' arguments after the request.
namespace op {
void lookup(const Request&, fuse_ino_t parent, const char* name);
void forget(const Request&, fuse_ino_t ino, uint64_t nlookup);
void forget_multi(const Request&, size_t count, fuse_forget_data* forgets);
void getattr(const Request&, fuse_ino_t ino, fuse_file_info* fi);
void setattr(const Request&, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info* fi);
void opendir(const Request&, fuse_ino_t ino, fuse_file_info* fi);
void readdir(const Request&, fuse_ino_t ino, size_t size, off_t offset, fuse_file_info* fi);
void releasedir(const Request&, fuse_ino_t ino, fuse_file_info* fi);
void readlink(const Request&, fuse_ino_t ino);
void open(const Request&, fuse_ino_t ino, fuse_file_info* fi);
void read(const Request&, fuse_ino_t ino, size_t size, off_t offset, fuse_file_info* fi);
void write(const Request&, fuse_ino_t ino, const char* data, size_t size, off_t offset, fuse_file_info* fi);
void flush(const Request&, fuse_ino_t ino, fuse_file_info* fi);
void release(const Request&, fuse_ino_t ino, fuse_file_info* fi);
void poll(const Request&, fuse_ino_t ino, fuse_file_info* fi, fuse_pollhandle* ph);
}  // namespace op

// The operations table for fuse_session_new.
const fuse_lowlevel_ops& operations();

}  // namespace ecifs::fs
