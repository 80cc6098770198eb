#pragma once
// The container's age, one computation for /proc/uptime, /proc/stat and sysinfo(2).
#include <cstdint>

#include "handlers/view.hpp"

namespace ecifs::handlers {

// Time since the container's init started, in 1/`per_second` s: the host's uptime and
// init's start each rounded to that unit, then subtracted (so the views agree, and one
// read later never shows less). 0 if init seems to start in the future.
uint64_t container_uptime(const ContainerView& view, uint64_t per_second = 100);

}  // namespace ecifs::handlers
