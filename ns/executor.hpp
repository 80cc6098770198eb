#pragma once
// Namespaced sysctls are answered inside the caller's namespaces, by a long-lived
// helper process that joined them once (a thread cannot join a user namespace, and a
// process per request costs milliseconds). One executor serves one set of namespaces
// (user, net, uts, ipc); it is started on first use and reaped when idle, and a
// container has at most max_executors of them (ns/executor_table.hpp).
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "ns/executor_table.hpp"
#include "sys/caller_task.hpp"
#include "sys/fd.hpp"
#include "sys/wire.hpp"

namespace ecifs::ns {

// A /proc/sys entry as the executor's namespaces show it.
struct SysctlEntry {
    std::string name;
    bool is_dir = false;
    mode_t mode = 0;             // permission bits
    bool owned_by_root = false;  // by root of the executor's user namespace (else unmapped)
};

class NsExecutor {
public:
    // Start a helper inside the user, net, uts and ipc namespaces of `ns` (those of
    // thread `target`, named in its error messages), running `exe __ns-executor`.
    // Throws std::runtime_error.
    NsExecutor(const sys::Namespaces& ns, pid_t target, const std::string& exe);
    ~NsExecutor();
    NsExecutor(const NsExecutor&) = delete;
    NsExecutor& operator=(const NsExecutor&) = delete;

    // Paths are relative to /proc/sys. Each returns 0 or a positive errno (the kernel's
    // own, as seen by the container's root in those namespaces; EIO if the helper died).
    // Opens, reads and writes act with the effective ids and capabilities of thread
    // `caller` (EACCES when it is gone): the kernel decides who may, by its own rules.
    int read(pid_t caller, const std::string& path, std::string& out);
    int write(pid_t caller, const std::string& path, std::string_view data);
    int stat(const std::string& path, SysctlEntry& out);
    // An open of `path` with `access` (O_RDONLY, O_WRONLY or O_RDWR), and for a regular
    // file opened for reading its content too, in one exchange with the helper. Returns
    // the open's errno; when it is 0 and the entry is a file, `read_result` and `content`
    // are what a read returned at that moment (EBADF for a write-only open). For a
    // directory `read_result` is EISDIR.
    int open(pid_t caller, const std::string& path, int access, SysctlEntry& entry, int& read_result,
             std::string& content);
    int list(const std::string& dir, std::vector<SysctlEntry>& out);

    pid_t pid() const { return pid_; }
    // Never blocks, even while a request is in flight.
    bool alive() const { return !dead_; }

    // How long one request may take, waiting for the one in flight before it included:
    // a helper that hangs must not hang a FUSE request for ever.
    static constexpr std::chrono::seconds exchange_timeout{5};

private:
    // One exchange with the helper, within exchange_timeout of the call; on success
    // `take` reads the reply. A helper that does not answer in time, or answers out of
    // step, is dead (EIO, and the next request gets a new one).
    int call(const sys::wire::Message& request, const std::function<void(const sys::wire::Message&)>& take);

    pid_t pid_ = -1;
    sys::Fd socket_;
    std::timed_mutex mutex_;  // one request in flight per executor
    std::atomic<bool> dead_ = false;
};

// The executors of one container, keyed by the namespaces of whoever asks, so that a
// shell that ran `unshare -n` inside the container reaches its own network namespace.
class NsExecutors {
public:
    // Each executor is a process of the daemon, holding a user namespace (and its
    // ucounts) alive: a container that makes a namespace set per request (`unshare -Ur`
    // in a loop) gets at most this many, the least recently used ended for a new one. A
    // container's own sets (its own, a few `unshare -n` shells, nested runtimes) are far
    // fewer; above it, requests still succeed, at the cost of a start each.
    static constexpr std::size_t max_executors = 32;

    explicit NsExecutors(std::size_t cap = max_executors) : table_(cap) {}

    // The executor for the namespaces of thread `caller` (any thread of a process; or
    // `fallback`'s, e.g. the container's init, when the caller is gone). Throws
    // std::runtime_error. A new executor is started without holding the container's
    // table (a start for one set never stalls requests for another).
    std::shared_ptr<NsExecutor> for_process(pid_t caller, pid_t fallback);
    // Stop executors unused for `idle`.
    void reap_idle(std::chrono::steady_clock::duration idle);
    void clear();
    std::size_t size() const;

private:
    using Key = std::tuple<ino_t, ino_t, ino_t, ino_t>;  // user, net, uts, ipc
    ExecutorTable<Key, NsExecutor> table_;
};

// The helper's main: serve requests on `socket_fd` after joining the namespaces it
// inherited (fds 4-7: user, net, uts, ipc) of thread `target`. Returns the process's
// exit status.
int run_ns_executor(int socket_fd, pid_t target);

// The daemon's own executable, for spawning helpers: /proc/self/exe, the very image the
// daemon runs, not the path it was started from. A helper must speak its daemon's
// protocol, and during an upgrade the path names the new binary (or, while it is being
// written, a file that cannot be run: EACCES, found by the stress soak).
const std::string& self_executable();

}  // namespace ecifs::ns
