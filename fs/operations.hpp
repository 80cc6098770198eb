#pragma once
// The FUSE low-level operations: thin functions over the node table and the
// handlers' generators. The session's userdata is a MountState.
#include <fuse_lowlevel.h>

#include <ctime>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "emulation/container.hpp"
#include "fs/node_table.hpp"

namespace ecifs::fs {

// What the kernel may believe a file's size is. Files report st_size 0, as procfs
// does, and are opened direct_io; but splice and sendfile (busybox cat) still go
// through the page cache and stop at i_size. So before an open returns, i_size must
// be at least the snapshot's length (a store notification extends it), and a short
// read shrinks it again. Tracking a lower bound lets most opens skip the notification.
class SizeFloors {
public:
    explicit SizeFloors(size_t nodes) : floor_(nodes + 1, 0), shrinks_(nodes + 1, 0) {}
    struct Need {
        bool extend = false;
        uint64_t shrinks_seen = 0;
    };
    Need need_extend(fuse_ino_t ino, uint64_t length);
    void extended(fuse_ino_t ino, uint64_t length, uint64_t shrinks_seen);
    void may_shrink(fuse_ino_t ino, uint64_t length);

private:
    std::mutex mutex_;
    std::vector<uint64_t> floor_, shrinks_;
};

struct MountState {
    std::shared_ptr<const emulation::Container> container;
    const NodeTable& nodes;
    timespec mounted_at{};
    fuse_session* session = nullptr;
    SizeFloors size_floors;
    // Run work that may block on the kernel's page locks off the pool threads, which
    // must stay free to answer the READs holding those locks.
    std::function<void(std::function<void()>)> run_blocking;
};

// The operations table for fuse_session_new.
const fuse_lowlevel_ops& operations();

}  // namespace ecifs::fs
