#pragma once
// The daemon: the one io_context and its thread pool, the control socket, and the
// containers it serves. Like the Asio examples' server: one owner of the loop, each
// source re-arms itself, shutdown cancels the sources and run() returns.
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "control/server.hpp"
#include "daemon/fd_holder.hpp"
#include "daemon/load_sampler.hpp"
#include "daemon/pid_watch.hpp"
#include "daemon/saved_state.hpp"
#include "emulation/container.hpp"
#include "fs/fuse_mount.hpp"
#include "seccomp/listener.hpp"
#include "seccomp/trapper.hpp"
#include "sys/fd.hpp"

namespace ecifs::daemon {

struct Options {
    std::filesystem::path state_dir = "/var/lib/ecifs";
    std::filesystem::path socket_path = "/run/ecifs/ecifs.sock";
    // Where runtimes hand over seccomp notify fds; empty: seccomp.sock beside socket_path.
    std::filesystem::path seccomp_socket_path;
    unsigned threads = 2;
    // A control connection that neither sends nor takes anything this long is closed.
    std::chrono::milliseconds client_timeout = std::chrono::seconds(60);
    // Told once the daemon serves (every socket bound, the containers restored) and once
    // it begins to stop; and what SIGHUP asks for (the log file opened again).
    std::function<void()> on_ready, on_stopping, on_hangup;
};

class Daemon {
public:
    // Creates the state directory and binds the control socket; throws with a message
    // fit for the shell.
    explicit Daemon(Options options);
    ~Daemon();

    boost::asio::io_context& io() { return io_; }
    // Serve until SIGTERM/SIGINT (the containers stay for the next daemon) or a
    // stop-all request (they go).
    void run();

private:
    struct Entry {
        std::shared_ptr<emulation::Container> container;
        std::shared_ptr<fs::FuseMount> mount;
        std::unique_ptr<PidWatch> watch;  // the creating runtime until started, then init
        std::vector<seccomp::Mask> masks;  // the runtime's, for a proc/sysfs mounted inside
        SavedContainer record;           // who it is (its creator, whether started), as kept on disk
        std::vector<std::string> held;   // its fds' keys in the fd holder
        std::shared_ptr<seccomp::OwnMounts> own_mounts;  // the mounts it made through the trapper
        unsigned next_seccomp_key = 0;
    };

    control::Answer handle(const nlohmann::json& request, const control::Peer& peer);
    control::Answer prepare(const nlohmann::json& request, const control::Peer& peer);
    nlohmann::json start(const nlohmann::json& request);
    nlohmann::json remove(const nlohmann::json& request);
    nlohmann::json list();
    nlohmann::json inspect(const nlohmann::json& request);
    // daemon/describe.cpp: what list, inspect and stats answer.
    nlohmann::json stats(const nlohmann::json& request);
    nlohmann::json container_stats(const std::string& id, const Entry& entry) const;

    std::unique_ptr<PidWatch> watch(const std::string& id, pid_t pid);
    void forget(const std::string& id, pid_t only_if_watching = 0);
    void shutdown(bool unmount);
    void wait_for_signal();
    nlohmann::json stop_all();
    void reap_idle_executors();
    void remove_stale_mounts();
    void open_host_files();
    // daemon/restore.cpp: serving again what an earlier daemon served (docs/restart.md).
    void restore();
    bool adopt(const SavedContainer& record, std::map<std::string, sys::Fd>& held);
    void discard(const std::string& id);
    void keep_fd(Entry& entry, const std::string& key, int fd);
    void keep_new(Entry& entry, SavedContainer record);
    void persist_load(const std::string& id, const emulation::Container& container);
    void drop_kept(const std::string& id, const Entry& entry);
    void persist_values(const std::string& id, const emulation::Container& container,
                        std::map<std::string, std::string> values);
    std::shared_ptr<seccomp::OwnMounts> own_mounts_of(const std::string& id);
    void restore_own_mounts(const std::string& id, seccomp::OwnMounts& own, std::map<std::string, sys::Fd>& held);
    seccomp::TrapTarget trap_target_of(const std::string& id, const Entry& entry);
    std::shared_ptr<seccomp::CallRing> calls_of(Entry& entry, const std::string& key,
                                                std::map<std::string, sys::Fd>& held);
    std::function<void()> release_kept(const std::string& id, const std::string& key);
    std::filesystem::path container_dir(const std::string& id) const;
    std::optional<seccomp::TrapTarget> trap_target(const std::string& id);
    nlohmann::json describe(const std::string& id, const Entry& entry) const;

    Options options_;
    // flock(2)ed while the daemon lives: one daemon per state directory.
    sys::Fd state_lock_;
    SavedState saved_;
    std::optional<FdHolder> holder_;
    boost::asio::io_context io_;
    const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
    boost::asio::signal_set signals_;
    boost::asio::steady_timer executor_reaper_;
    boost::asio::steady_timer stop_timer_;
    std::optional<control::Server> server_;
    seccomp::SeccompTrapper trapper_;
    std::optional<seccomp::SeccompListener> listener_;
    std::mutex mutex_;
    std::map<std::string, Entry> containers_;
    // Folds every container's load average every 5 s (declared after what it lists).
    LoadSampler load_sampler_{io_, [this] {
        std::lock_guard lock(mutex_);
        std::vector<std::shared_ptr<emulation::Container>> all;
        for (const auto& [id, entry] : containers_) all.push_back(entry.container);
        return all;
    }};
};

}  // namespace ecifs::daemon
