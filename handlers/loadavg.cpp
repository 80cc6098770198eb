// /proc/loadavg: the container's load average (emulation/loadavg.hpp, sampled by the
// daemon every 5 s), its running/total threads and the last pid of its pid namespace
// (fs/proc/loadavg.c's loadavg_proc_show).
#include <cerrno>

#include <fmt/format.h>

#include "emulation/container.hpp"
#include "handlers/families.hpp"
#include "handlers/format.hpp"
#include "handlers/resources.hpp"

namespace ecifs::handlers {

std::string render_loadavg(const emulation::LoadAverage& load, const emulation::TaskCounts& tasks) {
    return fmt::format("{} {}/{} {}\n", load.format(), tasks.running, tasks.total, tasks.last_pid);
}

int show_loadavg(const ContainerView& view, std::string& out) {
    // Folds a period the sampler has not reached yet, so no read is ever stale.
    emulation::refresh_load(view.container, emulation::LoadAverage::Clock::now(), view.caller);
    // Counts from the sampler's last pass and the cgroup's task counter: no read of
    // every task's state, nor of the task list, per open (emulation::current_tasks).
    const auto tasks = emulation::current_tasks(view.container, view.cgroup, view.caller,
                                                emulation::pid_ns_level(view.host, view.init.pid));
    out = render_loadavg(view.container.load(), tasks);
    return 0;
}

}  // namespace ecifs::handlers
