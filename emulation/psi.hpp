#pragma once
// PSI triggers as the kernel takes them (kernel/sched/psi.c: psi_write, the handler of a
// /proc/pressure file, and psi_trigger_create): "some|full <threshold us> <window us>",
// one per open file, polled for POLLPRI.
#include <cstdint>
#include <string>
#include <string_view>

namespace ecifs::emulation {

struct PsiTrigger {
    bool full = false;  // "full": every non-idle task stalled; "some": at least one
    uint32_t threshold_us = 0, window_us = 0;
};

// The longest window the kernel allows (WINDOW_MAX_US), and the multiple an
// unprivileged writer's window must be (the 2 s of PSI's averaging, which serves those
// triggers without a real-time thread).
inline constexpr uint32_t psi_window_max_us = 10'000'000;
inline constexpr uint32_t psi_unprivileged_window_us = 2'000'000;

// A write of `written` to /proc/pressure/{cpu,memory,io}, read as psi_write reads it:
// the first 32 bytes with the last of them replaced by the terminating NUL (write the
// NUL too: "some 150000 1000000" without it is read as a 100000 us window), then
// scanned as sscanf(buf, "some %u %u") (or "full") does: the word first, blanks
// anywhere between the numbers, unsigned decimal numbers that wrap at 32 bits,
// anything after the second one ignored. The window must be 1..10 s, for an
// unprivileged writer (no CAP_SYS_RESOURCE in its effective set) a multiple of 2 s;
// the threshold 1..window. 0 or the kernel's errno (EINVAL).
int parse_psi_trigger(std::string_view written, bool privileged, PsiTrigger& out);

// The trigger as the kernel reads it back: "some 150000 2000000".
std::string format_psi_trigger(const PsiTrigger& trigger);

}  // namespace ecifs::emulation
