#pragma once
// One container's FUSE mount, served by the daemon's FUSE threads (fs/fuse_loop.hpp):
// a request is received, processed and answered by the thread that saw the session's
// /dev/fuse fd readable. No thread per mount.
#include <fuse_lowlevel.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <shared_mutex>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "fs/fuse_loop.hpp"
#include "fs/mount_figures.hpp"
#include "fs/operations.hpp"
#include "sys/fd.hpp"

namespace ecifs::fs {

class FuseMount : public std::enable_shared_from_this<FuseMount> {
public:
    // Creates `mountpoint` (one level) and mounts there; `pool_threads` FUSE threads
    // serve it (the daemon's loop, started by the first mount: FuseLoop::shared).
    // Throws std::runtime_error.
    // With a `journal`, the mount's dynamic inodes are written there (see
    // DynamicNodes::keep_journal) for a daemon that adopts it after a restart.
    static std::shared_ptr<FuseMount> create(boost::asio::io_context& io, unsigned pool_threads,
                                             std::filesystem::path mountpoint,
                                             std::shared_ptr<const emulation::Container> container,
                                             const std::filesystem::path& journal = {});
    // Serve a mount an earlier daemon made (docs/restart.md): `connection` is its
    // /dev/fuse file, kept open by the fd holder, and `init_request` the INIT the kernel
    // sent it (init_request()). The new session is fed that INIT, its reply dropped
    // (the kernel negotiated once), and the kernel is told to send again every request
    // the earlier daemon had taken and not answered (FUSE_NOTIFY_RESEND, Linux 6.9).
    // Throws std::runtime_error.
    static std::shared_ptr<FuseMount> adopt(boost::asio::io_context& io, unsigned pool_threads,
                                            std::filesystem::path mountpoint,
                                            std::shared_ptr<const emulation::Container> container,
                                            sys::Fd connection, const std::string& init_request,
                                            const std::filesystem::path& journal);
    ~FuseMount();
    FuseMount(const FuseMount&) = delete;
    FuseMount& operator=(const FuseMount&) = delete;

    // Begin serving requests.
    void start();
    // Stop serving, unmount (lazily: a container still holding a bind copy then gets
    // ENOTCONN) and remove the mountpoint. Waits for requests already being processed.
    void stop();

    // Stop serving and leave the mount as it is, for a daemon that adopts it (the fd
    // holder keeps the connection). Waits for requests already being processed.
    void leave();

    const std::filesystem::path& mountpoint() const { return mountpoint_; }
    // The /dev/fuse file the connection lives by, for the fd holder.
    int connection_fd() const { return fuse_session_fd(session_); }
    // The kernel's INIT request, as it came (see adopt()).
    const std::string& init_request() const { return init_request_; }
    // Inodes the mount holds now (see MountState::node_count).
    size_t nodes() const { return state_.node_count(); }
    // What its requests did, by file; the files and listings open now (ecifsctl stats).
    MountFigures request_figures() const { return mount_figures(state_); }
    size_t open_files() const { return state_.files.size(); }
    size_t open_dirs() const { return state_.dirs.size(); }

    // A detached copy of the mount (open_tree(OPEN_TREE_CLONE), close-on-exec), which
    // a process in another mount namespace can attach there with move_mount(2); it
    // serves the same FUSE connection. Returns the new fd, or -1 with errno.
    int clone_tree() const;

private:
    FuseMount(boost::asio::io_context& io, unsigned pool_threads, std::filesystem::path mountpoint,
              std::shared_ptr<const emulation::Container> container);
    void set_up_session();
    bool stop_serving();
    void receive_init();
    void serve_fd(int fd);
    int fd() const { return fuse_session_fd(session_); }
    void arm();
    void on_readable();
    void process_one(fuse_buf& request);
    unsigned max_busy_threads() const;

    std::filesystem::path mountpoint_;
    MountState state_;
    fuse_session* session_ = nullptr;
    FuseLoop& loop_;
    uint64_t loop_key_ = 0;  // 0: not served (yet, or any more)
    // Shared while a request is received and processed; exclusive to close the fd.
    std::shared_mutex io_mutex_;
    bool closed_ = false;
    bool adopted_ = false;  // no libfuse mountpoint: stop() unmounts it itself
    std::string init_request_;
    const unsigned pool_threads_;
    std::atomic<unsigned> busy_threads_{0};  // threads processing this mount's requests
};

}  // namespace ecifs::fs
