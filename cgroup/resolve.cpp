// Finding a process's cgroup directories: /proc/PID/cgroup read against the mount table.
#include <algorithm>
#include <cstdint>
#include <set>
#include <stdexcept>
#include <unordered_map>

#include <fmt/format.h>

#include "cgroup/cgroup.hpp"
#include "sys/files.hpp"
#include "sys/mountinfo.hpp"
#include "sys/text.hpp"

namespace ecifs::cgroup {

using sys::for_each_line;
using sys::read_file_if_exists;
using sys::split_fields;
using sys::split_on;

namespace fs = std::filesystem;

namespace {

std::vector<sys::MountInfo> read_mountinfo(const fs::path& file) {
    const auto text = read_file_if_exists(file);
    if (!text) throw std::runtime_error(fmt::format("cannot find the mount table {}", file.string()));
    return sys::parse_mountinfo(*text);
}

// The cgroup of each v1 controller, and the v2 cgroup, from /proc/PID/cgroup.
struct ProcCgroups {
    std::unordered_map<std::string, std::string> v1;
    std::optional<std::string> v2;
};

// One line of /proc/PID/cgroup: hierarchy-id:controllers:path.
struct CgroupLine {
    bool v2 = false;  // "0::path", the unified hierarchy
    std::string_view controllers, path;
};

// Each line of a /proc/PID/cgroup text.
template <class Fn>
void for_each_cgroup_line(std::string_view text, Fn&& fn) {
    // Cut at the first two ':' only: the path may hold more (systemd's "…slice:cri-containerd:<id>").
    for_each_line(text, [&](std::string_view line) {
        const auto first = line.find(':');
        const auto second = line.find(':', first + 1);
        if (first == std::string_view::npos || second == std::string_view::npos) return;
        const auto controllers = line.substr(first + 1, second - first - 1);
        const bool v2 = line.substr(0, first) == "0" && controllers.empty();
        if (!v2 && controllers.empty()) return;
        fn(CgroupLine{v2, controllers, line.substr(second + 1)});
    });
}

ProcCgroups parse_proc_cgroup(std::string_view text) {
    ProcCgroups cgroups;
    for_each_cgroup_line(text, [&](const CgroupLine& line) {
        if (line.v2) {
            cgroups.v2 = std::string(line.path);
            return;
        }
        for (const auto controller : split_on(line.controllers, ','))
            cgroups.v1.emplace(controller, std::string(line.path));
    });
    return cgroups;
}

// Where `cgroup` lies inside a hierarchy mounted with `root` as its root; nullopt if outside.
std::optional<fs::path> inside(std::string_view cgroup, std::string_view root) {
    if (root == "/") return fs::path(cgroup);
    if (cgroup == root) return fs::path("/");
    if (cgroup.starts_with(root) && cgroup[root.size()] == '/') return fs::path(cgroup.substr(root.size()));
    return std::nullopt;
}

// The mount of a hierarchy that holds `cgroup`; among several, the one closest to the
// hierarchy's root, so that the most ancestors are visible.
std::optional<CgroupDir> find_mount(const std::vector<sys::MountInfo>& mounts, CgroupVersion version,
                                    std::string_view controller, std::string_view cgroup) {
    std::optional<CgroupDir> best;
    size_t best_root = SIZE_MAX;
    for (const auto& m : mounts) {
        if (m.fstype != (version == CgroupVersion::v2 ? "cgroup2" : "cgroup")) continue;
        const auto& opts = m.super_options;
        if (version == CgroupVersion::v1 && std::find(opts.begin(), opts.end(), controller) == opts.end())
            continue;
        const auto relative = inside(cgroup, m.root);
        if (!relative || m.root.size() >= best_root) continue;
        best = CgroupDir{version, m.mount_point, *relative};
        best_root = m.root.size();
    }
    return best;
}

std::set<std::string, std::less<>> v2_controllers(const CgroupDir& v2) {
    const auto text = read_file_if_exists(v2.mount_root / "cgroup.controllers");
    std::set<std::string, std::less<>> names;
    if (!text) return names;
    for (const auto name : split_fields(*text)) names.emplace(name);
    return names;
}

}  // namespace

fs::path CgroupDir::dir() const {
    const auto inner = relative.relative_path();
    return inner.empty() ? mount_root : mount_root / inner;
}

std::vector<fs::path> CgroupDir::self_and_ancestors() const {
    std::vector<fs::path> levels{mount_root};
    for (const auto& part : relative.relative_path())
        if (!part.empty()) levels.push_back(levels.back() / part);
    std::reverse(levels.begin(), levels.end());
    return levels;
}

std::string read_proc_cgroup(pid_t pid, const fs::path& proc_root) {
    const auto file = proc_root / std::to_string(pid) / "cgroup";
    auto text = read_file_if_exists(file);
    if (!text) throw std::runtime_error(fmt::format("the process is gone: no {}", file.string()));
    return std::move(*text);
}

CgroupPaths resolve_cgroup_paths(pid_t pid, const fs::path& proc_root) {
    return resolve_cgroup_paths(read_proc_cgroup(pid, proc_root), proc_root);
}

CgroupPaths resolve_cgroup_paths(std::string_view proc_cgroup, const fs::path& proc_root) {
    const auto cgroups = parse_proc_cgroup(proc_cgroup);
    const auto mounts = read_mountinfo(proc_root / "self" / "mountinfo");
    const auto v2 = cgroups.v2 ? find_mount(mounts, CgroupVersion::v2, "", *cgroups.v2) : std::nullopt;
    const auto in_v2 = v2 ? v2_controllers(*v2) : std::set<std::string, std::less<>>{};

    // A controller bound to a v1 hierarchy is read there; otherwise from v2 if it is
    // enabled in the unified hierarchy (v2_name empty: v2 always has the files).
    const auto pick = [&](const std::string& v1_name, std::string_view v2_name) -> std::optional<CgroupDir> {
        if (const auto it = cgroups.v1.find(v1_name); it != cgroups.v1.end())
            return find_mount(mounts, CgroupVersion::v1, v1_name, it->second);
        if (v2 && (v2_name.empty() || in_v2.contains(v2_name))) return v2;
        return std::nullopt;
    };
    CgroupPaths paths;
    paths.memory = pick("memory", "memory");
    paths.cpu = pick("cpu", "cpu");
    paths.cpuacct = pick("cpuacct", "");  // v2's cpu.stat has usage_usec even without the cpu controller
    paths.cpuset = pick("cpuset", "cpuset");
    paths.blkio = pick("blkio", "io");
    paths.pids = pick("pids", "pids");
    paths.unified = v2;
    if (!paths.memory && !paths.cpu && !paths.cpuacct && !paths.cpuset && !paths.blkio && !paths.pids)
        throw std::runtime_error(fmt::format("no mounted cgroup hierarchy holds the cgroups {}",
                                             fmt::join(split_on(proc_cgroup, '\n'), " ")));
    return paths;
}

std::vector<CgroupDir> hierarchy_dirs(pid_t pid, const fs::path& proc_root) {
    const auto mounts = read_mountinfo(proc_root / "self" / "mountinfo");
    std::vector<CgroupDir> dirs;
    for_each_cgroup_line(read_proc_cgroup(pid, proc_root), [&](const CgroupLine& line) {
        // One controller names the hierarchy: "cpu,cpuacct" is mounted with both.
        const auto name = line.v2 ? std::string_view() : split_on(line.controllers, ',').front();
        if (auto dir = find_mount(mounts, line.v2 ? CgroupVersion::v2 : CgroupVersion::v1, name, line.path))
            dirs.push_back(std::move(*dir));
    });
    return dirs;
}

}  // namespace ecifs::cgroup
