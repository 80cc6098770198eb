#pragma once
// One container as the daemon knows it. The FUSE mount is its identity: every
// request on that mount is served from this object.
#include <sys/types.h>

#include <memory>
#include <mutex>
#include <string>

#include "cgroup/cgroup.hpp"
#include "emulation/host.hpp"
#include "emulation/loadavg.hpp"
#include "emulation/shown_counters.hpp"
#include "ns/executor.hpp"
#include "sysctl/store.hpp"

namespace ecifs::emulation {

// Facts learned once the container's init process exists.
struct InitFacts {
    pid_t pid = 0;
    double start_seconds = 0;  // boot-relative start of init, for uptime
    cgroup::Cgroup cgroup;
};

class Container {
public:
    Container(std::string id, uid_t root_uid, gid_t root_gid, const Host& host = real_host())
        : id_(std::move(id)), root_uid_(root_uid), root_gid_(root_gid), host_(host) {}

    const std::string& id() const { return id_; }
    // The host ids that are root inside the container's user namespace (0 without one):
    // files are owned by them so they show as root inside.
    uid_t root_uid() const { return root_uid_; }
    gid_t root_gid() const { return root_gid_; }
    const Host& host() const { return host_; }

    void set_init(InitFacts facts) {
        auto shared = std::make_shared<const InitFacts>(std::move(facts));
        std::lock_guard lock(mutex_);
        init_ = std::move(shared);
    }
    // Null until the runtime has told us the init pid.
    std::shared_ptr<const InitFacts> init() const {
        std::lock_guard lock(mutex_);
        return init_;
    }

    // The container's own values of what ecifs emulates, keyed by path: sysctls, module
    // parameters, its product_uuid.
    sysctl::Store& own_values() const { return own_values_; }
    // Helpers inside the container's namespaces, for namespaced sysctls (thread-safe).
    ns::NsExecutors& executors() const { return executors_; }

    // The container's load average, fed by the daemon's sampler (thread-safe).
    LoadAverage& load() const { return load_; }

    // The CPU lines its /proc/stat showed last (thread-safe).
    ShownCounters& shown_cpu_lines() const { return shown_cpu_lines_; }

private:
    const std::string id_;
    const uid_t root_uid_;
    const gid_t root_gid_;
    const Host& host_;
    mutable std::mutex mutex_;
    std::shared_ptr<const InitFacts> init_;
    mutable sysctl::Store own_values_;
    mutable ns::NsExecutors executors_;
    mutable LoadAverage load_;
    mutable ShownCounters shown_cpu_lines_;
};

}  // namespace ecifs::emulation
