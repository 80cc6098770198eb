#pragma once
// /proc/PID/mountinfo, one parser for every reader (cgroup resolution, the trapper).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ecifs::sys {

// One line of mountinfo (Documentation/filesystems/proc.rst, 3.5):
//   36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
// with the kernel's \ooo escapes (space, tab, newline, backslash) undone in every string.
// Option lists are split at their commas before unescaping, so an escaped comma stays
// inside its option.
struct MountInfo {
    uint64_t mount_id = 0, parent_id = 0;
    unsigned major = 0, minor = 0;
    std::string root;         // the mount's root inside its filesystem
    std::string mount_point;  // relative to the reader's root
    std::vector<std::string> options;          // per-mount: "rw", "noatime"
    std::vector<std::string> optional_fields;  // "shared:1", "master:2"; often none
    std::string fstype, source;
    std::vector<std::string> super_options;  // per-superblock: "rw", "errors=continue"
};

// One line; nullopt when it is not a mountinfo line (too few fields, no " - " separator,
// ids or major:minor not numbers).
std::optional<MountInfo> parse_mountinfo_line(std::string_view line);
// Every well-formed line of `text`; malformed lines are skipped.
std::vector<MountInfo> parse_mountinfo(std::string_view text);

// A mountinfo field with its \ooo escapes undone ("with\040space" → "with space").
std::string unescape_mountinfo(std::string_view field);

}  // namespace ecifs::sys
