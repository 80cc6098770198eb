#include "seccomp/table.hpp"

#include <linux/audit.h>
#include <seccomp.h>

#include <map>
#include <string>
#include <utility>

namespace ecifs::seccomp {

namespace {

constexpr TrappedSyscall trapped[] = {
    {Syscall::sysinfo, "sysinfo", "filled from the container's memory figures, uptime, loads and tasks"},
    {Syscall::mount, "mount", "a new proc or sysfs gets the views placed on it; other mounts: the kernel decides"},
    {Syscall::umount2, "umount2", "a view, or a proc or sysfs carrying views, is busy; others: the kernel decides"},
    // Only 32-bit ABIs have it (i386's 22): a 32-bit program would unmount a view with it.
    {Syscall::umount, "umount", "as umount2 without flags (the 32-bit ABIs' older call)"},
};

constexpr std::string_view enosys[] = {"fsopen", "fspick", "fsmount", "open_tree", "move_mount"};

#if defined(__x86_64__)
constexpr std::string_view architectures[] = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};
// libseccomp's token for each, and the arch value the kernel reports for its calls.
constexpr struct {
    uint32_t token, reported;
    Abi abi;
} arches[] = {
    {SCMP_ARCH_X86_64, AUDIT_ARCH_X86_64, Abi::native},
    {SCMP_ARCH_X86, AUDIT_ARCH_I386, Abi::compat32},
    {SCMP_ARCH_X32, AUDIT_ARCH_X86_64, Abi::native},  // x32 longs are 64 bits
};
#elif defined(__aarch64__)
constexpr std::string_view architectures[] = {"SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"};
constexpr struct {
    uint32_t token, reported;
    Abi abi;
} arches[] = {
    {SCMP_ARCH_AARCH64, AUDIT_ARCH_AARCH64, Abi::native},
    {SCMP_ARCH_ARM, AUDIT_ARCH_ARM, Abi::compat32},
};
#else
#error "ecifs: add this architecture's seccomp arches to seccomp/table.cpp"
#endif

using Key = std::pair<uint32_t, int>;  // reported arch, number

const std::map<Key, Syscall>& numbers() {
    static const std::map<Key, Syscall> table = [] {
        std::map<Key, Syscall> t;
        for (const auto& arch : arches)
            for (const auto& s : trapped) {
                int nr = seccomp_syscall_resolve_name_arch(arch.token, std::string(s.name).c_str());
                if (nr >= 0) t.emplace(Key{arch.reported, nr}, s.syscall);
            }
        return t;
    }();
    return table;
}

}  // namespace

std::span<const TrappedSyscall> trapped_syscalls() { return trapped; }
std::span<const std::string_view> enosys_syscalls() { return enosys; }
std::span<const std::string_view> profile_architectures() { return architectures; }

std::optional<Syscall> identify(uint32_t arch, int nr) {
    const auto& table = numbers();
    auto it = table.find(Key{arch, nr});
    if (it == table.end()) return std::nullopt;
    return it->second;
}

Abi abi_of(uint32_t arch) {
    for (const auto& a : arches)
        if (a.reported == arch) return a.abi;
    return (arch & __AUDIT_ARCH_64BIT) ? Abi::native : Abi::compat32;
}

}  // namespace ecifs::seccomp
