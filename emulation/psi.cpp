// PSI triggers parsed as the kernel parses them (see psi.hpp).
#include "emulation/psi.hpp"

#include <cerrno>
#include <optional>

#include <fmt/format.h>

namespace ecifs::emulation {

namespace {

constexpr std::size_t psi_write_buffer = 32;  // psi_write's char buf[32]

// The kernel's isspace(): \t \n \v \f \r, space, and 0xa0 (its ctype table is Latin-1).
bool kernel_space(char c) {
    const auto u = static_cast<unsigned char>(c);
    return u == ' ' || (u >= '\t' && u <= '\r') || u == 0xa0;
}

void skip_spaces(std::string_view& s) {
    while (!s.empty() && kernel_space(s.front())) s.remove_prefix(1);
}

// vsscanf's %u: blanks, then at least one decimal digit (no sign); the value is
// simple_strtoull's, which wraps, stored in an unsigned int.
std::optional<uint32_t> scan_unsigned(std::string_view& s) {
    skip_spaces(s);
    if (s.empty() || s.front() < '0' || s.front() > '9') return std::nullopt;
    uint64_t value = 0;
    while (!s.empty() && s.front() >= '0' && s.front() <= '9') {
        value = value * 10 + static_cast<uint64_t>(s.front() - '0');
        s.remove_prefix(1);
    }
    return static_cast<uint32_t>(value);
}

// sscanf(text, "<word> %u %u", ...) == 2.
bool scan_trigger(std::string_view text, std::string_view word, PsiTrigger& out) {
    if (!text.starts_with(word)) return false;
    text.remove_prefix(word.size());
    const auto threshold = scan_unsigned(text);
    if (!threshold) return false;
    const auto window = scan_unsigned(text);
    if (!window) return false;
    out.threshold_us = *threshold;
    out.window_us = *window;
    return true;
}

}  // namespace

int parse_psi_trigger(std::string_view written, bool privileged, PsiTrigger& out) {
    if (written.empty()) return EINVAL;
    auto text = written.substr(0, std::min(written.size(), psi_write_buffer) - 1);
    text = text.substr(0, text.find('\0'));
    PsiTrigger trigger;
    if (scan_trigger(text, "some", trigger))
        trigger.full = false;
    else if (scan_trigger(text, "full", trigger))
        trigger.full = true;
    else
        return EINVAL;
    if (trigger.window_us == 0 || trigger.window_us > psi_window_max_us) return EINVAL;
    if (!privileged && trigger.window_us % psi_unprivileged_window_us != 0) return EINVAL;
    if (trigger.threshold_us == 0 || trigger.threshold_us > trigger.window_us) return EINVAL;
    out = trigger;
    return 0;
}

std::string format_psi_trigger(const PsiTrigger& trigger) {
    return fmt::format("{} {} {}", trigger.full ? "full" : "some", trigger.threshold_us, trigger.window_us);
}

}  // namespace ecifs::emulation
