#include "sys/mountinfo.hpp"

#include <algorithm>

#include "sys/text.hpp"

namespace ecifs::sys {

namespace {

bool is_octal_digit(char c) { return c >= '0' && c <= '7'; }

std::vector<std::string> unescaped_list(std::string_view list) {
    std::vector<std::string> items;
    for (const auto item : split_on(list, ',')) items.push_back(unescape_mountinfo(item));
    return items;
}

// "8:1" as major and minor.
bool parse_device(std::string_view field, MountInfo& m) {
    const auto colon = field.find(':');
    if (colon == std::string_view::npos) return false;
    const auto major = whole_number<unsigned>(field.substr(0, colon));
    const auto minor = whole_number<unsigned>(field.substr(colon + 1));
    if (!major || !minor) return false;
    m.major = *major;
    m.minor = *minor;
    return true;
}

}  // namespace

std::string unescape_mountinfo(std::string_view field) {
    std::string out;
    out.reserve(field.size());
    for (std::size_t i = 0; i < field.size(); ++i) {
        const auto code = field.substr(i + 1, 3);
        if (field[i] == '\\' && code.size() == 3 && std::all_of(code.begin(), code.end(), is_octal_digit)) {
            out.push_back(static_cast<char>((code[0] - '0') * 64 + (code[1] - '0') * 8 + (code[2] - '0')));
            i += 3;
        } else {
            out.push_back(field[i]);
        }
    }
    return out;
}

std::optional<MountInfo> parse_mountinfo_line(std::string_view line) {
    // Single spaces separate the fields (escapes keep blanks out of them), so an empty
    // field (a mount whose source is "") stays in its place. The optional fields run up
    // to a lone "-".
    const auto fields = split_on(line, ' ');
    const auto first_optional = fields.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(fields.size(), 6));
    const auto dash = std::find(first_optional, fields.end(), "-");
    if (fields.size() < 6 || fields.end() - dash < 3) return std::nullopt;
    MountInfo m;
    const auto id = whole_number<uint64_t>(fields[0]);
    const auto parent = whole_number<uint64_t>(fields[1]);
    if (!id || !parent || !parse_device(fields[2], m)) return std::nullopt;
    m.mount_id = *id;
    m.parent_id = *parent;
    m.root = unescape_mountinfo(fields[3]);
    m.mount_point = unescape_mountinfo(fields[4]);
    m.options = unescaped_list(fields[5]);
    for (auto it = first_optional; it != dash; ++it) m.optional_fields.push_back(unescape_mountinfo(*it));
    m.fstype = unescape_mountinfo(dash[1]);
    m.source = unescape_mountinfo(dash[2]);
    if (dash + 3 != fields.end()) m.super_options = unescaped_list(dash[3]);
    return m;
}

std::vector<MountInfo> parse_mountinfo(std::string_view text) {
    std::vector<MountInfo> mounts;
    for_each_line(text, [&](std::string_view line) {
        if (auto m = parse_mountinfo_line(line)) mounts.push_back(std::move(*m));
    });
    return mounts;
}

}  // namespace ecifs::sys
