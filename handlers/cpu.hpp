#pragma once
// Which host CPUs a container sees: what /proc/cpuinfo, /proc/stat, /proc/uptime and
// /sys/devices/system/cpu (handlers/sys_cpu.cpp) show of its CPUs.
#include "cgroup/cgroup.hpp"
#include "emulation/host.hpp"

namespace ecifs::handlers {

// The host CPUs the container may run on: its cpuset (the host's online CPUs without
// one), cut to the first ceil(quota) of them when a CPU quota is tighter. The container
// sees them renumbered 0..n-1 in this order. Never empty: at least one CPU is kept.
cgroup::CpuList visible_cpus(const cgroup::Cgroup& cgroup, const emulation::Host& host);

}  // namespace ecifs::handlers
