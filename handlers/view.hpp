#pragma once
// What a generator sees of a started container, and the one place that builds it.
//
// Every view of a running container needs the same things: its init (no init yet means
// no cgroup to show: EIO), its cgroup and the host. with_view() hands a generator all
// three ready, and turns an exception into EIO and a log line naming the file (fail
// closed, loudly), so a generator reads like the kernel's show function for its file.
#include <sys/types.h>

#include <functional>
#include <string>
#include <string_view>

#include "handlers/handler.hpp"

namespace ecifs::cgroup {
class Cgroup;
}

namespace ecifs::emulation {
struct InitFacts;
class Host;
}  // namespace ecifs::emulation

namespace ecifs::handlers {

struct ContainerView {
    const emulation::Container& container;
    const emulation::InitFacts& init;
    const cgroup::Cgroup& cgroup;  // init's
    const emulation::Host& host;
    pid_t caller = 0;  // used only to reach the caller's own namespaces
};

// Runs `body` with the container's view. Returns body's errno, EIO when the container
// has not started, or EIO when body throws, logged under "/" + `path` (the mount's path
// of the file, e.g. "proc/meminfo").
int with_view(const Context& ctx, std::string_view path, const std::function<int(const ContainerView&)>& body);

}  // namespace ecifs::handlers
