#include "daemon/daemon.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>
#include <vector>

#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include "handlers/handler.hpp"
#include "sys/files.hpp"
#include "sys/text.hpp"

namespace ecifs::daemon {

namespace {

using nlohmann::json;

// runc's rule for container IDs; it also keeps an ID a safe single path component.
void check_container_id(const std::string& id) {
    bool valid = !id.empty() && id.size() <= 1024 && id != "." && id != ".." &&
                 std::all_of(id.begin(), id.end(), [](unsigned char c) {
                     return std::isalnum(c) || c == '_' || c == '+' || c == '-' || c == '.';
                 });
    if (!valid) throw std::invalid_argument("invalid container id (allowed: letters, digits, _ + - .)");
}

std::string required_id(const json& request) {
    if (!request.contains("id") || !request["id"].is_string()) throw std::invalid_argument("missing string \"id\"");
    std::string id = request["id"].get<std::string>();
    check_container_id(id);
    return id;
}

template <typename T>
T optional_unsigned(const json& request, const char* key, T fallback) {
    if (!request.contains(key)) return fallback;
    const json& value = request[key];
    if (!value.is_number_unsigned() || value.get<uint64_t>() > std::numeric_limits<T>::max())
        throw std::invalid_argument(fmt::format("\"{}\" must be a non-negative integer", key));
    return value.get<T>();
}

bool optional_flag(const json& request, const char* key) {
    if (!request.contains(key)) return false;
    if (!request[key].is_boolean()) throw std::invalid_argument(fmt::format("\"{}\" must be true or false", key));
    return request[key].get<bool>();
}

// Whether `ancestor` is `pid`'s parent, or its parent's, and so on (/proc/PID/status's
// PPid chain, a bounded walk).
bool descends_from(pid_t pid, pid_t ancestor) {
    for (int depth = 0; depth < 64 && pid > 1; ++depth) {
        std::string status;
        if (sys::read_file(fmt::format("/proc/{}/status", pid), status) != 0) return false;
        auto ppid = sys::value_of(status, "PPid", ':');
        auto parent = ppid ? sys::whole_number<pid_t>(*ppid) : std::nullopt;
        if (!parent) return false;
        if (*parent == ancestor) return true;
        pid = *parent;
    }
    return false;
}

pid_t required_pid(const json& request, const char* key) {
    pid_t pid = optional_unsigned<pid_t>(request, key, 0);
    if (pid <= 0) throw std::invalid_argument(fmt::format("missing positive integer \"{}\"", key));
    return pid;
}

// linux.maskedPaths or linux.readonlyPaths as the prepare request carries them: absolute
// paths without "." or ".." components, as runc applies them inside the container.
std::vector<std::string> optional_paths(const json& request, const char* key) {
    std::vector<std::string> out;
    if (!request.contains(key)) return out;
    const json& list = request[key];
    if (!list.is_array() || list.size() > 1024) throw std::invalid_argument(fmt::format("\"{}\" must be a list of paths", key));
    for (const json& item : list) {
        const std::string path = item.is_string() ? item.get<std::string>() : std::string();
        const auto parts = std::filesystem::path(path);
        const bool clean = path.size() > 1 && path.size() < 4096 && path.front() == '/' &&
                           std::none_of(parts.begin(), parts.end(), [](const auto& p) { return p == "." || p == ".."; });
        if (!clean) throw std::invalid_argument(fmt::format("\"{}\": {} is not an absolute, plain path", key, item.dump()));
        out.push_back(path);
    }
    return out;
}

SavedContainer new_record(const std::string& id, uid_t root_uid, gid_t root_gid, pid_t creator,
                          std::vector<std::string> masked_paths, std::vector<std::string> readonly_paths) {
    SavedContainer record;
    record.id = id;
    record.root_uid = root_uid;
    record.root_gid = root_gid;
    record.creator = creator;
    if (creator > 0) record.creator_start = process_start(creator).value_or(0);
    record.masked_paths = std::move(masked_paths);
    record.readonly_paths = std::move(readonly_paths);
    return record;
}

// The state directory's lock, taken before anything in it is touched: a second daemon
// on the same directory would otherwise unmount the first one's live views as stale.
// The lock goes with the daemon's last descriptor of it, however it ends (a restarted
// daemon takes it again); helpers never inherit it (close-on-exec, and they close
// every descriptor they do not need).
sys::Fd lock_state_dir(const std::filesystem::path& dir) {
    std::filesystem::create_directories(dir / "containers");
    const auto path = dir / "lock";
    sys::Fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd) throw std::runtime_error(fmt::format("cannot open {}: {}", path.string(), std::strerror(errno)));
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK)
            throw std::runtime_error(fmt::format("cannot lock {}: {}", path.string(), std::strerror(errno)));
        char holder[32] = {};
        const ssize_t n = ::pread(fd.get(), holder, sizeof holder - 1, 0);
        std::string pid = n > 0 ? std::string(holder, static_cast<std::size_t>(n)) : "?";
        while (!pid.empty() && pid.back() == '\n') pid.pop_back();
        throw std::runtime_error(fmt::format("another ecifs daemon (pid {}) uses the state directory {}",
                                             pid, dir.string()));
    }
    return fd;
}

// The lock file names the daemon holding it (after detaching: the serving process).
void note_holder(const sys::Fd& lock) {
    const std::string mine = std::to_string(::getpid()) + "\n";
    if (::ftruncate(lock.get(), 0) != 0 || ::pwrite(lock.get(), mine.data(), mine.size(), 0) < 0)
        spdlog::warn("cannot write the daemon's pid into its state directory's lock: {}", std::strerror(errno));
}

}  // namespace

Daemon::Daemon(Options options)
    : options_(std::move(options)),
      state_lock_(lock_state_dir(options_.state_dir)),
      saved_(options_.state_dir / "records"),
      io_(static_cast<int>(options_.threads)),
      signals_(io_, SIGTERM, SIGINT, SIGHUP),
      executor_reaper_(io_),
      stop_timer_(io_),
      trapper_(io_) {
    // Containers' root users (often unprivileged on the host) must reach their mounts.
    ::chmod(options_.state_dir.c_str(), 0711);
    ::chmod((options_.state_dir / "containers").c_str(), 0711);
    server_.emplace(io_, options_.socket_path,
                    [this](const json& request, const control::Peer& peer) { return handle(request, peer); },
                    control::ServerLimits{.idle_timeout = options_.client_timeout});
    if (options_.seccomp_socket_path.empty())
        options_.seccomp_socket_path = options_.socket_path.parent_path() / "seccomp.sock";
    listener_.emplace(io_, options_.seccomp_socket_path,
                      [this](const std::string& id) { return trap_target(id); }, trapper_);
    // The executable by its magic link: an upgrade may have replaced the file.
    holder_.emplace(FdHolder::connect_or_spawn(options_.state_dir / "holder.sock", "/proc/self/exe"));
    // The FUSE threads' epoll and eventfd, for the daemon's life: made now, not by the
    // first mount, so a container leaves the daemon's descriptors as it found them. The
    // threads start in run(), after a detaching daemon has forked.
    fs::FuseLoop::shared(options_.threads);
    open_host_files();
    restore();
}

Daemon::~Daemon() = default;

// The host files every view reads are kept open for the daemon's life (Host::read_proc):
// opened now, like the FUSE threads' descriptors, not by the first container's read.
void Daemon::open_host_files() {
    try {
        emulation::real_host().open_kept_files();
    } catch (const std::exception& e) {
        spdlog::warn("cannot read the host's procfs: {}", e.what());
    }
}

// SIGHUP: what the options ask (logrotate's "reopen your log"); SIGTERM, SIGINT: stop
// and leave the containers to the next daemon.
void Daemon::wait_for_signal() {
    signals_.async_wait([this](const boost::system::error_code& ec, int signal) {
        if (ec) return;
        if (signal == SIGHUP) {
            if (options_.on_hangup) options_.on_hangup();
            spdlog::info("SIGHUP: {}", options_.on_hangup ? "log file opened again" : "nothing to do");
            wait_for_signal();
            return;
        }
        spdlog::info("signal {}: stopping; the containers stay for the next daemon (docs/restart.md)", signal);
        shutdown(false);
    });
}

void Daemon::run() {
    wait_for_signal();
    note_holder(state_lock_);
    server_->start();
    listener_->start();
    reap_idle_executors();
    load_sampler_.start();
    spdlog::info("ecifs serving on {} (state in {}, {} threads)", options_.socket_path.string(),
                 options_.state_dir.string(), options_.threads);
    if (options_.on_ready) options_.on_ready();
    fs::FuseLoop::shared(options_.threads).start();
    std::vector<std::thread> pool;
    for (unsigned i = 1; i < options_.threads; ++i) pool.emplace_back([this] { io_.run(); });
    io_.run();
    for (auto& thread : pool) thread.join();
    spdlog::info("ecifs stopped");
}

// Stop serving. With `unmount`, every container goes (views unmounted, records and the
// fd holder's copies dropped); without, they stay as they are for the next daemon, which
// serves them again (the requests this one left unanswered are sent to it again).
void Daemon::shutdown(bool unmount) {
    if (options_.on_stopping) options_.on_stopping();
    boost::system::error_code ignored;
    signals_.cancel(ignored);
    executor_reaper_.cancel();
    load_sampler_.stop();
    server_->stop();
    listener_->stop();
    trapper_.stop();
    std::map<std::string, Entry> all;
    {
        std::lock_guard lock(mutex_);
        all.swap(containers_);
    }
    for (auto& [id, entry] : all) {
        if (!unmount) {
            entry.mount->leave();
            continue;
        }
        spdlog::info("container {}: unmounting", id);
        entry.mount->stop();
        drop_kept(id, entry);
    }
}

// ecifsctl stop-all: every container goes now, the reply tells the operator so, and the
// daemon stops once it is sent.
nlohmann::json Daemon::stop_all() {
    std::vector<std::string> ids;
    {
        std::lock_guard lock(mutex_);
        for (const auto& [id, entry] : containers_) ids.push_back(id);
    }
    for (const auto& id : ids) forget(id);
    try {
        holder_->quit();
    } catch (const std::exception& e) {
        spdlog::warn("fd holder: {}", e.what());
    }
    spdlog::info("stop-all: {} containers removed; stopping", ids.size());
    stop_timer_.expires_after(std::chrono::milliseconds(100));
    stop_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec) shutdown(true);
    });
    return {{"removed", ids}};
}

// Namespace executors are cheap to start again: stop those a minute idle.
void Daemon::reap_idle_executors() {
    {
        std::lock_guard lock(mutex_);
        for (auto& [id, entry] : containers_) entry.container->executors().reap_idle(std::chrono::minutes(1));
    }
    executor_reaper_.expires_after(std::chrono::seconds(30));
    executor_reaper_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec) reap_idle_executors();
    });
}

// A previous daemon that died without cleaning up leaves dead FUSE mounts behind: every
// mount that restore() did not take on.
void Daemon::remove_stale_mounts() {
    for (const auto& dir : std::filesystem::directory_iterator(options_.state_dir / "containers")) {
        if (containers_.count(dir.path().filename().string())) continue;
        ::umount2(dir.path().c_str(), MNT_DETACH);
        if (::rmdir(dir.path().c_str()) == 0) spdlog::warn("removed stale mount {}", dir.path().string());
    }
}

// What a notify fd the runtime hands over for container `id` serves.
std::optional<seccomp::TrapTarget> Daemon::trap_target(const std::string& id) {
    std::lock_guard lock(mutex_);
    auto it = containers_.find(id);
    if (it == containers_.end()) return std::nullopt;
    return trap_target_of(id, it->second);
}

std::filesystem::path Daemon::container_dir(const std::string& id) const {
    return options_.state_dir / "containers" / id;
}

control::Answer Daemon::handle(const json& request, const control::Peer& peer) {
    const std::string op = request["op"].get<std::string>();
    if (op == "prepare") return prepare(request, peer);
    if (op == "start") return {start(request), {}};
    if (op == "remove") return {remove(request), {}};
    if (op == "list") return {list(), {}};
    if (op == "inspect") return {inspect(request), {}};
    if (op == "stats") return {stats(request), {}};
    if (op == "stop-all") return {stop_all(), {}};
    throw std::invalid_argument(fmt::format("unknown op \"{}\"", op));
}

control::Answer Daemon::prepare(const json& request, const control::Peer& peer) {
    const std::string id = required_id(request);
    const uid_t root_uid = optional_unsigned<uid_t>(request, "root_uid", 0);
    const gid_t root_gid = optional_unsigned<gid_t>(request, "root_gid", 0);
    const pid_t creator = optional_unsigned<pid_t>(request, "creator_pid", 0);
    // A runtime names itself (it execs the real one): never another process.
    if (creator > 0 && peer.pid > 0 && creator != peer.pid)
        throw std::invalid_argument(fmt::format("creator_pid {} is not the caller's pid {}", creator, peer.pid));
    const bool mount_fd = optional_flag(request, "mount_fd");
    SavedContainer record = new_record(id, root_uid, root_gid, creator, optional_paths(request, "masked_paths"),
                                       optional_paths(request, "readonly_paths"));
    std::lock_guard lock(mutex_);
    if (containers_.count(id)) throw std::invalid_argument(fmt::format("container {} is already prepared", id));
    Entry entry;
    entry.masks = seccomp::runtime_masks(record.masked_paths, record.readonly_paths, handlers::view_mounts());
    entry.container = std::make_shared<emulation::Container>(id, root_uid, root_gid);
    entry.mount = fs::FuseMount::create(io_, options_.threads, container_dir(id), entry.container, saved_.nodes_file(id));
    entry.own_mounts = own_mounts_of(id);
    keep_new(entry, std::move(record));
    entry.mount->start();
    // Until the runtime reports the init pid, the container lives as long as its creator.
    if (creator > 0) {
        try {
            entry.watch = watch(id, creator);
        } catch (const std::exception&) {
            drop_kept(id, entry);
            entry.mount->stop();
            throw std::invalid_argument(fmt::format("creator pid {} does not exist", creator));
        }
    }
    // A runtime in another mount namespace attaches this copy where it runs (see
    // shim/view_attach.hpp): the mount itself need not propagate there.
    sys::Fd tree;
    if (mount_fd) {
        tree.reset(entry.mount->clone_tree());
        if (!tree) {
            int err = errno;
            drop_kept(id, entry);
            entry.mount->stop();
            throw std::runtime_error(fmt::format("cannot copy the mount of {}: {}", id, std::strerror(err)));
        }
    }
    json views = json::array();
    for (std::string_view path : handlers::view_mounts()) {
        // A view is placed over the kernel's own file: where this kernel has none (no
        // nf_conntrack module, no DMI), there is nothing to cover and no mount point.
        std::string destination = "/" + std::string(path);
        if (!std::filesystem::exists(destination)) continue;
        views.push_back({{"source", (container_dir(id) / path).string()}, {"destination", destination}});
    }
    containers_.emplace(id, std::move(entry));
    spdlog::info("container {}: prepared, mounted at {}", id, container_dir(id).string());
    json reply = {{"mount", container_dir(id).string()},
                  {"views", views},
                  {"seccomp_listener", options_.seccomp_socket_path.string()}};
    if (tree) reply["mount_fd"] = true;
    return {std::move(reply), std::move(tree)};
}

// Kept before the runtime hears of the mount: from then on a restart finds it.
void Daemon::keep_new(Entry& entry, SavedContainer record) {
    try {
        record.fuse_init = entry.mount->init_request();
        persist_values(record.id, *entry.container, {});
        persist_load(record.id, *entry.container);
        keep_fd(entry, "fuse:" + record.id, entry.mount->connection_fd());
        saved_.save(record);
        entry.record = std::move(record);
    } catch (const std::exception&) {
        drop_kept(record.id, entry);
        entry.mount->stop();
        throw;
    }
}

json Daemon::start(const json& request) {
    const std::string id = required_id(request);
    const pid_t pid = required_pid(request, "pid");
    std::lock_guard lock(mutex_);
    auto it = containers_.find(id);
    if (it == containers_.end()) throw std::invalid_argument(fmt::format("unknown container {}", id));
    if (it->second.record.started) throw std::invalid_argument(fmt::format("container {} is already started", id));
    // The init a runtime reports is a process it started: no one else may tie this
    // container's views, executors and trapper to a process of the host's.
    if (it->second.record.creator > 0 && !descends_from(pid, it->second.record.creator))
        throw std::invalid_argument(fmt::format("pid {} is not a process of the runtime (pid {}) that prepared {}", pid,
                                                it->second.record.creator, id));
    emulation::InitFacts facts;
    facts.pid = pid;
    const std::string init_cgroup = cgroup::read_proc_cgroup(pid);
    facts.cgroup = cgroup::Cgroup(cgroup::resolve_cgroup_paths(init_cgroup));
    facts.start_seconds = it->second.container->host().process_start_seconds(pid);
    SavedContainer record = it->second.record;
    record.started = true;
    record.init_pid = pid;
    record.init_start = facts.start_seconds;
    record.init_cgroup = init_cgroup;
    saved_.save(record);
    it->second.record = std::move(record);
    it->second.watch = watch(id, pid);
    it->second.container->set_init(std::move(facts));
    spdlog::info("container {}: started, init pid {}", id, pid);
    return json::object();
}

json Daemon::remove(const json& request) {
    const std::string id = required_id(request);
    {
        std::lock_guard lock(mutex_);
        if (!containers_.count(id)) throw std::invalid_argument(fmt::format("unknown container {}", id));
    }
    forget(id);
    return json::object();
}

std::unique_ptr<PidWatch> Daemon::watch(const std::string& id, pid_t pid) {
    return std::make_unique<PidWatch>(io_, pid, [this, id, pid] {
        spdlog::info("container {}: pid {} exited", id, pid);
        forget(id, pid);
    });
}

// Unmount and drop a container. With `only_if_watching`, only if that pid is still
// the one the entry watches (a stale exit notice must not remove a newer entry).
void Daemon::forget(const std::string& id, pid_t only_if_watching) {
    Entry entry;
    {
        std::lock_guard lock(mutex_);
        auto it = containers_.find(id);
        if (it == containers_.end()) return;
        if (only_if_watching && (!it->second.watch || it->second.watch->pid() != only_if_watching)) return;
        entry = std::move(it->second);
        containers_.erase(it);
    }
    entry.mount->stop();
    drop_kept(id, entry);
    entry.container->executors().clear();
    trapper_.forget(id);
    spdlog::info("container {}: removed", id);
}

json Daemon::inspect(const json& request) {
    const std::string id = required_id(request);
    std::lock_guard lock(mutex_);
    auto it = containers_.find(id);
    if (it == containers_.end()) throw std::invalid_argument(fmt::format("unknown container {}", id));
    return {{"container", describe(id, it->second)}};
}

}  // namespace ecifs::daemon
