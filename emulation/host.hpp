#pragma once
// Facts about the host kernel, read from its own procfs and sysfs. The roots are
// parameters so unit tests can point them at fixture trees.
#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <string>

#include "cgroup/cgroup.hpp"
#include "sys/files.hpp"

namespace ecifs::emulation {

struct Host {
    std::filesystem::path proc_root = "/proc";
    std::filesystem::path sys_root = "/sys";
    // The host files every open of a view reads, kept open (shared by copies).
    std::shared_ptr<sys::KeptFiles> kept = std::make_shared<sys::KeptFiles>();

    // The whole text of <proc_root>/<relative>; throws std::system_error on failure.
    // meminfo, stat and uptime are read with one pread of a kept descriptor: each is a
    // single_open seq_file, rendered afresh by a read at offset 0 and whole in one
    // buffer (the others list records, and a short read need not be their end).
    std::string read_proc(const std::string& relative) const;
    // Open the kept files now (a daemon's start), not at their first read.
    void open_kept_files() const;
    double uptime_seconds() const;               // first field of /proc/uptime
    cgroup::CpuList online_cpus() const;         // /sys/devices/system/cpu/online
    // Boot-relative start time of a process in seconds (/proc/PID/stat field 22).
    double process_start_seconds(pid_t pid) const;
    // Whether process or thread `pid` has `capability` (CAP_SYS_RESOURCE, ...) in its
    // effective set (/proc/PID/status CapEff); false when it is gone.
    bool has_capability(pid_t pid, int capability) const;
};

// The host the daemon runs on.
const Host& real_host();

}  // namespace ecifs::emulation
