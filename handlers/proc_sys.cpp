// /proc/sys: the kernel's tree as the container's namespaces see it, each entry served
// by the policy its row in the sysctl table (sysctl/table.cpp) gives:
//   namespaced  — read and written in the caller's own namespaces, by an executor
//   emulated    — the container's own value (first the host's), validated like the kernel
//   synthesized — kernel.random.uuid (fresh per read) and boot_id (one per container)
//   read-only and host — the host's value; writes fail with EACCES
// Names below net/ come from the caller's network namespace; the rest of the tree is
// the host's, which is what the kernel shows every namespace.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include "emulation/container.hpp"
#include "handlers/families.hpp"
#include "handlers/format.hpp"
#include "sys/files.hpp"
#include "sys/log_limit.hpp"
#include "sysctl/table.hpp"
#include "sysctl/value.hpp"

namespace ecifs::handlers {

namespace {

using ns::SysctlEntry;

constexpr const char* host_root = "/proc/sys/";

bool below_net(std::string_view path) { return path == "net" || path.starts_with("net/"); }

int host_stat(std::string_view path, NodeInfo& out) {
    struct stat st {};
    if (::lstat((host_root + std::string(path)).c_str(), &st) != 0) return errno;
    out = NodeInfo::of_host_file(st);
    return 0;
}

int host_list(std::string_view dir, std::vector<std::pair<std::string, NodeInfo>>& out) {
    std::vector<std::pair<std::string, struct stat>> entries;
    if (int err = sys::list_directory(host_root + std::string(dir), entries)) return err;
    for (auto& [name, st] : entries) out.emplace_back(std::move(name), NodeInfo::of_host_file(st));
    return 0;
}

// An entry as the caller's namespaces show it: the kernel makes a namespace's own
// sysctls (net.*, and the ipc ones since Linux 6.x) its user namespace root's.
NodeInfo info_of(const SysctlEntry& entry) {
    NodeInfo info{entry.is_dir, false, entry.mode};
    info.owner = entry.owned_by_root ? Owner::container_root : Owner::kernel;
    info.nlink = 1;  // procfs's sysctl directories count no subdirectories
    return info;
}

int host_read(std::string_view path, std::string& out) { return sys::read_file(host_root + std::string(path), out); }

// The executor for the caller's namespaces; null (after a log line) if none can run.
// Whose rights a read or write of a namespaced sysctl has: the thread that asks, or the
// container's init for a request the kernel made on nobody's behalf.
pid_t caller_of(const Context& ctx) {
    auto init = ctx.container.init();
    return ctx.caller > 0 ? ctx.caller : init ? init->pid : 0;
}

std::shared_ptr<ns::NsExecutor> executor_for(const Context& ctx) {
    auto init = ctx.container.init();
    if (!init) return nullptr;
    try {
        return ctx.container.executors().for_process(caller_of(ctx), init->pid);
    } catch (const std::exception& e) {
        sys::log_limited(spdlog::level::err, ctx.container.id(), "executor", "container {}: no namespace executor: {}",
                         ctx.container.id(), e.what());
        return nullptr;
    }
}

sysctl::Policy policy_of(std::string_view path) {
    const sysctl::Rule* rule = sysctl::find_rule(path);
    return rule ? rule->policy : sysctl::Policy::host;
}

// A directory of namespaced sysctls only: a namespace's own table, which the kernel may
// give to the namespace's user namespace root (fs/mqueue, an ipc namespace's).
bool holds_namespaced(std::string_view dir) {
    if (dir.empty()) return false;
    bool any = false;
    for (const sysctl::Rule& rule : sysctl::rules()) {
        if (rule.pattern.size() <= dir.size() || !rule.pattern.starts_with(dir) || rule.pattern[dir.size()] != '/')
            continue;
        if (rule.policy != sysctl::Policy::namespaced) return false;
        any = true;
    }
    return any;
}

// Whether the caller's namespaces answer for `path`: everything below net/ (even its
// names differ per network namespace), every namespaced sysctl and their directories.
bool in_callers_namespaces(std::string_view path) {
    return below_net(path) || policy_of(path) == sysctl::Policy::namespaced || holds_namespaced(path);
}

// How an entry shows under its policy. An emulated file is the container's own: its
// root owns it (and may write it), with the mode the initial namespaces' root sees, also
// where the caller's network namespace shows it read-only (net.netfilter.nf_conntrack_max
// is 0444 outside the initial one, yet kube-proxy writes it at start). Read-only and
// synthesized files are 0444.
void show_as_policy(std::string_view path, NodeInfo& info) {
    if (info.is_dir) return;
    switch (policy_of(path)) {
        case sysctl::Policy::read_only:
        case sysctl::Policy::synthesized: info.mode &= 0444; break;
        case sysctl::Policy::emulated: {
            info.owner = Owner::container_root;
            NodeInfo host;
            if (below_net(path) && host_stat(path, host) == 0) info.mode = host.mode;
            break;
        }
        case sysctl::Policy::namespaced:
        case sysctl::Policy::kernel_file:
        case sysctl::Policy::host: break;
    }
}

int read_synthesized(const Context& ctx, std::string_view path, std::string& out) {
    if (path == "kernel/random/boot_id") {
        // One per container, fixed for its life (the store keeps it).
        out = ctx.container.own_values().get_or_insert(std::string(path), random_uuid);
        return 0;
    }
    out = random_uuid();  // kernel/random/uuid: fresh on every read, like the kernel's
    return 0;
}

// The container's own value; until it writes one, the kernel's initial value of a new
// namespace where that is not the host's (its row says), else the host's.
int read_emulated(const Context& ctx, std::string_view path, std::string& out) {
    if (auto value = ctx.container.own_values().get(std::string(path))) return out = *value, 0;
    const sysctl::Rule* rule = sysctl::find_rule(path);
    if (rule && rule->initial) return rule->initial(out);
    return host_read(path, out);
}

int write_emulated(const Context& ctx, const sysctl::Rule& rule, std::string_view path, std::string_view data) {
    std::string current, stored;
    if (int err = read_emulated(ctx, path, current)) return err;
    if (int err = sysctl::validate_write(rule, data, current, stored)) return err;
    auto sibling = sysctl::sibling_to_zero(rule, current, stored);
    ctx.container.own_values().set(std::string(path), std::move(stored));
    // vm.dirty_bytes and vm.dirty_ratio exclude each other, as in the kernel.
    if (sibling) ctx.container.own_values().set(std::string(*sibling), "0\n");
    return 0;
}

class ProcSys final : public Subtree {
public:
    int stat(const Context& ctx, std::string_view path, NodeInfo& out) const override {
        if (in_callers_namespaces(path)) {
            auto executor = executor_for(ctx);
            if (!executor) return EIO;
            SysctlEntry entry;
            if (int err = executor->stat(std::string(path), entry)) return err;
            out = info_of(entry);
        } else if (int err = host_stat(path, out)) {
            return err;
        }
        show_as_policy(path, out);
        return 0;
    }

    // A namespaced sysctl is opened by the executor, as the caller: the kernel's own
    // permission rules, then stat and read, in one exchange (each wakes a helper process).
    int open(const Context& ctx, std::string_view path, int access, Opened& out) const override {
        if (policy_of(path) != sysctl::Policy::namespaced) return Subtree::open(ctx, path, access, out);
        auto executor = executor_for(ctx);
        if (!executor) return EIO;
        SysctlEntry entry;
        if (int err = executor->open(caller_of(ctx), std::string(path), access, entry, out.read_result, out.content))
            return err;
        out.info = info_of(entry);
        return 0;
    }

    int list(const Context& ctx, std::string_view dir, std::vector<std::pair<std::string, NodeInfo>>& out) const override {
        if (!below_net(dir)) return host_list(dir, out);
        auto executor = executor_for(ctx);
        if (!executor) return EIO;
        std::vector<SysctlEntry> entries;
        if (int err = executor->list(std::string(dir), entries)) return err;
        for (auto& entry : entries) {
            NodeInfo info = info_of(entry);
            show_as_policy(std::string(dir) + '/' + entry.name, info);
            out.emplace_back(std::move(entry.name), info);
        }
        return 0;
    }

    int read(const Context& ctx, std::string_view path, std::string& out) const override {
        switch (policy_of(path)) {
            case sysctl::Policy::namespaced: {
                auto executor = executor_for(ctx);
                return executor ? executor->read(caller_of(ctx), std::string(path), out) : EIO;
            }
            case sysctl::Policy::emulated: return read_emulated(ctx, path, out);
            case sysctl::Policy::synthesized: return read_synthesized(ctx, path, out);
            case sysctl::Policy::read_only:
            case sysctl::Policy::host: return host_read(path, out);
            // Reached only where the kernel's file is not bound over this entry: the
            // daemon's own value (its pid namespace, the host's) is never shown.
            case sysctl::Policy::kernel_file: return EACCES;
        }
        return EIO;
    }

    int write(const Context& ctx, std::string_view path, std::string_view data) const override {
        const sysctl::Rule* rule = sysctl::find_rule(path);
        if (!rule) return EACCES;  // the host's setting: never written from a container
        switch (rule->policy) {
            case sysctl::Policy::namespaced: {
                auto executor = executor_for(ctx);
                return executor ? executor->write(caller_of(ctx), std::string(path), data) : EIO;
            }
            case sysctl::Policy::emulated: return write_emulated(ctx, *rule, path, data);
            default: return EACCES;
        }
    }
};

}  // namespace

const Subtree& proc_sys() {
    static const ProcSys tree;
    return tree;
}

}  // namespace ecifs::handlers
