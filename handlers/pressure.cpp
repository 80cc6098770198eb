// /proc/pressure/{cpu,memory,io}: the container cgroup's pressure stall information
// (kernel/sched/psi.c's psi_show, which prints the same text for /proc/pressure and for
// a cgroup's *.pressure files).
//
// On a host whose cgroups have no PSI files (pure cgroup v1) the directory is shown
// empty rather than with the host's figures: fail closed. A hybrid host keeps them in
// the unified hierarchy, where runc places the container too.
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <iterator>

#include "emulation/container.hpp"
#include "handlers/families.hpp"
#include "handlers/format.hpp"

namespace ecifs::handlers {

namespace {

constexpr std::string_view resources[] = {"cpu", "memory", "io"};

bool is_resource(std::string_view name) { return std::find(std::begin(resources), std::end(resources), name) != std::end(resources); }

// The file's text; ENOENT when the cgroup has no such file.
int pressure_of(const Context& ctx, std::string_view resource, std::string& out) {
    return errno_on_exception("/proc/pressure", [&] {
        const auto init = ctx.container.init();
        if (!init) return EIO;
        if (!is_resource(resource)) return ENOENT;
        auto text = init->cgroup.pressure(resource);
        if (!text) return ENOENT;
        out = std::move(*text);
        return 0;
    });
}

// As the host's file shows it (0666 since Linux 6.x, for unprivileged triggers).
NodeInfo file_info(const Context& ctx, std::string_view resource) {
    struct stat st {};
    const auto host_file = ctx.container.host().proc_root / "pressure" / resource;
    const mode_t mode = ::stat(host_file.c_str(), &st) == 0 ? st.st_mode & 07777 : 0444;
    return {false, false, mode};
}

// Modes are the host's; PSI triggers (writes) are not supported: EOPNOTSUPP.
class PressureTree final : public Subtree {
public:
    int stat(const Context&, std::string_view path, NodeInfo& out) const override;
    int list(const Context&, std::string_view dir, std::vector<std::pair<std::string, NodeInfo>>& out) const override;
    int read(const Context&, std::string_view path, std::string& out) const override;
    int write(const Context&, std::string_view path, std::string_view data) const override;
};

}  // namespace

const Subtree& proc_pressure() {
    static const PressureTree tree;
    return tree;
}

int PressureTree::stat(const Context& ctx, std::string_view path, NodeInfo& out) const {
    if (path.empty()) {
        out = {true, false, 0555};
        return 0;
    }
    std::string text;
    if (int err = pressure_of(ctx, path, text)) return err;
    out = file_info(ctx, path);
    return 0;
}

int PressureTree::list(const Context& ctx, std::string_view dir, std::vector<std::pair<std::string, NodeInfo>>& out) const {
    if (!dir.empty()) return ENOTDIR;
    std::string text;
    for (const auto resource : resources)
        if (pressure_of(ctx, resource, text) == 0) out.emplace_back(resource, file_info(ctx, resource));
    return 0;
}

int PressureTree::read(const Context& ctx, std::string_view path, std::string& out) const {
    return pressure_of(ctx, path, out);
}

int PressureTree::write(const Context&, std::string_view, std::string_view) const {
    return EOPNOTSUPP;  // a trigger needs poll() on the file, which the view cannot deliver
}

}  // namespace ecifs::handlers
