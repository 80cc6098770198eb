// /sys/devices/system/cpu: a read-only mirror of the host's directory showing only the
// container's CPUs, renumbered from 0, so that nproc, getconf, glibc's get_nprocs{,_conf},
// lscpu and os.cpu_count() agree with /proc/cpuinfo and /proc/stat.
//
// cpuK is the host's directory of visible_cpus()[K], the others are not listed; online,
// present and possible are "0-(n-1)", offline empty; CPU lists and masks (topology,
// cache, cpufreq) are renumbered, topology/core_id numbered as /proc/cpuinfo's core id.
// Modes are the host's; a file the host lets only its root read stays unreadable to a
// user-namespaced container's root, as the kernel's own would be. Nothing is writable.
//
// /sys/devices/system/node: the host's NUMA nodes, each showing only the container's
// CPUs under their new numbers (cpulist, cpumap, the cpuK links), so lscpu's "NUMA
// node0 CPU(s)" agrees too. Node numbers and per-node memory figures stay the host's.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <filesystem>
#include <map>
#include <optional>

#include <fmt/format.h>

#include "emulation/container.hpp"
#include "handlers/cpu.hpp"
#include "handlers/families.hpp"
#include "handlers/format.hpp"
#include "handlers/resources.hpp"
#include "sys/files.hpp"

namespace ecifs::handlers {

namespace {

namespace fs = std::filesystem;

// Files holding a CPU list, or a CPU mask, of host CPU numbers.
bool is_cpu_list(std::string_view name) {
    static constexpr std::string_view lists[] = {"isolated", "nohz_full", "enabled", "related_cpus", "affected_cpus",
                                                 "freqdomain_cpus"};
    return name.ends_with("_list") || std::find(std::begin(lists), std::end(lists), name) != std::end(lists);
}

bool is_cpu_mask(std::string_view name) {
    static constexpr std::string_view masks[] = {"thread_siblings", "core_siblings", "core_cpus",      "die_cpus",
                                                 "package_cpus",    "cluster_cpus",  "shared_cpu_map", "book_siblings",
                                                 "drawer_siblings"};
    return std::find(std::begin(masks), std::end(masks), name) != std::end(masks);
}

// "cpu12" -> 12; nullopt for any other name ("cpufreq", "cpuidle").
std::optional<size_t> cpu_number(std::string_view name) {
    if (!name.starts_with("cpu") || name.size() == 3) return std::nullopt;
    size_t n = 0;
    const auto [end, ec] = std::from_chars(name.data() + 3, name.data() + name.size(), n);
    if (ec != std::errc{} || end != name.data() + name.size()) return std::nullopt;
    return n;
}

// The container's view of the tree: the host's directory and the visible CPUs.
struct View {
    fs::path root;
    cgroup::CpuList visible;
    bool user_namespaced = true;

    // The host's path for a path of the container's tree; nullopt if it shows none.
    std::optional<fs::path> host_path(std::string_view path) const {
        const auto slash = path.find('/');
        const auto first = path.substr(0, slash);
        const auto rest = slash == std::string_view::npos ? std::string_view{} : path.substr(slash + 1);
        if (first.empty()) return root;
        auto top = root / first;
        if (const auto k = cpu_number(first)) {
            if (*k >= visible.size()) return std::nullopt;
            top = root / fmt::format("cpu{}", visible[*k]);
        }
        return rest.empty() ? top : top / rest;
    }
};

int view_of(const Context& ctx, View& view) {
    return with_view(ctx, "sys/devices/system/cpu", [&](const ContainerView& container) {
        const auto& host = container.host;
        view = {host.sys_root / "devices/system/cpu", visible_cpus(container.cgroup, host),
                container.container.root_uid() != 0};
        return 0;
    });
}

int lstat_info(const fs::path& path, NodeInfo& out) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return errno;
    out = NodeInfo::of_host_file(st);
    return 0;
}

// 0 if the container may read the host's file: it exists, and a user-namespaced root
// gets no file only the host's root reads (the kernel would refuse it too).
int check_readable(const std::optional<fs::path>& file, bool user_namespaced) {
    if (!file) return ENOENT;
    NodeInfo info;
    if (int err = lstat_info(*file, info)) return err;
    return user_namespaced && !(info.mode & S_IROTH) ? EACCES : 0;
}

int host_readlink(const std::optional<fs::path>& link, std::string& out) {
    if (!link) return ENOENT;
    char target[4096];
    const ssize_t n = ::readlink(link->c_str(), target, sizeof target);
    if (n < 0) return errno;
    out.assign(target, static_cast<size_t>(n));
    return 0;
}

std::string first_line(const fs::path& file) {
    std::string text;
    if (sys::read_file(file, text) != 0) return {};
    return text.substr(0, text.find('\n'));
}

// topology/core_id as /proc/cpuinfo's core id: per package, 0.. in order of appearance.
std::string dense_core_id(const View& view, size_t k) {
    std::map<std::pair<std::string, std::string>, size_t> cores;
    std::map<std::string, size_t> per_package;
    size_t id = 0;
    for (size_t i = 0; i <= k; ++i) {
        const auto topology = view.root / fmt::format("cpu{}", view.visible[i]) / "topology";
        const auto package = first_line(topology / "physical_package_id");
        const auto [it, added] = cores.try_emplace({package, first_line(topology / "core_id")}, per_package[package]);
        if (added) ++per_package[package];
        id = it->second;
    }
    return fmt::format("{}\n", id);
}

// The content of the container's file `path`, whose host file is `file`.
int content(const View& view, std::string_view path, const fs::path& file, std::string& out) {
    const auto name = file.filename().string();
    const auto n = view.visible.size();
    if (path == "online" || path == "present" || path == "possible") {
        out = n > 1 ? fmt::format("0-{}\n", n - 1) : "0\n";
        return 0;
    }
    if (path == "offline") {  // no CPU is offline: an empty list
        out.assign(1, '\n');    // (not `out = "\n"`: GCC 12 -O3 warns -Wrestrict, a false positive)
        return 0;
    }
    std::string text;
    if (int err = sys::read_file(file, text)) return err;  // sysfs attributes fail with their own errno
    if (is_cpu_list(name)) out = renumber_cpu_list(text, view.visible) + "\n";
    else if (is_cpu_mask(name)) out = renumber_cpu_mask(text, view.visible) + "\n";
    else if (name == "core_id" && path.starts_with("cpu") && file.parent_path().filename() == "topology")
        out = dense_core_id(view, *cpu_number(path.substr(0, path.find('/'))));
    else out = std::move(text);
    return 0;
}

class SysCpuTree final : public Subtree {
public:
    int stat(const Context&, std::string_view path, NodeInfo& out) const override;
    int list(const Context&, std::string_view dir, std::vector<std::pair<std::string, NodeInfo>>& out) const override;
    int read(const Context&, std::string_view path, std::string& out) const override;
    int write(const Context&, std::string_view path, std::string_view data) const override;
    int readlink(const Context&, std::string_view path, std::string& out) const override;
};

// The NUMA nodes: "nodeN/cpuK" is the host's link to the K-th visible CPU.
struct NodeView {
    fs::path root;
    cgroup::CpuList visible;
    bool user_namespaced = true;

    std::optional<fs::path> host_path(std::string_view path) const {
        if (path.empty()) return root;
        const auto slash = path.find('/');
        if (slash == std::string_view::npos) return root / path;
        const auto node = path.substr(0, slash);
        const auto rest = path.substr(slash + 1);
        const auto k = cpu_number(rest.substr(0, rest.find('/')));
        if (!k) return root / path;
        if (*k >= visible.size() || rest.find('/') != std::string_view::npos) return std::nullopt;
        return root / node / fmt::format("cpu{}", visible[*k]);
    }
};

int node_view_of(const Context& ctx, NodeView& view) {
    View cpus;
    if (int err = view_of(ctx, cpus)) return err;
    view = {ctx.container.host().sys_root / "devices/system/node", std::move(cpus.visible), cpus.user_namespaced};
    return 0;
}

class SysNodeTree final : public Subtree {
public:
    int stat(const Context& ctx, std::string_view path, NodeInfo& out) const override {
        if (path.empty()) return lstat_info(ctx.container.host().sys_root / "devices/system/node", out);
        NodeView view;
        if (int err = node_view_of(ctx, view)) return err;
        const auto file = view.host_path(path);
        return file ? lstat_info(*file, out) : ENOENT;
    }

    int list(const Context& ctx, std::string_view dir, std::vector<std::pair<std::string, NodeInfo>>& out) const override {
        NodeView view;
        if (int err = node_view_of(ctx, view)) return err;
        const auto host_dir = view.host_path(dir);
        if (!host_dir) return ENOENT;
        std::vector<std::pair<std::string, struct stat>> entries;
        if (int err = sys::list_directory(*host_dir, entries)) return err;
        const bool node_dir = !dir.empty() && dir.find('/') == std::string_view::npos;
        for (auto& [name, st] : entries)
            if (!node_dir || !cpu_number(name)) out.emplace_back(std::move(name), NodeInfo::of_host_file(st));
        for (size_t k = 0; node_dir && k < view.visible.size(); ++k) {
            NodeInfo info;
            if (lstat_info(*host_dir / fmt::format("cpu{}", view.visible[k]), info) == 0) out.emplace_back(fmt::format("cpu{}", k), info);
        }
        return 0;
    }

    int read(const Context& ctx, std::string_view path, std::string& out) const override {
        NodeView view;
        if (int err = node_view_of(ctx, view)) return err;
        const auto file = view.host_path(path);
        if (int err = check_readable(file, view.user_namespaced)) return err;
        return errno_on_exception(fmt::format("/sys/devices/system/node/{}", path), [&] {
            std::string text;
            if (int err = sys::read_file(*file, text)) return err;
            const auto name = file->filename().string();
            if (name == "cpulist") out = renumber_cpu_list(text, view.visible) + "\n";
            else if (name == "cpumap") out = renumber_cpu_mask(text, view.visible) + "\n";
            else out = std::move(text);
            return 0;
        });
    }

    int write(const Context&, std::string_view, std::string_view) const override {
        return EACCES;  // read-only: NUMA settings belong to the host
    }

    // The host's "../../cpu/cpuN" under the container's number of that CPU.
    int readlink(const Context& ctx, std::string_view path, std::string& out) const override {
        NodeView view;
        if (int err = node_view_of(ctx, view)) return err;
        const auto file = view.host_path(path);
        if (int err = host_readlink(file, out)) return err;
        if (const auto k = cpu_number(fs::path(path).filename().string()); k && out.ends_with(file->filename().string()))
            out = fmt::format("{}cpu{}", out.substr(0, out.size() - file->filename().string().size()), *k);
        return 0;
    }
};

}  // namespace

const Subtree& sys_cpu() {
    static const SysCpuTree tree;
    return tree;
}

const Subtree& sys_node() {
    static const SysNodeTree tree;
    return tree;
}

std::string renumber_cpu_list(std::string_view host_list, const cgroup::CpuList& visible) {
    const auto cpus = cgroup::parse_cpu_list(host_list);
    cgroup::CpuList renumbered;
    for (size_t k = 0; k < visible.size(); ++k)
        if (std::binary_search(cpus.begin(), cpus.end(), visible[k])) renumbered.push_back(static_cast<int>(k));
    return cgroup::format_cpu_list(renumbered);
}

// The kernel's "%*pb": hex digits for nr_cpu_ids bits, most significant first, a comma
// between 32-bit words ("3", "03", "00000000,00000003").
std::string renumber_cpu_mask(std::string_view host_mask, const cgroup::CpuList& visible) {
    std::string digits;
    for (const char c : host_mask)
        if (std::isxdigit(static_cast<unsigned char>(c))) digits += c;
    const auto host_has = [&](int cpu) {
        const auto at = static_cast<size_t>(cpu / 4);
        if (at >= digits.size()) return false;
        const char c = digits[digits.size() - 1 - at];
        const int nibble = std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : std::tolower(c) - 'a' + 10;
        return ((nibble >> (cpu % 4)) & 1) != 0;
    };
    const size_t width = std::max<size_t>(1, (visible.size() + 3) / 4);
    std::string out;
    for (size_t d = width; d-- > 0;) {
        int nibble = 0;
        for (size_t bit = 0; bit < 4; ++bit) {
            const size_t k = d * 4 + bit;
            if (k < visible.size() && host_has(visible[k])) nibble |= 1 << bit;
        }
        out += "0123456789abcdef"[nibble];
        if (d > 0 && d % 8 == 0) out += ',';
    }
    return out;
}

// The root is the host's directory: the runtime opens it before the container's init
// exists, which the rest needs.
int SysCpuTree::stat(const Context& ctx, std::string_view path, NodeInfo& out) const {
    if (path.empty()) return lstat_info(ctx.container.host().sys_root / "devices/system/cpu", out);
    View view;
    if (int err = view_of(ctx, view)) return err;
    const auto file = view.host_path(path);
    return file ? lstat_info(*file, out) : ENOENT;
}

int SysCpuTree::list(const Context& ctx, std::string_view dir, std::vector<std::pair<std::string, NodeInfo>>& out) const {
    View view;
    if (int err = view_of(ctx, view)) return err;
    const auto host_dir = view.host_path(dir);
    if (!host_dir) return ENOENT;
    std::vector<std::pair<std::string, struct stat>> entries;
    if (int err = sys::list_directory(*host_dir, entries)) return err;
    for (auto& [name, st] : entries)
        if (!dir.empty() || !cpu_number(name)) out.emplace_back(std::move(name), NodeInfo::of_host_file(st));  // not the host's cpuN
    for (size_t k = 0; dir.empty() && k < view.visible.size(); ++k) {
        NodeInfo info;
        if (lstat_info(view.root / fmt::format("cpu{}", view.visible[k]), info) == 0) out.emplace_back(fmt::format("cpu{}", k), info);
    }
    return 0;
}

int SysCpuTree::read(const Context& ctx, std::string_view path, std::string& out) const {
    View view;
    if (int err = view_of(ctx, view)) return err;
    const auto file = view.host_path(path);
    if (int err = check_readable(file, view.user_namespaced)) return err;
    return errno_on_exception(fmt::format("/sys/devices/system/cpu/{}", path), [&] { return content(view, path, *file, out); });
}

int SysCpuTree::write(const Context&, std::string_view, std::string_view) const {
    return EACCES;  // read-only: a CPU's settings belong to the host
}

int SysCpuTree::readlink(const Context& ctx, std::string_view path, std::string& out) const {
    View view;
    if (int err = view_of(ctx, view)) return err;
    return host_readlink(view.host_path(path), out);
}

}  // namespace ecifs::handlers
