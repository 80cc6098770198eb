// Serving again what an earlier daemon served (docs/restart.md): its records on disk,
// the FUSE connections and seccomp notify fds the fd holder kept, the containers whose
// processes still run.
#include <algorithm>
#include <cstdlib>

#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include "daemon/daemon.hpp"
#include "handlers/handler.hpp"
#include "sys/log_limit.hpp"

namespace ecifs::daemon {

namespace {

std::string seccomp_key_prefix(const std::string& id) { return "seccomp:" + id + ":"; }
// The fd holder's key of the memory a notify fd's calls are received into
// (seccomp/call_ring.hpp), after the notify fd's own ("seccomp:ID:N" -> "calls:ID:N").
std::string calls_key(const std::string& seccomp_key) { return "calls:" + seccomp_key.substr(seccomp_key.find(':') + 1); }
// The fd holder's key of a mount namespace the container made mounts in.
std::string mount_ns_key(const std::string& id, ino_t ino) { return fmt::format("mntns:{}:{}", id, ino); }

// Whether the process a record names is the one that runs under its pid now.
bool still_runs(pid_t pid, double start) {
    const auto now = pid > 0 ? process_start(pid) : std::nullopt;
    return now && *now == start;
}

}  // namespace

void Daemon::restore() {
    saved_.remove_unfinished_writes();
    std::map<std::string, sys::Fd> held;
    for (auto& [key, fd] : holder_->list()) held.emplace(key, std::move(fd));
    auto loaded = saved_.load_all();
    for (const auto& error : loaded.errors) spdlog::error("saved state: {} (left as it is)", error);
    for (const auto& record : loaded.containers) {
        bool adopted = false;
        try {
            adopted = adopt(record, held);
        } catch (const std::exception& e) {
            spdlog::error("container {}: cannot serve it again: {}", record.id, e.what());
        }
        if (!adopted) discard(record.id);
    }
    for (auto& [key, fd] : held) {  // nothing took them: their connections may end
        spdlog::info("fd holder: dropping {}, which no container claims", key);
        holder_->remove(key);
    }
    remove_stale_mounts();
}

bool Daemon::adopt(const SavedContainer& record, std::map<std::string, sys::Fd>& held) {
    const std::string& id = record.id;
    const pid_t pid = record.started ? record.init_pid : record.creator;
    const bool operators = pid == 0;  // prepared by hand (ecifsctl): it lives until removed
    if (!operators && !still_runs(pid, record.started ? record.init_start : record.creator_start)) {
        spdlog::info("container {}: pid {} ended while no daemon ran; forgotten", id, pid);
        return false;
    }
    auto fuse = held.extract("fuse:" + id);
    if (fuse.empty()) {
        spdlog::warn("container {}: the fd holder kept no FUSE connection for it; forgotten", id);
        return false;
    }
    std::lock_guard lock(mutex_);
    Entry entry;
    entry.record = record;
    entry.masks = seccomp::runtime_masks(record.masked_paths, record.readonly_paths, handlers::view_mounts());
    entry.container = std::make_shared<emulation::Container>(id, record.root_uid, record.root_gid);
    std::map<std::string, std::string> values;
    try {
        values = saved_.load_values(id);
    } catch (const std::exception& e) {
        spdlog::error("container {}: {}; its values start from the defaults", id, e.what());
    }
    persist_values(id, *entry.container, std::move(values));
    if (auto load = saved_.load_load(id)) entry.container->load().restore(*load);
    persist_load(id, *entry.container);
    if (record.started) {
        emulation::InitFacts facts;
        facts.pid = pid;
        // Where the init was at the start, not where it is now (systemd moved it below).
        facts.cgroup = cgroup::Cgroup(cgroup::resolve_cgroup_paths(
            record.init_cgroup.empty() ? cgroup::read_proc_cgroup(pid) : record.init_cgroup));
        facts.start_seconds = entry.container->host().process_start_seconds(pid);
        entry.container->set_init(std::move(facts));
    }
    entry.own_mounts = own_mounts_of(id);
    restore_own_mounts(id, *entry.own_mounts, held);
    entry.mount = fs::FuseMount::adopt(io_, options_.threads, container_dir(id), entry.container,
                                       std::move(fuse.mapped()), record.fuse_init, saved_.nodes_file(id));
    entry.held.push_back("fuse:" + id);
    if (!operators) entry.watch = watch(id, pid);
    const std::string prefix = seccomp_key_prefix(id);
    for (auto it = held.lower_bound(prefix); it != held.end() && it->first.starts_with(prefix);) {
        entry.held.push_back(it->first);
        // After the highest number kept (not their count: released ones leave gaps).
        const unsigned number = static_cast<unsigned>(std::strtoul(it->first.c_str() + prefix.size(), nullptr, 10));
        entry.next_seccomp_key = std::max(entry.next_seccomp_key, number + 1);
        auto target = trap_target_of(id, entry);
        target.released = release_kept(id, it->first);
        target.pending = std::make_shared<seccomp::PendingCalls>(saved_.pending_dir(), it->first,
                                                                 calls_of(entry, it->first, held));
        trapper_.add(it->second.release(), std::move(target));
        it = held.erase(it);
    }
    entry.mount->start();
    spdlog::info("container {}: served again (pid {}, {} seccomp notify fds)", id, pid, entry.held.size() - 1);
    containers_.emplace(id, std::move(entry));
    return true;
}

// A container whose record is left but which is not served again: its files go (its
// mount with every other one restore() did not take on: remove_stale_mounts).
void Daemon::discard(const std::string& id) { saved_.erase(id); }

// After each fold the load average goes to disk, whoever folded it (the sampler or a
// read of /proc/loadavg), so the next daemon goes on from the very same figures.
void Daemon::persist_load(const std::string& id, const emulation::Container& container) {
    container.load().on_fold([this, id](const emulation::LoadAverage::Saved& load) {
        try {
            saved_.save_load(id, load);
        } catch (const std::exception& e) {
            sys::log_limited(spdlog::level::err, id, "load", "container {}: {}", id, e.what());
        }
    });
}

void Daemon::keep_fd(Entry& entry, const std::string& key, int fd) {
    holder_->put(key, fd);
    entry.held.push_back(key);
}

// Best effort: a holder that is gone keeps nothing anyway.
void Daemon::drop_kept(const std::string& id, const Entry& entry) {
    std::vector<std::string> keys = entry.held;
    if (entry.own_mounts) {
        entry.own_mounts->keep_with({});  // a mount still being made is not kept for a restart
        for (ino_t ino : entry.own_mounts->held()) keys.push_back(mount_ns_key(id, ino));
    }
    for (const auto& key : keys) {
        try {
            holder_->remove(key);
        } catch (const std::exception& e) {
            spdlog::warn("container {}: fd holder: {}", id, e.what());
        }
    }
    saved_.erase(id);
}

// A value the disk cannot take is still the container's until the daemon stops; the
// failure is logged (a restart would show the earlier value).
void Daemon::persist_values(const std::string& id, const emulation::Container& container,
                            std::map<std::string, std::string> values) {
    container.own_values().persist_with(std::move(values), [this, id](const std::map<std::string, std::string>& all) {
        try {
            saved_.save_values(id, all);
        } catch (const std::exception& e) {
            sys::log_limited(spdlog::level::err, id, "save", "container {}: {}", id, e.what());
        }
    });
}

// The mounts the container makes through the trapper, kept for the next daemon: each
// mount namespace they are in by the fd holder (it pins the mount ids, see
// seccomp/own_mounts.hpp), the ids on disk.
std::shared_ptr<seccomp::OwnMounts> Daemon::own_mounts_of(const std::string& id) {
    auto own = std::make_shared<seccomp::OwnMounts>();
    seccomp::OwnMounts::Keeper keeper;
    keeper.pin = [this, id](ino_t ino, int mnt_ns) {
        try {
            holder_->put(mount_ns_key(id, ino), mnt_ns);
        } catch (const std::exception& e) {
            sys::log_limited(spdlog::level::err, id, "mntns", "container {}: fd holder: {}", id, e.what());
        }
    };
    keeper.unpin = [this, id](ino_t ino) {
        try {
            holder_->remove(mount_ns_key(id, ino));
        } catch (const std::exception& e) {
            sys::log_limited(spdlog::level::warn, id, "mntns", "container {}: fd holder: {}", id, e.what());
        }
    };
    keeper.save = [this, id](const seccomp::OwnMounts::Snapshot& mounts) {
        try {
            saved_.save_mounts(id, mounts);
        } catch (const std::exception& e) {
            sys::log_limited(spdlog::level::err, id, "mounts", "container {}: {}", id, e.what());
        }
    };
    own->keep_with(std::move(keeper));
    return own;
}

// What an earlier daemon knew: the ids from disk, for each namespace whose fd the holder
// kept (a namespace without one may be gone, and its ids reused).
void Daemon::restore_own_mounts(const std::string& id, seccomp::OwnMounts& own, std::map<std::string, sys::Fd>& held) {
    seccomp::OwnMounts::Snapshot saved;
    try {
        saved = saved_.load_mounts(id);
    } catch (const std::exception& e) {
        spdlog::error("container {}: {}; the mounts it made are its to unmount no more", id, e.what());
    }
    for (auto& [ino, mounts] : saved) {
        auto kept = held.extract(mount_ns_key(id, ino));
        if (kept.empty() || seccomp::OwnMounts::inode_of(kept.mapped().get()) != ino) {
            spdlog::warn("container {}: mount namespace {} was not kept; its mounts are forgotten", id, ino);
            if (!kept.empty()) holder_->remove(kept.key());
            continue;
        }
        own.restore(std::move(kept.mapped()), std::move(mounts));
    }
}

seccomp::TrapTarget Daemon::trap_target_of(const std::string& id, const Entry& entry) {
    seccomp::TrapTarget target{id, entry.container, container_dir(id), entry.masks, {}, {}, {}, entry.own_mounts};
    target.keep = [this, id](int notify_fd, seccomp::TrapTarget& kept) {
        std::lock_guard lock(mutex_);
        auto it = containers_.find(id);
        if (it == containers_.end()) return;
        const std::string key = seccomp_key_prefix(id) + std::to_string(it->second.next_seccomp_key++);
        try {
            keep_fd(it->second, key, notify_fd);
        } catch (const std::exception& e) {
            spdlog::error("container {}: fd holder: {}; a restart would lose this notify fd", id, e.what());
            return;
        }
        kept.released = release_kept(id, key);
        std::map<std::string, sys::Fd> none;
        kept.pending = std::make_shared<seccomp::PendingCalls>(saved_.pending_dir(), key,
                                                               calls_of(it->second, key, none));
    };
    return target;
}

// The memory the calls of notify fd `key` are received into: the one an earlier daemon
// left in `held`, else a new one the fd holder keeps. None if neither can be had (each
// call then gets a file; logged).
std::shared_ptr<seccomp::CallRing> Daemon::calls_of(Entry& entry, const std::string& key,
                                                    std::map<std::string, sys::Fd>& held) {
    const std::string ring_key = calls_key(key);
    try {
        auto kept = held.extract(ring_key);
        if (!kept.empty()) {
            entry.held.push_back(ring_key);
            return std::make_shared<seccomp::CallRing>(kept.mapped().get());
        }
        sys::Fd memory = seccomp::CallRing::create();
        auto ring = std::make_shared<seccomp::CallRing>(memory.get());
        keep_fd(entry, ring_key, memory.get());
        return ring;
    } catch (const std::exception& e) {
        spdlog::error("container {}: {}: {}; its trapped calls are kept in files", entry.record.id, ring_key, e.what());
        return nullptr;
    }
}

// A notify fd whose processes are gone: the holder's copy goes too (a copy would keep
// the runtime's credentials, and with them its session keyring, alive: runc execs
// would then run out of the user's key quota).
std::function<void()> Daemon::release_kept(const std::string& id, const std::string& key) {
    return [this, id, key] {
        spdlog::debug("container {}: a seccomp notify fd is released (its processes are gone)", id);
        std::lock_guard lock(mutex_);
        auto it = containers_.find(id);
        if (it == containers_.end()) return;
        seccomp::PendingCalls(saved_.pending_dir(), key).clear();
        for (const std::string& gone : {key, calls_key(key)}) {
            if (std::erase(it->second.held, gone) == 0) continue;
            try {
                holder_->remove(gone);
            } catch (const std::exception& e) {
                spdlog::warn("container {}: fd holder: {}", id, e.what());
            }
        }
    };
}

}  // namespace ecifs::daemon
