#pragma once
// Writes to emulated sysctls, parsed and validated as the kernel's generic handlers
// (proc_dointvec, proc_douintvec, proc_doulongvec_minmax, proc_dostring) do it, so a
// write that fails on a real kernel fails here with the same errno, and one that
// succeeds reads back in the kernel's format.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "sysctl/table.hpp"

namespace ecifs::sysctl {

// Validate a write of `input` (the whole write(2) buffer, at file offset 0) to the file
// that `rule` describes. `current` is the file's text before the write (e.g. "7\n" or
// "4\t4\t1\t7\n"): a vector write of fewer values keeps the rest, and sticky rules
// (kernel.yama.ptrace_scope) look at it.
//
// On success returns 0 and sets `stored` to what a later read shows: numbers joined by
// '\t' with a trailing '\n'; a string followed by '\n'. An empty write changes nothing
// (stored = current). `consumed`, if given, receives the count write(2) returns on the
// kernel: numeric vectors leave unread whatever follows the last value they take
// ("5 abc" to an int file consumes 2 bytes). The kernel ignores a later numeric write at
// a non-zero offset (kernel.sysctl_writes_strict=1); that is the caller's to do.
//
// On failure returns the kernel's errno (EINVAL for garbage, out of range, a '+', a
// number running into other characters; EPERM for a locked value; EACCES for read-only
// and synthesized rows) and leaves `stored` alone. Unlike the kernel, which stores the
// elements of a vector one by one, a failed vector write changes nothing.
int validate_write(const Rule& rule, std::string_view input, std::string_view current, std::string& stored,
                   std::size_t* consumed = nullptr);

// After a successful write that turned `old_stored` into `new_stored`, the sibling the
// kernel sets to 0 ("0\n"), if any.
std::optional<std::string_view> sibling_to_zero(const Rule& rule, std::string_view old_stored,
                                                std::string_view new_stored);

// The first number of a sysctl's text ("4\t4\t1\t7\n" → 4), for rules that look at the
// current value; nullopt when there is none.
std::optional<int64_t> first_value(std::string_view text);

// The kernel's kstrtouint(text, 0, &value) (lib/kstrtox.c), which module parameters and
// other sysfs files parse writes with: an optional '+', a C literal (0x.. hex where a hex
// digit follows, 0.. octal, else decimal) and at most one '\n' after it; no blanks, no
// '-'. Returns 0, ERANGE when the number does not fit (checked before what follows it,
// as the kernel does), else EINVAL; `value` is set only on success.
int parse_kstrtouint(std::string_view text, unsigned& value);

}  // namespace ecifs::sysctl
