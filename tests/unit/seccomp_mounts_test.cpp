#include "seccomp/mounts.hpp"

#include <sys/mount.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

using namespace ecifs::seccomp;

std::string fixture(const char* name) {
    std::ifstream in(std::string(ECIFS_FIXTURES_DIR) + "/seccomp/" + name);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

std::vector<MountEntry> container_mounts() { return parse_mountinfo(fixture("container-mountinfo.txt")); }

TEST(SeccompMounts, KindFollowsTheKernelsOrder) {
    EXPECT_EQ(mount_kind(0), MountKind::new_fs);
    EXPECT_EQ(mount_kind(MS_NOSUID | MS_NODEV | MS_NOEXEC), MountKind::new_fs);
    EXPECT_EQ(mount_kind(MS_MGC_VAL | MS_RDONLY), MountKind::new_fs);  // the old magic is dropped
    EXPECT_EQ(mount_kind(MS_REMOUNT), MountKind::kernel);
    EXPECT_EQ(mount_kind(MS_REMOUNT | MS_BIND | MS_RDONLY), MountKind::kernel);
    EXPECT_EQ(mount_kind(MS_BIND), MountKind::bind);
    EXPECT_EQ(mount_kind(MS_BIND | MS_REC), MountKind::bind);
    EXPECT_EQ(mount_kind(MS_BIND | MS_PRIVATE), MountKind::bind);  // MS_BIND wins, as in path_mount
    EXPECT_EQ(mount_kind(MS_REC | MS_PRIVATE), MountKind::kernel);
    EXPECT_EQ(mount_kind(MS_SHARED), MountKind::kernel);
    EXPECT_EQ(mount_kind(MS_MOVE), MountKind::move);
    EXPECT_EQ(strip_magic(MS_MGC_VAL | MS_NOSUID), static_cast<uint64_t>(MS_NOSUID));
}

TEST(SeccompMounts, ViewsBelowAFilesystem) {
    const std::string_view views[] = {"proc/meminfo", "proc/uptime", "sys/devices/system/cpu/online", "proc/sys",
                                      "sys/kernel"};
    EXPECT_EQ(views_below("proc", views), (std::vector<std::string>{"meminfo", "uptime", "sys"}));
    EXPECT_EQ(views_below("sysfs", views), (std::vector<std::string>{"devices/system/cpu/online", "kernel"}));
    EXPECT_TRUE(views_below("tmpfs", views).empty());
    EXPECT_TRUE(carries_views_type("proc"));
    EXPECT_TRUE(carries_views_type("sysfs"));
    EXPECT_FALSE(carries_views_type("tmpfs"));
    EXPECT_FALSE(carries_views_type("procfs"));
}

TEST(SeccompMounts, NewMountAsFsconfigSeesIt) {
    NewMount m = translate_new_mount(MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=2,gid=5,subset=pid");
    ASSERT_EQ(m.options.size(), 3u);
    EXPECT_EQ(m.options[0].first, "hidepid");
    EXPECT_EQ(m.options[0].second, "2");
    EXPECT_EQ(m.options[2].first, "subset");
    EXPECT_TRUE(m.sb_flags.empty());
    EXPECT_EQ(m.attributes, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);  // relatime is 0
    EXPECT_FALSE(m.read_only);

    m = translate_new_mount(MS_RDONLY | MS_NOATIME | MS_SILENT, "flag,,k=");
    EXPECT_EQ(m.sb_flags, std::vector<std::string>{"ro"});
    EXPECT_EQ(m.attributes, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOATIME);
    EXPECT_TRUE(m.read_only);
    ASSERT_EQ(m.options.size(), 2u);
    EXPECT_EQ(m.options[0].second, std::nullopt);  // a flag
    EXPECT_EQ(m.options[1].second, "");            // an empty value

    m = translate_new_mount(MS_STRICTATIME | MS_NOATIME | MS_LAZYTIME | MS_NOSYMFOLLOW, "");
    EXPECT_EQ(m.attributes, MOUNT_ATTR_STRICTATIME | MOUNT_ATTR_NOSYMFOLLOW);
    EXPECT_EQ(m.sb_flags, std::vector<std::string>{"lazytime"});
}

TEST(SeccompMounts, ParsesARealContainersMountinfo) {
    const auto mounts = container_mounts();
    ASSERT_EQ(mounts.size(), 32u);
    EXPECT_EQ(mounts[1].id, 67u);
    EXPECT_EQ(mounts[1].parent, 66u);
    EXPECT_EQ(mounts[1].mount_point, "/proc");
    EXPECT_EQ(mounts[1].fstype, "proc");
    EXPECT_EQ(mounts[8].mount_point, "/proc/meminfo");
    EXPECT_EQ(mounts[8].root, "/proc/meminfo");
    EXPECT_EQ(mounts[8].source, "ecifs");
    EXPECT_TRUE(is_view(mounts[8]));
    EXPECT_FALSE(is_view(mounts[1]));
    EXPECT_EQ(mounts.back().mount_point, "/mnt/with space");  // \040 undone
    EXPECT_TRUE(parse_mountinfo("garbage\n\n12 x 0:1 / / rw - ext4 a rw\n").empty());
}

// The procfs at /mnt/p (53) as the trapper made it, with its views (42, 51, 52).
const std::vector<OwnMount> own_procfs = {{53, 0}, {42, 53}, {51, 53}, {52, 53}};

TEST(SeccompMounts, UmountOfViewsAndWhatCarriesThemIsBusy) {
    const auto mounts = container_mounts();
    EXPECT_EQ(classify_umount(mounts, 74, true, {}), Verdict::busy);  // /proc/meminfo
    EXPECT_EQ(classify_umount(mounts, 85, true, {}), Verdict::busy);  // /proc/sys
    EXPECT_EQ(classify_umount(mounts, 78, true, {}), Verdict::busy);  // /sys/kernel
    EXPECT_EQ(classify_umount(mounts, 67, true, {}), Verdict::busy);  // /proc
    EXPECT_EQ(classify_umount(mounts, 72, true, {}), Verdict::busy);  // /sys
    EXPECT_EQ(classify_umount(mounts, 53, true, {}), Verdict::busy);  // a procfs the daemon does not know
    EXPECT_EQ(classify_umount(mounts, 42, true, {}), Verdict::busy);  // and its views
    // Not ours: the kernel decides.
    EXPECT_EQ(classify_umount(mounts, 54, true, {}), Verdict::kernel_decides);  // a tmpfs
    EXPECT_EQ(classify_umount(mounts, 44, true, {}), Verdict::kernel_decides);  // /proc/bus (runc's)
    EXPECT_EQ(classify_umount(mounts, 70, true, {}), Verdict::kernel_decides);  // /dev/shm
    EXPECT_EQ(classify_umount(mounts, 999, true, {}), Verdict::kernel_decides);
    // Not a mount's root (e.g. /proc/sys/kernel): the kernel's EINVAL comes anyway.
    EXPECT_EQ(classify_umount(mounts, 85, false, {}), Verdict::kernel_decides);
}

// kernel.ns_last_pid, the kernel's own file, bound back over the /proc/sys view (85) by
// the runtime's hook: as locked as the view.
TEST(SeccompMounts, AKernelFileOnAViewIsBusy) {
    auto mounts = container_mounts();
    mounts.push_back({.id = 200, .parent = 85, .root = "/sys/kernel/ns_last_pid",
                      .mount_point = "/proc/sys/kernel/ns_last_pid", .fstype = "proc", .source = "proc"});
    // Not one of the kernel files, or not on a view: the kernel decides.
    mounts.push_back({.id = 201, .parent = 85, .root = "/sys/kernel/ostype",
                      .mount_point = "/proc/sys/kernel/ostype", .fstype = "proc", .source = "proc"});
    mounts.push_back({.id = 202, .parent = 54, .root = "/sys/kernel/ns_last_pid", .mount_point = "/tmp/x",
                      .fstype = "proc", .source = "proc"});
    EXPECT_EQ(classify_umount(mounts, 200, true, {}), Verdict::busy);
    EXPECT_EQ(classify_move(mounts, 200, true, {}), Verdict::locked);
    EXPECT_EQ(classify_umount(mounts, 201, true, {}), Verdict::kernel_decides);
    EXPECT_EQ(classify_umount(mounts, 202, true, {}), Verdict::kernel_decides);
    EXPECT_EQ(classify_umount(mounts, 200, true, std::vector<OwnMount>{{200, 0}}), Verdict::container_made);
}

TEST(SeccompMounts, WhatTheContainerMadeItMayUnmountAndMove) {
    const auto mounts = container_mounts();
    EXPECT_EQ(classify_umount(mounts, 53, true, own_procfs), Verdict::container_made);
    EXPECT_EQ(classify_umount(mounts, 42, true, own_procfs), Verdict::container_made);
    EXPECT_EQ(classify_move(mounts, 53, true, own_procfs), Verdict::container_made);
    // A mount below one the container made is the container's too.
    EXPECT_EQ(classify_umount(mounts, 42, true, std::vector<OwnMount>{{53, 0}}), Verdict::container_made);
    // The runtime's stay locked, whatever else the container made.
    EXPECT_EQ(classify_umount(mounts, 67, true, own_procfs), Verdict::busy);
    EXPECT_EQ(classify_umount(mounts, 74, true, own_procfs), Verdict::busy);
    EXPECT_EQ(classify_move(mounts, 67, true, own_procfs), Verdict::locked);
    EXPECT_EQ(classify_umount(mounts, 54, true, own_procfs), Verdict::kernel_decides);
}

TEST(SeccompMounts, MoveOfViewsIsRefusedAsForALockedMount) {
    const auto mounts = container_mounts();
    EXPECT_EQ(classify_move(mounts, 74, true, {}), Verdict::locked);
    EXPECT_EQ(classify_move(mounts, 67, true, {}), Verdict::locked);
    EXPECT_EQ(classify_move(mounts, 54, true, {}), Verdict::kernel_decides);
    EXPECT_EQ(classify_move(mounts, 74, false, {}), Verdict::kernel_decides);
}

TEST(SeccompMounts, ABindOfAProcWithViewsIsDressedWithThem) {
    const auto mounts = container_mounts();
    BindPlan plan = plan_bind(mounts, 67, "/proc", false);
    EXPECT_FALSE(plan.kernel);
    EXPECT_TRUE(plan.dress);
    EXPECT_EQ(plan.fstype, "proc");
    EXPECT_EQ(plan.fs_path, "/");
    std::vector<std::string> below;
    for (const auto& v : plan.views) below.push_back(v.below);
    EXPECT_EQ(below, (std::vector<std::string>{"meminfo", "uptime", "sys"}));
    EXPECT_EQ(plan.views[0].mount_point, "/proc/meminfo");

    plan = plan_bind(mounts, 72, "/sys/devices", false);  // cpu/online below
    ASSERT_EQ(plan.views.size(), 1u);
    EXPECT_EQ(plan.views[0].below, "system/cpu/online");
    EXPECT_EQ(plan.fs_path, "/devices");
    EXPECT_FALSE(plan_bind(mounts, 53, "/mnt/p", false).kernel);
    // No view at or below the path: a plain bind.
    EXPECT_TRUE(plan_bind(mounts, 67, "/proc/self", false).kernel);
    EXPECT_TRUE(plan_bind(mounts, 67, "/proc/1/ns", false).kernel);
    EXPECT_TRUE(plan_bind(mounts, 72, "/sys/fs", false).kernel);
    EXPECT_TRUE(plan_bind(mounts, 72, "/sys/devices/system/cpu/cpu0", false).kernel);
    EXPECT_TRUE(plan_bind(mounts, 67, "/proc/meminfo2", false).kernel);  // whole components
    EXPECT_TRUE(plan_bind(mounts, 66, "/", false).kernel);                // not a proc/sysfs
    // A view itself: a copy the container may unmount, nothing to dress.
    plan = plan_bind(mounts, 85, "/proc/sys", false);
    EXPECT_FALSE(plan.kernel);
    EXPECT_FALSE(plan.dress);
}

TEST(SeccompMounts, ARecursiveBindCopiesTheViewsAlong) {
    const auto mounts = container_mounts();
    BindPlan plan = plan_bind(mounts, 67, "/proc", true);
    EXPECT_FALSE(plan.kernel);
    EXPECT_FALSE(plan.dress);
    EXPECT_FALSE(plan_bind(mounts, 66, "/", true).kernel);  // / has /proc and its views below
    EXPECT_TRUE(plan_bind(mounts, 66, "/usr", true).kernel);
    EXPECT_TRUE(plan_bind(mounts, 68, "/dev", true).kernel);
}

// fuzz/mountinfo.cpp's first find: a bind of a path that is not absolute, on a mount at
// "/", threw std::out_of_range (a relative path counted as below "/" and lost its first
// character). Its input, minimized: one line with an empty root.
TEST(SeccompMounts, ARelativePathIsBelowNothing) {
    const auto mounts = parse_mountinfo("2 1 5:0  /  -  \n");
    ASSERT_EQ(mounts.size(), 1u);
    for (bool recursive : {true, false}) {
        EXPECT_NO_THROW(plan_bind(mounts, 2, mounts[0].root, recursive));
        EXPECT_NO_THROW(plan_bind(mounts, 2, "proc", recursive));
    }
}

TEST(SeccompMounts, UndressingTakesWhatEcifsPlacedDeepestFirst) {
    auto mounts = container_mounts();
    Undressing u = plan_undressing(mounts, 53, own_procfs);
    EXPECT_FALSE(u.busy);
    std::vector<uint64_t> ids;
    for (const auto* m : u.deepest_first) ids.push_back(m->id);
    std::sort(ids.begin(), ids.end());
    EXPECT_EQ(ids, (std::vector<uint64_t>{42, 51, 52}));
    // Something the container mounted on it (or on a view of it): busy, as the kernel says.
    mounts.push_back({60, 52, "/", "/mnt/p/sys/kernel", "tmpfs", "t"});
    EXPECT_TRUE(plan_undressing(mounts, 53, own_procfs).busy);
    // A view placed on a view goes first.
    mounts.back().fstype = "fuse.ecifs";
    auto nested = own_procfs;
    nested.push_back({60, 53});
    u = plan_undressing(mounts, 53, nested);
    ASSERT_FALSE(u.busy);
    ASSERT_EQ(u.deepest_first.size(), 4u);
    EXPECT_EQ(u.deepest_first.front()->id, 60u);
    // Nothing on it: nothing to take off.
    EXPECT_TRUE(plan_undressing(mounts, 54, own_procfs).deepest_first.empty());
}

TEST(SeccompMounts, TheRuntimesMasksBelowACopy) {
    const std::string masked[] = {"/proc/kcore", "/proc/acpi", "/sys/firmware", "/proc/bus/pci/x"};
    const std::string read_only[] = {"/proc/bus", "/proc/sys", "/proc/sysrq-trigger"};
    const std::string_view views[] = {"proc/meminfo", "proc/sys", "sys/kernel"};
    const auto masks = runtime_masks(masked, read_only, views);
    // runc's order, readonlyPaths first; /proc/sys is a view's (the shim drops it too).
    EXPECT_EQ(masks, (std::vector<Mask>{{"/proc/bus", true},
                                        {"/proc/sysrq-trigger", true},
                                        {"/proc/kcore", false},
                                        {"/proc/acpi", false},
                                        {"/sys/firmware", false},
                                        {"/proc/bus/pci/x", false}}));
    EXPECT_EQ(masks_below(masks, "proc", "/"), (std::vector<Mask>{{"bus", true},
                                                                  {"sysrq-trigger", true},
                                                                  {"kcore", false},
                                                                  {"acpi", false},
                                                                  {"bus/pci/x", false}}));
    EXPECT_EQ(masks_below(masks, "sysfs", "/"), (std::vector<Mask>{{"firmware", false}}));
    EXPECT_EQ(masks_below(masks, "proc", "/bus"), (std::vector<Mask>{{"pci/x", false}}));
    EXPECT_TRUE(masks_below(masks, "proc", "/busy").empty());
    EXPECT_TRUE(masks_below(masks, "tmpfs", "/").empty());
}

}  // namespace

TEST(CallerFdNamed, TheCallersOwnDescriptorsThroughItsProcfs) {
    using ecifs::seccomp::caller_fd_named;
    EXPECT_EQ(caller_fd_named("/proc/self/fd/6"), 6);
    EXPECT_EQ(caller_fd_named("/proc/thread-self/fd/12"), 12);
    for (const char* other : {"/proc/self/fd/", "/proc/self/fd/6/x", "/proc/self/fd/+6", "/proc/self/fd/-1",
                              "/proc/1/fd/6", "/proc/self/fdinfo/6", "proc/self/fd/6", "/proc/self/fd/6a",
                              "/proc/self/fd/99999999999", "/proc"})
        EXPECT_FALSE(caller_fd_named(other)) << other;
}
