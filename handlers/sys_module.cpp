// /sys/module/nf_conntrack/parameters/hashsize: the conntrack hash table is global to
// the host kernel, and a container's network daemons like to size it. Its value is
// kept per container, first the host's; a write is validated as the kernel's
// nf_conntrack_set_hashsize validates it (kstrtouint, base 0; zero is EINVAL).
#include <cerrno>
#include <cstdlib>
#include <string>

#include "emulation/container.hpp"
#include "handlers/families.hpp"
#include "handlers/format.hpp"

namespace ecifs::handlers {

namespace {

constexpr const char* hashsize_key = "/sys/module/nf_conntrack/parameters/hashsize";

// The kernel's kstrtouint(s, 0, &v): an optional '+', then decimal, 0x-hex or 0-octal
// digits, then at most one newline. Out of range is ERANGE, anything else EINVAL.
int parse_kernel_uint(std::string_view text, unsigned int& value) {
    if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
    if (!text.empty() && text.front() == '+') text.remove_prefix(1);
    int base = 10;
    if (text.size() > 1 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) base = 16, text.remove_prefix(2);
    else if (text.size() > 1 && text[0] == '0') base = 8, text.remove_prefix(1);
    if (text.empty()) return EINVAL;
    unsigned long long result = 0;
    for (char c : text) {
        int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : 99;
        if (digit >= base) return EINVAL;
        result = result * static_cast<unsigned>(base) + static_cast<unsigned>(digit);
        if (result > 0xffffffffULL) return ERANGE;
    }
    value = static_cast<unsigned int>(result);
    return 0;
}

}  // namespace

int show_conntrack_hashsize(const Context& ctx, std::string& out) {
    if (auto value = ctx.container.sysctls().get(hashsize_key)) return out = *value, 0;
    return errno_on_exception("nf_conntrack hashsize", [&] {
        auto text = cgroup::read_file_if_exists(ctx.container.host().sys_root / "module/nf_conntrack/parameters/hashsize");
        if (!text) return ENOENT;
        out = std::move(*text);
        return 0;
    });
}

int write_conntrack_hashsize(const Context& ctx, std::string_view data) {
    unsigned int size = 0;
    if (int err = parse_kernel_uint(data, size)) return err;
    if (size == 0) return EINVAL;
    ctx.container.sysctls().set(hashsize_key, std::to_string(size) + "\n");
    return 0;
}

}  // namespace ecifs::handlers
