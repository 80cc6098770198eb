// /proc/pressure/{cpu,memory,io}: the container cgroup's pressure stall information
// (kernel/sched/psi.c's psi_show, which prints the same text for /proc/pressure and for
// a cgroup's *.pressure files).
//
// On a host whose cgroups have no PSI files (pure cgroup v1) the directory is shown
// empty rather than with the host's figures: fail closed. A hybrid host keeps them in
// the unified hierarchy, where runc places the container too.
//
// Triggers (psi_write, psi_trigger_poll): a write registers one on the open file,
// validated as the kernel validates it for that writer (emulation/psi.hpp), then on the
// container cgroup's own pressure file, whose descriptor the handle keeps: its POLLPRI
// is the container's event, and the handle's release ends it. One trigger per open file
// (EBUSY). The kernel judges privilege (short windows) by the opener's credentials; the
// view asks for the writer's CAP_SYS_RESOURCE, which is the opener's unless a
// privileged process handed its descriptor to an unprivileged one.
#include <linux/capability.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <iterator>

#include "emulation/container.hpp"
#include "emulation/psi.hpp"
#include "handlers/families.hpp"
#include "handlers/format.hpp"

namespace ecifs::handlers {

namespace {

constexpr std::string_view resources[] = {"cpu", "memory", "io"};

bool is_resource(std::string_view name) { return std::find(std::begin(resources), std::end(resources), name) != std::end(resources); }

// The file's text; ENOENT when the cgroup has no such file.
int pressure_of(const Context& ctx, std::string_view resource, std::string& out) {
    return with_view(ctx, "proc/pressure", [&](const ContainerView& view) {
        if (!is_resource(resource)) return ENOENT;
        auto text = view.cgroup.pressure(resource);
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

// Modes are the host's.
class PressureTree final : public Subtree {
public:
    int stat(const Context&, std::string_view path, NodeInfo& out) const override;
    int list(const Context&, std::string_view dir, std::vector<std::pair<std::string, NodeInfo>>& out) const override;
    int read(const Context&, std::string_view path, std::string& out) const override;
    int write(const Context&, std::string_view path, std::string_view data) const override;
    int write_handle(const Context&, std::string_view path, std::string_view data, off_t offset,
                     EventSource& source) const override;
    unsigned poll(std::string_view path, bool has_source, bool fired) const override;
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

// A trigger belongs to an open file: writes come through write_handle.
int PressureTree::write(const Context&, std::string_view, std::string_view) const { return EBADF; }

// psi_write takes every write whole, at any file position.
int PressureTree::write_handle(const Context& ctx, std::string_view path, std::string_view data, off_t,
                               EventSource& source) const {
    if (data.empty()) return EINVAL;
    if (source.attached) return EBUSY;
    emulation::PsiTrigger trigger;
    const bool privileged = ctx.container.host().has_capability(ctx.caller, CAP_SYS_RESOURCE);
    if (int err = emulation::parse_psi_trigger(data, privileged, trigger)) return err;
    return with_view(ctx, "proc/pressure trigger", [&](const ContainerView& view) {
        if (!is_resource(path)) return EIO;
        const int fd = view.cgroup.open_pressure_trigger(path, emulation::format_psi_trigger(trigger));
        if (fd < 0) return -fd;
        source.fd = fd;
        return 0;
    });
}

// psi_trigger_poll: without a trigger every poll reports an error (and POLLPRI); with
// one, POLLPRI once per event.
unsigned PressureTree::poll(std::string_view, bool has_source, bool fired) const {
    if (!has_source) return default_poll_mask | POLLERR | POLLPRI;
    return default_poll_mask | (fired ? POLLPRI : 0);
}

}  // namespace ecifs::handlers
