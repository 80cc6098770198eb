#pragma once
// One container's FUSE mount, served by the daemon's one io_context: the session's
// /dev/fuse fd is an Asio descriptor, and a request is received and processed by
// whichever pool thread sees it readable. No thread per mount.
#include <fuse_lowlevel.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <shared_mutex>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include "fs/operations.hpp"

namespace ecifs::fs {

class FuseMount : public std::enable_shared_from_this<FuseMount> {
public:
    // Creates `mountpoint` (one level) and mounts there; `pool_threads` serve `io`.
    // Throws std::runtime_error.
    static std::shared_ptr<FuseMount> create(boost::asio::io_context& io, unsigned pool_threads,
                                             std::filesystem::path mountpoint,
                                             std::shared_ptr<const emulation::Container> container);
    ~FuseMount();
    FuseMount(const FuseMount&) = delete;
    FuseMount& operator=(const FuseMount&) = delete;

    // Begin serving requests.
    void start();
    // Stop serving, unmount (lazily: a container still holding a bind copy then gets
    // ENOTCONN) and remove the mountpoint. Waits for requests already being processed.
    void stop();

    const std::filesystem::path& mountpoint() const { return mountpoint_; }
    // Inodes the mount holds now (see MountState::node_count).
    size_t nodes() const { return state_.node_count(); }

    // A detached copy of the mount (open_tree(OPEN_TREE_CLONE), close-on-exec), which
    // a process in another mount namespace can attach there with move_mount(2); it
    // serves the same FUSE connection. Returns the new fd, or -1 with errno.
    int clone_tree() const;

private:
    FuseMount(boost::asio::io_context& io, unsigned pool_threads, std::filesystem::path mountpoint,
              std::shared_ptr<const emulation::Container> container);
    void arm();
    void on_readable();
    void process_one(fuse_buf& request);
    unsigned max_busy_threads() const;

    std::filesystem::path mountpoint_;
    MountState state_;
    fuse_session* session_ = nullptr;
    boost::asio::posix::stream_descriptor descriptor_;
    // Shared while a request is received and processed; exclusive to close the fd.
    std::shared_mutex io_mutex_;
    bool closed_ = false;
    const unsigned pool_threads_;
    std::atomic<unsigned> busy_threads_{0};  // threads processing this mount's requests
};

}  // namespace ecifs::fs
