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
#include "fs/page_cache.hpp"

namespace ecifs::fs {

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
    PageCache page_cache{splice_reads_page_cache()};
    EventSources events;  // of the open files (PSI triggers); stopped before the session goes
    // Run work that may block on the kernel's page locks off the pool threads, which
    // must stay free to answer the READs holding those locks.
    std::function<void(std::function<void()>)> run_blocking;
};

// The operations table for fuse_session_new.
const fuse_lowlevel_ops& operations();

}  // namespace ecifs::fs
