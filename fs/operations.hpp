#pragma once
// The FUSE low-level operations: thin functions over the node table and the
// handlers' generators. The session's userdata is a MountState.
#include <fuse_lowlevel.h>

#include <ctime>
#include <memory>

#include "emulation/container.hpp"
#include "fs/node_table.hpp"

namespace ecifs::fs {

struct MountState {
    std::shared_ptr<const emulation::Container> container;
    const NodeTable& nodes;
    timespec mounted_at{};
};

// The operations table for fuse_session_new.
const fuse_lowlevel_ops& operations();

}  // namespace ecifs::fs
