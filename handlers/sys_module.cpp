// /sys/module/nf_conntrack/parameters/hashsize: the conntrack hash table is global to
// the host kernel, and a container's network daemons like to size it. Its value is
// kept per container, first the host's; a write is validated as the kernel's
// nf_conntrack_set_hashsize validates it (kstrtouint, base 0; zero is EINVAL).
#include <cerrno>
#include <string>

#include "emulation/container.hpp"
#include "handlers/families.hpp"
#include "handlers/format.hpp"
#include "sys/files.hpp"
#include "sysctl/value.hpp"

namespace ecifs::handlers {

namespace {

constexpr const char* hashsize_key = "/sys/module/nf_conntrack/parameters/hashsize";

}  // namespace

int show_conntrack_hashsize(const Context& ctx, std::string& out) {
    if (auto value = ctx.container.own_values().get(hashsize_key)) return out = *value, 0;
    return errno_on_exception("nf_conntrack hashsize", [&] {
        auto text = sys::read_file_if_exists(ctx.container.host().sys_root / "module/nf_conntrack/parameters/hashsize");
        if (!text) return ENOENT;
        out = std::move(*text);
        return 0;
    });
}

int write_conntrack_hashsize(const Context& ctx, std::string_view data) {
    unsigned int size = 0;
    if (int err = sysctl::parse_kstrtouint(data, size)) return err;
    if (size == 0) return EINVAL;
    ctx.container.own_values().set(hashsize_key, std::to_string(size) + "\n");
    return 0;
}

}  // namespace ecifs::handlers
