// What the control socket's list, inspect and stats answer about the containers and
// the daemon itself.
#include <dirent.h>
#include <unistd.h>

#include <map>
#include <string>
#include <utility>

#include <fmt/core.h>

#include "daemon/daemon.hpp"
#include "sys/files.hpp"
#include "sys/text.hpp"
#include "sysctl/table.hpp"

namespace ecifs::daemon {

namespace {

using nlohmann::json;

json optional_number(const std::optional<uint64_t>& value) { return value ? json(*value) : json(nullptr); }

// The container's own values, each with the policy that serves its path.
json describe_sysctls(const emulation::Container& container) {
    json out = json::object();
    for (const auto& [path, value] : container.own_values().snapshot()) {
        const auto* rule = sysctl::find_rule(path);
        std::string text = value;
        while (!text.empty() && text.back() == '\n') text.pop_back();
        out[path] = {{"value", text},
                     {"policy", path.starts_with("/") ? "emulated"
                                                      : std::string(sysctl::policy_name(
                                                            rule ? rule->policy : sysctl::Policy::host))}};
    }
    return out;
}
// The daemon's own figures: its pid (a detached daemon's is not the one that bound the
// socket, which SO_PEERCRED names), and from /proc/self resident memory, threads, fds.
json daemon_figures(std::chrono::steady_clock::duration up) {
    json out = {{"pid", ::getpid()}, {"uptime_seconds", std::chrono::duration<double>(up).count()}};
    std::string status;
    if (sys::read_file("/proc/self/status", status) == 0) {
        if (auto kb = sys::value_of(status, "VmRSS", ':'))
            out["rss_bytes"] = sys::whole_number<uint64_t>(sys::first_field(*kb)).value_or(0) * 1024;
        if (auto threads = sys::value_of(status, "Threads", ':'))
            out["threads"] = sys::whole_number<uint64_t>(*threads).value_or(0);
    }
    size_t fds = 0;
    if (DIR* dir = ::opendir("/proc/self/fd")) {
        while (const dirent* e = ::readdir(dir)) fds += e->d_name[0] != '.';
        ::closedir(dir);
    }
    out["fds"] = fds > 0 ? fds - 1 : 0;  // not the listing's own
    return out;
}

// Per file: the requests of each kind answered and those with an error, and in all.
json views_json(const fs::MountFigures& figures) {
    json out = json::array();
    for (const auto& [path, counts] : figures.files) {
        json kinds = json::object();
        uint64_t answered = 0, errors = 0;
        for (size_t k = 0; k < fs::request_kinds; ++k) {
            if (!counts.answered[k]) continue;
            kinds[fs::kind_name(static_cast<fs::RequestKind>(k))] = {{"answered", counts.answered[k]},
                                                                     {"errors", counts.errors[k]}};
            answered += counts.answered[k];
            errors += counts.errors[k];
        }
        out.push_back({{"path", path}, {"answered", answered}, {"errors", errors}, {"requests", std::move(kinds)}});
    }
    return out;
}

// Per kind of request, every file together: how long from the operation's start to the reply.
json latency_json(const fs::MountFigures& figures) {
    json out = json::object();
    for (size_t k = 0; k < fs::request_kinds; ++k) {
        const auto& h = figures.latency[k];
        if (!h.count()) continue;
        out[fs::kind_name(static_cast<fs::RequestKind>(k))] = {{"answered", h.count()},
                                                               {"p50_us", h.quantile_us(0.5)},
                                                               {"p99_us", h.quantile_us(0.99)},
                                                               {"seconds", h.sum_seconds()}};
    }
    return out;
}

}  // namespace

json Daemon::describe(const std::string& id, const Entry& entry) const {
    json out = {{"id", id},
                {"state", entry.record.started ? "running" : "prepared"},
                {"mount", container_dir(id).string()},
                {"root_uid", entry.container->root_uid()},
                {"root_gid", entry.container->root_gid()},
                {"nodes", entry.mount->nodes()}};  // inodes its mount holds (issue 11, item 3)
    if (auto init = entry.container->init()) {
        out["pid"] = init->pid;
        const auto& cg = init->cgroup;
        json dirs = json::object();
        auto add = [&](const char* name, const std::optional<cgroup::CgroupDir>& dir) {
            if (dir) dirs[name] = dir->dir().string();
        };
        add("memory", cg.paths().memory);
        add("cpu", cg.paths().cpu);
        add("cpuset", cg.paths().cpuset);
        out["cgroup"] = dirs;
        out["memory_limit"] = optional_number(cg.memory_limit());
        auto quota = cg.cpu_quota();
        out["cpu_quota"] = quota ? json(*quota) : json(nullptr);
        auto cpuset = cg.cpuset();
        out["cpuset"] = cpuset ? json(cgroup::format_cpu_list(*cpuset)) : json(nullptr);
    }
    out["sysctls"] = describe_sysctls(*entry.container);
    out["namespace_executors"] = entry.container->executors().size();
    out["seccomp_notify_fds"] = trapper_.count(id);
    return out;
}

json Daemon::list() {
    std::lock_guard lock(mutex_);
    json containers = json::array();
    for (const auto& [id, entry] : containers_) {
        json brief = {{"id", id}, {"state", entry.record.started ? "running" : "prepared"}};
        if (auto init = entry.container->init()) brief["pid"] = init->pid;
        containers.push_back(brief);
    }
    return {{"containers", containers}};
}
json Daemon::container_stats(const std::string& id, const Entry& entry) const {
    const auto trapped = trapper_.counts(id);
    const auto figures = entry.mount->request_figures();
    return {{"id", id},
            {"views", views_json(figures)},
            {"latency", latency_json(figures)},
            {"open_files", entry.mount->open_files()},
            {"open_dirs", entry.mount->open_dirs()},
            {"namespace_executors", entry.container->executors().size()},
            {"seccomp_notify_fds", trapper_.count(id)},
            {"trapped_calls", {{"answered", trapped.answered}, {"continued", trapped.continued},
                               {"failed", trapped.failed}}}};
}

// ecifsctl stats [ID]: every container's figures (or one's), and the daemon's.
json Daemon::stats(const json& request) {
    const bool one = request.contains("id");
    if (one && !request["id"].is_string()) throw std::invalid_argument("\"id\" must be a string");
    json containers = json::array();
    {
        std::lock_guard lock(mutex_);
        for (const auto& [id, entry] : containers_)
            if (!one || id == request["id"].get<std::string>()) containers.push_back(container_stats(id, entry));
    }
    if (one && containers.empty())
        throw std::invalid_argument(fmt::format("unknown container {}", request["id"].get<std::string>()));
    return {{"daemon", daemon_figures(std::chrono::steady_clock::now() - started_)}, {"containers", containers}};
}

}  // namespace ecifs::daemon
