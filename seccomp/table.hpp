#pragma once
// The syscalls ecifs answers for a container through seccomp user notification, and
// the ones a container gets ENOSYS for. One table: the shim writes the config.json
// rules from it, the daemon dispatches on it, the tests and the README follow it.
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace ecifs::seccomp {

// umount is umount2 without flags: 32-bit ABIs (i386, arm) still have it.
enum class Syscall { sysinfo, mount, umount2, umount };

struct TrappedSyscall {
    Syscall syscall;
    std::string_view name;  // as libseccomp and the OCI runtime spec name it
    std::string_view what;  // what ecifs does with it (for the docs and logs)
};

// The syscalls whose rule is SCMP_ACT_NOTIFY with the daemon's listener.
std::span<const TrappedSyscall> trapped_syscalls();

// The new mount API (fsopen, fsmount, open_tree, move_mount, fspick) mounts a procfs
// or clones a single mount without mount(2): a way around the views. The profile
// answers them ENOSYS (no listener involved), the answer a kernel without them gives,
// so programs fall back to mount(2), which is trapped.
std::span<const std::string_view> enosys_syscalls();

// The errno of the ENOSYS rule.
inline constexpr int enosys_errno = 38;

// Which trapped syscall a notification is, from the architecture and number the
// kernel reports (x32 calls come as AUDIT_ARCH_X86_64 with the x32 bit in the number).
std::optional<Syscall> identify(uint32_t arch, int nr);

// How the caller lays out its structs: the daemon's own ABI, or a 32-bit one (an i386
// process on x86-64, arm on aarch64).
enum class Abi { native, compat32 };
Abi abi_of(uint32_t arch);

// libseccomp's names of the architectures a profile ecifs creates lists (the native one
// and those the kernel runs beside it), as in Docker's default profile.
std::span<const std::string_view> profile_architectures();

}  // namespace ecifs::seccomp
