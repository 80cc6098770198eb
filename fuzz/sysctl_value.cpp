// A container's write to an emulated sysctl (sysctl/value.cpp), against every row of
// the table (sysctl/table.cpp), and the row look-up by path. The input is three parts cut
// at the first two newlines: the path under /proc/sys ("kernel/pid_max"; a path with no
// row picks a row by its length), the file's current value, and the bytes written.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "sysctl/table.hpp"
#include "sysctl/value.hpp"

namespace sysctl = ecifs::sysctl;

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

std::string_view take_line(std::string_view& text) {
    const auto nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    return line;
}

void write(const sysctl::Rule& rule, std::string_view input, const std::string& current) {
    std::string stored = "unchanged";
    std::size_t consumed = SIZE_MAX;
    const int err = sysctl::validate_write(rule, input, current, stored, &consumed);
    if (err) {
        check(stored == "unchanged");
        return;
    }
    // What a read shows afterwards: one line, ending in its newline (or nothing at all
    // for a string row written empty).
    check(consumed <= input.size());
    check(stored.empty() || stored.back() == '\n');
    (void)sysctl::sibling_to_zero(rule, current, stored);
    (void)sysctl::first_value(stored);
    // A one-number row takes back what it shows, unchanged (an empty write shows the
    // current text, whatever it is; a vector keeps the current text's other values; a row
    // with its own check or rounding may look at the value it had).
    if (rule.kind != sysctl::Kind::string && rule.count == 1 && !rule.extra_check && !rule.adjust && !input.empty()) {
        std::string again;
        check(sysctl::validate_write(rule, stored, stored, again) == 0 && again == stored);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    const std::string_view path = take_line(text);
    const std::string current = std::string(take_line(text)) + "\n";
    const std::string_view input = text;
    const auto rules = sysctl::rules();
    const sysctl::Rule* rule = sysctl::find_rule(path);
    if (!rule) rule = &rules[path.size() % rules.size()];
    write(*rule, input, current);
    (void)sysctl::first_value(current);
    unsigned value = 0;
    (void)sysctl::parse_kstrtouint(input, value);
    return 0;
}
