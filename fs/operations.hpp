#pragma once
// The FUSE low-level operations: thin functions over the node tables and the
// handlers. The session's userdata is a MountState.
#include <fuse_lowlevel.h>

#include <ctime>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "emulation/container.hpp"
#include "fs/dynamic_nodes.hpp"
#include "fs/event_sources.hpp"
#include "fs/node_table.hpp"

namespace ecifs::fs {

// What the kernel may believe a file's size is. Files report st_size 0, as procfs
// does, and are opened direct_io; but splice and sendfile (busybox cat) still go
// through the page cache and stop at i_size. So before an open returns, i_size must
// be at least the snapshot's length (a store notification extends it), and a short
// read shrinks it again. Tracking a lower bound lets most opens skip the notification.
class SizeFloors {
public:
    struct Need {
        bool extend = false;
        uint64_t shrinks_seen = 0;
    };
    Need need_extend(fuse_ino_t ino, uint64_t length);
    void extended(fuse_ino_t ino, uint64_t length, uint64_t shrinks_seen);
    void may_shrink(fuse_ino_t ino, uint64_t length);

private:
    struct Floor {
        uint64_t size = 0, shrinks = 0;
    };
    std::mutex mutex_;
    std::unordered_map<fuse_ino_t, Floor> floors_;
};

struct MountState {
    MountState(std::shared_ptr<const emulation::Container> c, const NodeTable& table, boost::asio::io_context& io)
        : container(std::move(c)), nodes(table), dynamic(table.size() + 1), events(io) {
        clock_gettime(CLOCK_REALTIME, &mounted_at);
    }

    std::shared_ptr<const emulation::Container> container;
    const NodeTable& nodes;
    DynamicNodes dynamic;
    timespec mounted_at{};
    fuse_session* session = nullptr;
    SizeFloors size_floors;
    EventSources events;  // of the open files (PSI triggers); stopped before the session goes
    // Run work that may block on the kernel's page locks off the pool threads, which
    // must stay free to answer the READs holding those locks.
    std::function<void(std::function<void()>)> run_blocking;
};

// The operations table for fuse_session_new.
const fuse_lowlevel_ops& operations();

}  // namespace ecifs::fs
