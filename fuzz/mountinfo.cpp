// /proc/PID/mountinfo as the trapper and the cgroup resolver read it (sys/mountinfo.cpp),
// and the trapper's pure decisions over the table (seccomp/mounts.cpp): umount, MS_MOVE,
// bind and undressing plans for every mount of the table, the masks below each proc or
// sysfs, and the new-mount translation of each line's options. The input is the table
// itself; the arguments of the decisions are taken from its own lines.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "seccomp/mounts.hpp"
#include "sys/mountinfo.hpp"

namespace sc = ecifs::seccomp;

namespace {

// The decisions for one mount of the table, the mounts before it taken as the container's.
void decide(const std::vector<sc::MountEntry>& mounts, std::size_t i) {
    const sc::MountEntry& m = mounts[i];
    std::vector<sc::OwnMount> own;
    for (std::size_t j = 0; j < i; ++j) own.push_back({mounts[j].id, j % 2 ? mounts[j].parent : 0});
    for (bool root : {true, false}) {
        (void)sc::classify_umount(mounts, m.id, root, own);
        (void)sc::classify_move(mounts, m.id, root, own);
    }
    for (bool recursive : {true, false}) {
        (void)sc::plan_bind(mounts, m.id, m.mount_point, recursive);
        (void)sc::plan_bind(mounts, m.id, m.root, recursive);
    }
    (void)sc::plan_undressing(mounts, m.id, own);
    const std::vector<sc::Mask> masks = {{m.mount_point, false}, {m.root, true}, {"/proc/kcore", false}};
    (void)sc::masks_below(masks, m.fstype, m.root);
    (void)sc::translate_new_mount(m.id ^ m.parent, m.source);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    for (const auto& info : ecifs::sys::parse_mountinfo(text)) (void)ecifs::sys::unescape_mountinfo(info.source);
    const std::vector<sc::MountEntry> mounts = sc::parse_mountinfo(text);
    // Quadratic and worse in the table's size, as the trapper is: a few dozen lines are
    // what a container's table holds, and what the fuzzer needs to find the corners.
    for (std::size_t i = 0; i < mounts.size() && i < 64; ++i) decide(mounts, i);
    std::vector<std::string_view> views;
    for (const auto& m : mounts) views.push_back(m.mount_point);
    std::vector<std::string> paths;
    for (const auto& m : mounts) paths.push_back(m.root);
    (void)sc::runtime_masks(paths, paths, views);
    for (const auto& m : mounts) (void)sc::views_below(m.fstype, views);
    return 0;
}
